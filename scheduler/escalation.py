"""Sweeps for hazards: escalate what is overdue, drop reports left idle.

Each sweep reads only what is due (an indexed range on ``next_escalation_at``)
and writes its alerts to the outbox in the same transaction that moves the
hazard's escalation state on, so a crash between the two cannot lose or
double an alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category, escalation_policy
from content.render import Renderer
from domain.delivery import OutboxStatus
from domain.escalation import SeverityPolicy, escalate_due
from domain.hazard import OPEN_STATES, HazardState, Severity
from domain.org import Role, UnitKind
from scheduler.timetable import SweepFunction
from services.buttons import pack
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.db import Database
from storage.models import GroupChat, Hazard, Person, Unit

# Whose phones ring at each level above the team.
LEVEL_ROLES: dict[UnitKind, tuple[Role, ...]] = {
    UnitKind.WORKSHOP: (Role.SAFETY_OFFICER, Role.MANAGER),
    UnitKind.ENTERPRISE: (Role.MANAGER,),
    UnitKind.AUTHORITY: (Role.MANAGER, Role.ADMIN),
}
ALERT_PURPOSE = "hazard.escalation"
# How far back a sweep looks for alerts the outbox gave up on (403 after queueing).
UNDELIVERED_LOOKBACK = timedelta(days=1)
BATCH = 500
MAX_BATCHES = 1000


class _OrgCache:
    """Units, chains, role holders and group chats, read once per sweep batch.

    Hundreds of due hazards share a handful of teams and workshops; asking the
    database again for each would make the sweep cost what is stored per unit.
    """

    def __init__(self, session: AsyncSession, renderer: Renderer) -> None:
        self.session = session
        self.renderer = renderer
        self._labels: dict[tuple[str, str], str] = {}
        self._units: dict[int, Unit | None] = {}
        self._chains: dict[int, list[Unit]] = {}
        self._holders: dict[tuple[int, tuple[Role, ...]], list[Person]] = {}
        self._chats: dict[int, GroupChat | None] = {}

    async def unit(self, unit_id: int) -> Unit | None:
        if unit_id not in self._units:
            self._units[unit_id] = await org_repo.get_unit(self.session, unit_id)
        return self._units[unit_id]

    async def chain(self, unit: Unit) -> list[Unit]:
        key = unit.id or 0
        if key not in self._chains:
            self._chains[key] = await org_repo.ancestors(self.session, unit)
        return self._chains[key]

    async def holders(self, unit_id: int, roles: tuple[Role, ...]) -> list[Person]:
        key = (unit_id, roles)
        if key not in self._holders:
            rows = await org_repo.role_holders(self.session, [unit_id], roles)
            self._holders[key] = [person for person, _grant in rows]
        return self._holders[key]

    def label(self, key: str, lang: str) -> str:
        """A constant plain text (severity, level and button names) rendered once."""
        if (key, lang) not in self._labels:
            self._labels[(key, lang)] = self.renderer.plain(key, lang)
        return self._labels[(key, lang)]

    async def chat(self, unit_id: int) -> GroupChat | None:
        if unit_id not in self._chats:
            self._chats[unit_id] = await org_repo.chat_of_unit(self.session, unit_id)
        return self._chats[unit_id]


def escalation_sweep(db: Database, renderer: Renderer, default_language: str,
                     wake: Callable[[], None]) -> SweepFunction:
    """A sweep that alerts the next levels up for every overdue open hazard."""

    async def sweep(now: datetime) -> None:
        # First the levels whose alerts all failed after they were queued, so the
        # due batches below read the hazards' levels as they now stand.
        async with db.transaction() as session:
            work = _Batch()
            await _follow_undelivered(work, _OrgCache(session, renderer), now,
                                      default_language)
            await work.write(session, now)
        if work.alerts:
            wake()
        # Batches, each its own transaction; every processed hazard's next time moves past
        # "now", so the loop ends (the cap only guards against a bug doing otherwise).
        for _ in range(MAX_BATCHES):
            async with db.transaction() as session:
                due = await hazard_repo.due_for_escalation(session, now, limit=BATCH)
                cache = _OrgCache(session, renderer)
                work = _Batch()
                for hazard in due:
                    await _escalate(work, cache, hazard, now, default_language)
                await work.write(session, now)
            if work.alerts:
                wake()
            if len(due) < BATCH:
                break

    return sweep


@dataclass
class _Batch:
    """What one batch will write."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[outbox_repo.Outgoing] = field(default_factory=list)

    def event(self, hazard: Hazard, now: datetime, action: str, **detail: Any) -> None:
        self.events.append({"hazard_id": hazard.id, "at": now, "action": action,
                            "detail": detail})

    async def write(self, session: AsyncSession, now: datetime) -> None:
        """Write alerts, history and the hazards' new escalation state together.

        All in the caller's transaction, each kind in one statement, so a crash can
        neither lose nor double an alert.
        """
        await hazard_repo.update_many(session, self.updates)
        await hazard_repo.record_events(session, self.events)
        await outbox_repo.enqueue_many(session, self.alerts, now=now)


async def _escalate(work: _Batch, cache: _OrgCache, hazard: Hazard, now: datetime,
                    default_language: str) -> None:
    if HazardState(hazard.state) not in OPEN_STATES or hazard.watch_deadline is None:
        work.updates.append({"id": hazard.id, "next_escalation_at": None})
        return
    policy = escalation_policy().for_severity(Severity(hazard.severity))
    step = escalate_due(policy, hazard.watch_deadline, alerted_level=hazard.alerted_level,
                        last_alert_at=hazard.last_alert_at, now=now)
    top = await _alert_levels(work, cache, hazard, policy, list(step.alert_levels),
                              step.alerted_level, now, default_language)
    work.updates.append({"id": hazard.id, "alerted_level": top,
                         "last_alert_at": step.last_alert_at,
                         "next_escalation_at": step.next_at})


async def _alert_levels(work: _Batch, cache: _OrgCache, hazard: Hazard, policy: SeverityPolicy,
                        levels: list[int], top: int, now: datetime, default_language: str,
                        **why: Any) -> int:
    """Alert ``levels`` of the policy; return the highest level alerted (at least ``top``).

    A level nobody can be told at adds the one above it, so an alert never fails
    silently while someone higher up could still hear of it.
    """
    team = await cache.unit(hazard.team_unit_id)
    owner = await cache.unit(hazard.unit_id)
    chain = await cache.chain(owner) if owner else []
    for index in levels:  # grows when a level cannot be reached
        level = policy.levels[index]
        target = next((u for u in reversed(chain) if u.kind == level.unit.value), None)
        if target is None:
            work.event(hazard, now, "escalation_skipped", level=level.unit.value,
                       why="no such unit above the team")
            continue
        earlier = [policy.levels[i].unit for i in range(index)]
        level_alerts, unreachable = await _alert(cache, hazard, team, target, index, earlier,
                                                 now, default_language)
        work.alerts += level_alerts
        work.event(hazard, now, "escalated", level=level.unit.value, unit=target.key,
                   watch=hazard.watch, recipients=len(level_alerts), unreachable=unreachable,
                   **why)
        top = max(top, index)
        if not level_alerts and index + 1 < len(policy.levels) and index + 1 not in levels:
            # Nobody here can be told (never started the bot, blocked it, group removed):
            # the next level up hears of it now instead of the alert failing silently.
            levels.append(index + 1)
            top = max(top, index + 1)
    return top


async def _follow_undelivered(work: _Batch, cache: _OrgCache, now: datetime,
                              default_language: str) -> None:
    """Alert the next level at once when every alert of a level failed for good.

    The sweep skips people it knows cannot be reached, but someone may block the
    bot, or a group remove it, after the alert was queued: the outbox then gives up
    (403) and, without this, the hazard would wait for the next repeat unheard.
    """
    failed = await outbox_repo.failed_since(cache.session, purpose=ALERT_PURPOSE,
                                            since=now - UNDELIVERED_LOOKBACK)
    batches: dict[tuple[int, str, int, str], datetime] = {}
    for row in failed:
        parts = (row.dedupe_key or "").split(":")
        if len(parts) == 6 and parts[0] == "escalation" and parts[1].isdigit() \
                and parts[3].isdigit():
            batches.setdefault((int(parts[1]), parts[2], int(parts[3]), parts[4]),
                               row.created_at)
    for (hazard_id, watch, index, stamp), queued_at in batches.items():
        hazard = await hazard_repo.get_hazard(cache.session, hazard_id)
        if hazard is None or HazardState(hazard.state) not in OPEN_STATES \
                or hazard.watch != watch or hazard.alerted_level != index:
            continue  # dealt with since, or a later level already alerted
        policy = escalation_policy().for_severity(Severity(hazard.severity))
        if index + 1 >= len(policy.levels):
            continue
        statuses = await outbox_repo.statuses_of_batch(
            cache.session, purpose=ALERT_PURPOSE, created_at=queued_at,
            key_prefix=_level_key(hazard_id, watch, index, stamp))
        if any(status != OutboxStatus.FAILED.value for status in statuses):
            continue  # someone at that level got it (or still may)
        top = await _alert_levels(work, cache, hazard, policy, [index + 1], index, now,
                                  default_language,
                                  undelivered=policy.levels[index].unit.value)
        # Even if that level has no unit to alert, this batch of failures is dealt with.
        work.updates.append({"id": hazard.id, "alerted_level": max(top, index + 1)})


def _level_key(hazard_id: int, watch: str | None, index: int, stamp: int | str) -> str:
    """The start of the dedupe key of one level's alerts (the chat id follows)."""
    return f"escalation:{hazard_id}:{watch}:{index}:{stamp}:"


async def _alert(cache: _OrgCache, hazard: Hazard, team: Unit | None, target: Unit,
                 index: int, earlier: list[UnitKind], now: datetime,
                 default_language: str) -> tuple[list[outbox_repo.Outgoing], list[str]]:
    """The alert for one level: to its role holders privately and to its group.

    Returns the messages and who could not be reached.
    """
    chats, unreachable = org_repo.reachable(
        await cache.holders(target.id or 0, LEVEL_ROLES[UnitKind(target.kind)]), target,
        await cache.chat(target.id or 0), default_language)
    stamp = int(now.timestamp())
    alerts = []
    for chat_id, (lang, person_id) in chats.items():
        found = category(hazard.category)
        separator = "、" if lang == "zh" else ", "
        html = cache.renderer.html(
            "hazard.escalation", lang, code=hazard.code,
            severity=cache.label(f"severity.{hazard.severity}", lang),
            team=team.name if team else "", watch=hazard.watch, deadline=hazard.watch_deadline,
            category=found.name(lang) if found else hazard.category,
            location=hazard.location_text or "",
            earlier=separator.join(cache.label(f"kind.{k.value}", lang) for k in earlier))
        markup = {"inline_keyboard": [[
            {"text": cache.label("button.ack", lang),
             "callback_data": pack("hz", "ack", hazard.id or 0)},
            {"text": cache.label("button.open", lang),
             "callback_data": pack("hz", "show", hazard.id or 0)}]]}
        key = f"{_level_key(hazard.id or 0, hazard.watch, index, stamp)}{chat_id}"
        for params, part_key in outbox_repo.text_parts(html=html, reply_markup=markup,
                                                       dedupe_key=key):
            alerts.append(outbox_repo.Outgoing(chat_id=chat_id, params=params,
                                               purpose=ALERT_PURPOSE,
                                               dedupe_key=part_key or key,
                                               person_id=person_id))
    return alerts, unreachable
