"""Stop work / evacuate (停工撤人): the alert, "I am safe", the roll call, who is missing.

A team's leader (team leader or above over the team, or a bot admin) starts an
evacuation in the team group: the group gets the alert with an "I am safe"
button at once, and the managers and safety officers of the workshop and the
enterprise are told privately at once (no delay level). Each member's answer is
stored once and the alert's roll call is edited in place, throttled like a
briefing's (``EDIT_EVERY``). After ``EVACUATE_MISSING_AFTER`` the leader and the
workshop are told, once, who has not answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.org import Role, UnitKind, has_role_over
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard, no_keyboard
from services.roll_call_edits import show_roll_call
from storage import evacuations as evac_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import training as training_repo
from storage.models import Evacuation, GroupChat, OutboxMessage, Person, Unit

KIND = "evacuation"  # the training record's kind ("drill" is the drills')
# Who above the team is told at once, at each level up to the enterprise.
UP_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER)
UP_KINDS = (UnitKind.WORKSHOP, UnitKind.ENTERPRISE)
ALERT_PURPOSE = "evacuation.alert"


@dataclass(frozen=True)
class EvacuationButton(Button, prefix="ev"):
    """The alert's buttons: ``ev:safe:ID`` (I am safe), ``ev:end:ID`` (leaders end it)."""

    action: Literal["safe", "end"]
    evacuation_id: int


def alert_buttons(renderer: Renderer, lang: str, evacuation_id: int) -> dict[str, Any]:
    """The "I am safe" button, and the leaders' "end" button, under the alert."""
    return keyboard([
        [(renderer.plain("button.evacuate_safe", lang), EvacuationButton("safe", evacuation_id))],
        [(renderer.plain("button.evacuate_end", lang), EvacuationButton("end", evacuation_id))]])


def _may_lead(grants: Any, unit: Unit, actor: Actor) -> bool:
    return actor.is_bot_admin or has_role_over(grants, unit.path, Role.TEAM_LEADER)


async def _starter(session: AsyncSession, evacuation: Evacuation) -> Person | None:
    found = await people_repo.people_by_ids(session, [evacuation.started_by])
    return found[0] if found else None


# ------------------------------------------------------------------ start


async def start(rt: Runtime, actor: Actor, unit: Unit, group: GroupChat,
                reason: str | None) -> Outcome:
    """Start an evacuation of ``unit`` from its group: the alert, and the levels above.

    Refused for anyone below team leader over the team, and while one is active.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        if not _may_lead(await org_repo.grants_of(session, actor.person_id), unit, actor):
            return Outcome.refused("evacuate.leaders_only")
        active = await evac_repo.active_in(session, unit.id or 0)
        if active is not None:
            return await _already_active(session, rt, unit, active)
        lang = org_repo.unit_language(unit, group, rt.default_language)
        zone = unit.timezone or rt.default_timezone
        reason = (reason or "").strip()[:500] or None
        html = rt.renderer.html("evacuate.alert", lang, unit=unit.name, who=actor.name,
                                reason=reason, at=now, tz=zone)
        evacuation = await evac_repo.create(
            session, unit_id=unit.id or 0, chat_id=group.chat_id, group_chat_id=group.id or 0,
            started_by=actor.person_id, reason=reason, language=lang, alert_html=html,
            started_at=now)
        if evacuation is None:  # another leader's, a moment ago: the database kept one
            return await _already_active(session, rt, unit,
                                         await evac_repo.active_in(session, unit.id or 0))
        members = len(await _members(session, evacuation))
        rows = await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id,
            html=with_roll_call(rt.renderer, evacuation, [], members),
            now=now, purpose=ALERT_PURPOSE,
            reply_markup=alert_buttons(rt.renderer, lang, evacuation.id or 0),
            dedupe_key=f"evacuation:{evacuation.id}")
        evacuation.alert_outbox_id = rows[-1].id if rows else None
        session.add(evacuation)
        queued = len(rows) + await _tell_above(session, rt, evacuation, unit, actor.name, now)
    rt.wake()
    return Outcome.done("evacuate.started", queued=queued, number=evacuation.id)


async def _already_active(session: AsyncSession, rt: Runtime, unit: Unit,
                          active: Evacuation | None) -> Outcome:
    """The refusal of a second evacuation, naming the active one."""
    if active is None:  # ended again in the meantime: the leader may simply send it again
        return Outcome.refused("callback.stale")
    starter = await _starter(session, active)
    return Outcome.refused("evacuate.already_active", who=starter.name if starter else "",
                           at=active.started_at, tz=unit.timezone or rt.default_timezone,
                           number=active.id)


async def _tell_above(session: AsyncSession, rt: Runtime, evacuation: Evacuation, unit: Unit,
                      who: str, now: datetime) -> int:
    """The managers and safety officers of the workshop and enterprise, privately at once.

    Those who never pressed Start (or blocked the bot) cannot be written to: the
    level's own group hears instead, as hazard escalation does.
    """
    queued = 0
    zone = unit.timezone or rt.default_timezone
    for level in reversed(await org_repo.ancestors(session, unit)):
        if level.id == unit.id or UnitKind(level.kind) not in UP_KINDS:
            continue
        holders = [person for person, _ in
                   await org_repo.role_holders(session, [level.id or 0], UP_ROLES)]
        chats, _ = org_repo.reachable(holders, level, await org_repo.chat_of_unit(
            session, level.id or 0), rt.default_language)
        for chat_id, (lang, person_id) in chats.items():
            html = rt.renderer.html("evacuate.alert_up", lang, unit=unit.name, who=who,
                                    reason=evacuation.reason, at=now, tz=zone)
            queued += len(await outbox_repo.enqueue_text(
                session, chat_id=chat_id, html=html, now=now, purpose="evacuation.up",
                person_id=person_id, dedupe_key=f"evacuation-up:{evacuation.id}:{chat_id}"))
    return queued


# ------------------------------------------------------------------ roll call


def with_roll_call(renderer: Renderer, evacuation: Evacuation, names: list[str],
                   members: int) -> str:
    """The alert with who answered "I am safe" so far."""
    return evacuation.alert_html + "\n" + renderer.html(
        "evacuate.roll_call", evacuation.language, names=names, count=len(names),
        members=members)


async def _members(session: AsyncSession, evacuation: Evacuation) -> list[Person]:
    return await org_repo.active_members(session, evacuation.group_chat_id)


async def alert_message(session: AsyncSession, evacuation: Evacuation) -> OutboxMessage | None:
    """The outbox row of the alert (the message with the buttons)."""
    if evacuation.alert_outbox_id is None:
        return None
    return await session.get(OutboxMessage, evacuation.alert_outbox_id)


async def refresh_roll_call(session: AsyncSession, renderer: Renderer, evacuation: Evacuation,
                            now: datetime) -> bool:
    """Show a new answer: queue an edit of the alert, or mark the roll call dirty when
    one was queued within ``EDIT_EVERY`` (the roll-call sweep shows it). True if queued.
    """
    async def queue_edit(row: OutboxMessage, number: int) -> None:
        names = [p.name for p in await evac_repo.safe_people(session, evacuation.id or 0)]
        members = len(await _members(session, evacuation))
        await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText", params={
            "message_id": row.telegram_message_id, "parse_mode": "HTML",
            "text": with_roll_call(renderer, evacuation, names, members),
            "reply_markup": alert_buttons(renderer, evacuation.language, evacuation.id or 0)},
            now=now, purpose="evacuation.roll_call_edit",
            dedupe_key=f"evacuation-roll-edit:{evacuation.id}:{number}")

    return await show_roll_call(
        session, evacuation, now, message=lambda: alert_message(session, evacuation),
        mark_dirty=evac_repo.mark_roll_call_dirty, claim=evac_repo.claim_roll_call_edit,
        queue_edit=queue_edit)


# ------------------------------------------------------------------ the buttons


async def press_safe(rt: Runtime, actor: Actor, evacuation_id: int, *, chat_id: int | None,
                     in_group: bool) -> Outcome:
    """Record "I am safe" once; refused for someone outside the team and once it ended.

    ``chat_id`` is where the button was pressed and ``in_group`` whether Telegram
    says the presser is a member there: a forwarded alert is not the team's.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        evacuation = await evac_repo.get(session, evacuation_id)
        if evacuation is None:
            return Outcome.refused("callback.stale")
        if evacuation.ended_at is not None:
            return Outcome.refused("evacuate.over")
        if chat_id != evacuation.chat_id or not in_group:
            if chat_id == evacuation.chat_id:
                await _not_a_member(session, evacuation, actor.person_id, now)
            return Outcome.refused("evacuate.not_in_team")
        if not await evac_repo.mark_safe(session, evacuation_id, actor.person_id, now):
            return Outcome.done("evacuate.already_safe")
        unit = await org_repo.get_unit(session, evacuation.unit_id)
        await training_repo.record(
            session, person_id=actor.person_id, unit_id=evacuation.unit_id, kind=KIND,
            subject=f"{unit.name if unit else ''} #{evacuation_id}", result="safe", at=now,
            detail=evacuation.reason, dedupe_key=f"evacuation:{evacuation_id}:{actor.person_id}")
        queued = await refresh_roll_call(session, rt.renderer, evacuation, now)
    if queued:
        rt.wake()
    return Outcome.done("evacuate.safe_recorded", queued=int(queued))


async def _not_a_member(session: AsyncSession, evacuation: Evacuation, person_id: int,
                        now: datetime) -> None:
    """Telegram says the presser is not in the group: the press taught the bot otherwise
    (every update from a group learns its sender), so the roll call would count them."""
    group = await session.get(GroupChat, evacuation.group_chat_id)
    found = await people_repo.people_by_ids(session, [person_id])
    if group is not None and found:
        await org_repo.record_membership(session, chat=group, person=found[0], active=False,
                                         now=now)


async def end(rt: Runtime, actor: Actor, *, evacuation_id: int | None = None,
              unit: Unit | None = None) -> Outcome:
    """End an evacuation (by id, or the team's active one): its leaders only.

    The alert is edited a last time: ended, by whom, everyone who answered; no buttons.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        evacuation = await evac_repo.get(session, evacuation_id) if evacuation_id is not None \
            else await evac_repo.active_in(session, unit.id or 0) if unit is not None else None
        if evacuation is None:
            return Outcome.refused("evacuate.none_active" if evacuation_id is None
                                   else "callback.stale")
        team = await org_repo.get_unit(session, evacuation.unit_id)
        if team is None:
            return Outcome.refused("callback.stale")
        if not _may_lead(await org_repo.grants_of(session, actor.person_id), team, actor):
            return Outcome.refused("evacuate.leaders_only")
        if evacuation.ended_at is not None:
            return Outcome.refused("evacuate.over")
        evacuation.ended_at, evacuation.ended_by = now, actor.person_id
        evacuation.roll_call_dirty = False
        session.add(evacuation)
        names = [p.name for p in await evac_repo.safe_people(session, evacuation.id or 0)]
        members = len(await _members(session, evacuation))
        queued = 0
        row = await alert_message(session, evacuation)
        html = with_roll_call(rt.renderer, evacuation, names, members) + "\n" + \
            rt.renderer.html("evacuate.ended_line", evacuation.language, who=actor.name)
        if row is not None and row.telegram_message_id is not None:
            await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                                      params={"message_id": row.telegram_message_id,
                                              "text": html, "parse_mode": "HTML",
                                              "reply_markup": no_keyboard()},
                                      now=now, purpose="evacuation.ended_edit",
                                      dedupe_key=f"evacuation-ended-edit:{evacuation.id}")
            queued += 1
        await outbox_repo.enqueue_text(
            session, chat_id=evacuation.chat_id, now=now, purpose="evacuation.ended",
            html=rt.renderer.html("evacuate.ended", evacuation.language, unit=team.name,
                                  who=actor.name, count=len(names), members=members),
            dedupe_key=f"evacuation-ended:{evacuation.id}")
        queued += 1
    rt.wake()
    return Outcome.done("evacuate.ended_ok", queued=queued)


# ------------------------------------------------------------------ who is missing


async def tell_missing(rt: Runtime, now: datetime, *, after: timedelta) -> int:
    """Tell the leader and the workshop, once, who has not answered ``after`` the start.

    Members are the team group's members as the bot knows them. Returns how many
    evacuations were told about.
    """
    told = 0
    async with rt.db.transaction() as session:
        for evacuation in await evac_repo.missing_due(session, now - after):
            if not await evac_repo.claim_missing(session, evacuation, now):
                continue
            told += await _tell_missing(session, rt, evacuation, now)
    if told:
        rt.wake()
    return told


async def _tell_missing(session: AsyncSession, rt: Runtime, evacuation: Evacuation,
                        now: datetime) -> int:
    unit = await org_repo.get_unit(session, evacuation.unit_id)
    if unit is None:
        return 0
    safe = {p.id for p in await evac_repo.safe_people(session, evacuation.id or 0)}
    missing = [p.name for p in await _members(session, evacuation) if p.id not in safe]
    if not missing:
        return 0
    starter = await _starter(session, evacuation)
    # The leader privately if they can be written to, else the team group.
    chats, _ = org_repo.reachable([starter] if starter else [], unit, None,
                                  rt.default_language)
    if not chats:
        chats = {evacuation.chat_id: (evacuation.language, None)}
    _, above = await org_repo.nearest_recipients_above(session, unit, list(UP_ROLES),
                                                       rt.default_language)
    for chat_id, recipient in above.items():
        chats.setdefault(chat_id, recipient)
    minutes = int((now - evacuation.started_at).total_seconds() // 60)
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html("evacuate.missing", lang, unit=unit.name, names=missing,
                                minutes=minutes)
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="evacuation.missing", person_id=person_id,
                                       dedupe_key=f"evacuation-missing:{evacuation.id}:{chat_id}")
    return 1
