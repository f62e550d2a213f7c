"""Sweeps for hazards: escalate what is overdue, drop reports left idle.

Each sweep reads only what is due (an indexed range on ``next_escalation_at``)
and writes its alerts to the outbox in the same transaction that moves the
hazard's escalation state on, so a crash between the two cannot lose or
double an alert.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category, escalation_policy
from content.render import Renderer
from domain.escalation import escalate_due
from domain.hazard import OPEN_STATES, HazardState, Severity
from domain.org import Role, UnitKind
from handlers.callbacks import pack
from scheduler.timetable import SweepFunction
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import GroupChat, Hazard, Unit

# Whose phones ring at each level above the team.
LEVEL_ROLES: dict[UnitKind, tuple[Role, ...]] = {
    UnitKind.WORKSHOP: (Role.SAFETY_OFFICER, Role.MANAGER),
    UnitKind.ENTERPRISE: (Role.MANAGER,),
    UnitKind.AUTHORITY: (Role.MANAGER, Role.ADMIN),
}
DRAFT_IDLE = timedelta(minutes=15)


def escalation_sweep(db: Database, renderer: Renderer, default_language: str,
                     wake: Callable[[], None]) -> SweepFunction:
    """A sweep that alerts the next levels up for every overdue open hazard."""

    async def sweep(now: datetime) -> None:
        sent = False
        async with db.transaction() as session:
            for hazard in await hazard_repo.due_for_escalation(session, now):
                sent |= await _escalate(session, hazard, now, renderer, default_language)
        if sent:
            wake()

    return sweep


async def _escalate(session: AsyncSession, hazard: Hazard, now: datetime, renderer: Renderer,
                    default_language: str) -> bool:
    if HazardState(hazard.state) not in OPEN_STATES or hazard.watch_deadline is None:
        hazard.next_escalation_at = None
        session.add(hazard)
        return False
    policy = escalation_policy().for_severity(Severity(hazard.severity))
    step = escalate_due(policy, hazard.watch_deadline, alerted_level=hazard.alerted_level,
                        last_alert_at=hazard.last_alert_at, now=now)
    team = await org_repo.get_unit(session, hazard.team_unit_id)
    owner = await org_repo.get_unit(session, hazard.unit_id)
    chain = await org_repo.ancestors(session, owner) if owner else []
    queued = False
    for index in step.alert_levels:
        level = policy.levels[index]
        target = next((u for u in reversed(chain) if u.kind == level.unit.value), None)
        earlier = [policy.levels[i].unit for i in range(index)]
        if target is None:
            await hazard_repo.record_event(session, hazard, at=now, actor_id=None,
                                           action="escalation_skipped",
                                           detail={"level": level.unit.value,
                                                   "why": "no such unit above the team"})
            continue
        reached = await _alert(session, hazard, team, target, index, earlier, now, renderer,
                               default_language)
        queued |= bool(reached)
        await hazard_repo.record_event(session, hazard, at=now, actor_id=None,
                                       action="escalated",
                                       detail={"level": level.unit.value, "unit": target.key,
                                               "watch": hazard.watch, "recipients": reached})
    hazard.alerted_level = step.alerted_level
    hazard.last_alert_at = step.last_alert_at
    hazard.next_escalation_at = step.next_at
    session.add(hazard)
    return queued


async def _alert(session: AsyncSession, hazard: Hazard, team: Unit | None, target: Unit,
                 index: int, earlier: list[UnitKind], now: datetime, renderer: Renderer,
                 default_language: str) -> int:
    """Queue the alert for one level; returns how many chats it was queued to."""
    holders = await org_repo.role_holders(session, [target.id or 0],
                                          LEVEL_ROLES[UnitKind(target.kind)])
    chats: dict[int, tuple[str, int | None]] = {}
    for person, _grant in holders:
        if person.started and not person.blocked:
            chats.setdefault(person.telegram_id, (person.language or default_language,
                                                  person.id))
    group = await org_repo.chat_of_unit(session, target.id or 0)
    if group is not None and group.active:
        chats.setdefault(group.chat_id, (org_repo.unit_language(target, group,
                                                                default_language), None))
    stamp = int(now.timestamp())
    for chat_id, (lang, person_id) in chats.items():
        found = category(hazard.category)
        html = renderer.html(
            "hazard.escalation", lang, code=hazard.code,
            severity=renderer.plain(f"severity.{hazard.severity}", lang),
            team=team.name if team else "", watch=hazard.watch, deadline=hazard.watch_deadline,
            category=found.name(lang) if found else hazard.category,
            location=hazard.location_text or "",
            earlier="、".join(renderer.plain(f"kind.{k.value}", lang) for k in earlier)
            if lang == "zh" else ", ".join(renderer.plain(f"kind.{k.value}", lang)
                                           for k in earlier))
        markup = {"inline_keyboard": [[
            {"text": renderer.plain("button.ack", lang),
             "callback_data": pack("hz", "ack", hazard.id or 0)},
            {"text": renderer.plain("button.open", lang),
             "callback_data": pack("hz", "show", hazard.id or 0)}]]}
        await outbox_repo.enqueue_text(
            session, chat_id=chat_id, html=html, now=now, purpose="hazard.escalation",
            reply_markup=markup, person_id=person_id,
            dedupe_key=f"escalation:{hazard.id}:{hazard.watch}:{index}:{stamp}:{chat_id}")
    return len(chats)


def idle_draft_sweep(db: Database, renderer: Renderer, default_language: str,
                     wake: Callable[[], None]) -> SweepFunction:
    """A sweep that drops reports nobody touched for 15 minutes, and says so."""

    async def sweep(now: datetime) -> None:
        async with db.transaction() as session:
            drafts = await hazard_repo.idle_drafts(session, now - DRAFT_IDLE)
            for draft in drafts:
                people = await people_repo.people_by_ids(session, [draft.person_id])
                lang = people[0].language if people and people[0].language \
                    else default_language
                if draft.chat_id < 0:
                    group, unit = await _group(session, draft.chat_id)
                    lang = org_repo.unit_language(unit, group, default_language)
                await outbox_repo.enqueue_text(
                    session, chat_id=draft.chat_id, html=renderer.html("report.dropped_idle", lang),
                    now=now, purpose="report.dropped",
                    dedupe_key=f"draft-dropped:{draft.id}:{int(draft.updated_at.timestamp())}")
                await hazard_repo.drop_draft(session, draft)
        if drafts:
            wake()

    return sweep


async def _group(session: AsyncSession, chat_id: int) -> tuple[GroupChat | None, Unit | None]:
    group = await org_repo.get_group_chat(session, chat_id)
    unit = await org_repo.get_unit(session, group.unit_id) if group and group.unit_id else None
    return group, unit

