"""交接班: the outgoing leader hands over; only an incoming leader accepts.

The outgoing leader answers five short questions (equipment, unfinished work,
safety notes, open hazards — listed for them — and anything else), then picks
who takes over. The handover is posted with an "accept" button; the outgoing
leader cannot accept their own, and only the chosen leader or another leader of
the team may. The sweep reminds, then tells the workshop, when nobody accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.durations import format_duration
from domain.handover import HandoverState
from domain.org import Role, leads_team
from services import shifts
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import drafts as drafts_repo
from storage import handovers as handover_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Handover, Person, Unit

QUESTIONS = ("equipment", "wip", "safety", "hazards", "notes")
NOTHING = frozenset({"无", "没有", "none", "no", "-"})
CONFIRM = frozenset({"确认", "ok", "yes", "好"})


@dataclass(frozen=True)
class HandoverButton(Button, prefix="hov"):
    """``hov:to:PERSON`` picks who takes over (0: any leader); ``hov:acc:HANDOVER`` accepts."""

    action: Literal["to", "acc"]
    target: int


def accept_keyboard(renderer: Renderer, lang: str, handover_id: int) -> dict[str, Any]:
    """The "接班确认 / Accept handover" button, on the post and on its reminder."""
    return keyboard([[(renderer.plain("button.accept_handover", lang),
                       HandoverButton("acc", handover_id))]])


def incoming_keyboard(renderer: Renderer, lang: str, leaders: Sequence[Person]) -> dict[str, Any]:
    """One button per leader who may take over, then "any leader"."""
    rows: list[list[tuple[str, Button | str]]] = [
        [(person.name, HandoverButton("to", person.id or 0))] for person in leaders]
    rows.append([(renderer.plain("button.any_leader", lang), HandoverButton("to", 0))])
    return keyboard(rows)


async def _leads(session: AsyncSession, person_id: int, unit: Unit) -> bool:
    """Whether the person is one of this team's own leaders."""
    return leads_team(await org_repo.grants_of(session, person_id), unit.id or 0)


async def start(rt: Runtime, actor: Actor, chat_id: int, unit: Unit) -> Outcome:
    """Begin a handover in a team's group: only its own leaders may."""
    async with rt.db.transaction() as session:
        if not await _leads(session, actor.person_id, unit):
            return Outcome.refused("handover.leaders_only")
        await drafts_repo.start_draft(session, chat_id, actor.person_id, step="ho:equipment",
                                      data={}, now=rt.clock.now())
    return Outcome.done("handover.ask_equipment")


@dataclass
class Step:
    """The next prompt of the handover conversation: its text key, values and buttons."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    markup: dict[str, Any] | None = None  # None: answered by reply


async def record_answer(session: AsyncSession, rt: Runtime, draft: ConversationDraft,
                        text: str, lang: str) -> Step:
    """One answer of the handover questions, inside the conversation's transaction."""
    data = drafts_repo.draft_data(draft)
    question = draft.step.split(":", 1)[1]
    text = text.strip()
    if question not in QUESTIONS or not text or len(text) > 1000:
        return Step("handover.empty")
    if question == "hazards":
        data["hazards"] = data.get("codes") or "-"
        if text.lower() not in CONFIRM:
            data["hazards"] = f"{data['hazards']}; {text}"
    else:
        data[question] = text
    now = rt.clock.now()
    group = await org_repo.get_group_chat(session, draft.chat_id)
    unit = await org_repo.get_unit(session, group.unit_id) \
        if group is not None and group.unit_id else None
    following = QUESTIONS.index(question) + 1
    if following < len(QUESTIONS):
        step = QUESTIONS[following]
        values: dict[str, Any] = {}
        if step == "hazards":
            open_ = await hazard_repo.open_hazards(session, [unit.id or 0]) if unit else []
            data["codes"] = "、".join(h.code for h in open_)
            values["codes"] = data["codes"]
        drafts_repo.save_draft(session, draft, step=f"ho:{step}", data=data, now=now)
        return Step(f"handover.ask_{step}", values)
    drafts_repo.save_draft(session, draft, step="ho:incoming", data=data, now=now)
    leaders = [person for person, _ in await org_repo.role_holders(
        session, [unit.id or 0] if unit else [], [Role.TEAM_LEADER])
        if person.id != draft.person_id]
    shift = shifts.next_team_shift(unit, rt.default_timezone, now)
    scheduled = next((p for p in leaders if shift and p.telegram_id == shift.shift.leader), None)
    if scheduled is not None:  # the schedule's leader of the next shift comes first
        leaders.remove(scheduled)
        leaders.insert(0, scheduled)
    return Step("handover.ask_incoming",
                {"shift": shift.shift.name if shift else None,
                 "scheduled": scheduled.name if scheduled else None},
                incoming_keyboard(rt.renderer, lang, leaders))


async def post(rt: Runtime, actor: Actor, chat_id: int, incoming_id: int | None,
               lang: str, remind_after: timedelta) -> Outcome:
    """Record the handover with the chosen incoming leader and queue its post.

    Through the outbox: the post carries the only "accept" button, so a 429 or a
    time-out must retry it, not leave a handover nobody can accept.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        group = await org_repo.get_group_chat(session, chat_id)
        unit = await org_repo.get_unit(session, group.unit_id) \
            if group is not None and group.unit_id else None
        if draft is None or draft.step != "ho:incoming" or unit is None:
            return Outcome.refused("callback.stale")
        data = drafts_repo.draft_data(draft)
        found = await people_repo.people_by_ids(session, [incoming_id]) if incoming_id else []
        incoming = found[0] if found else None
        await drafts_repo.drop_draft(session, draft)
        handover = await handover_repo.create(
            session, unit_id=unit.id or 0, chat_id=chat_id, outgoing_id=actor.person_id,
            incoming_id=incoming.id if incoming else None, equipment=data["equipment"],
            work_in_progress=data["wip"], safety_notes=data["safety"],
            open_hazards=data["hazards"], notes=None if data["notes"].lower() in NOTHING
            else data["notes"], created_at=now, next_check_at=now + remind_after)
        html = rt.renderer.html(
            "handover.posted", lang, unit=unit.name, outgoing=actor.name,
            incoming_id=incoming.telegram_id if incoming else None,
            incoming=incoming.name if incoming else "", equipment=data["equipment"],
            wip=data["wip"], safety=data["safety"], hazards=data["hazards"],
            notes=handover.notes)
        await outbox_repo.enqueue_text(
            session, chat_id=chat_id, html=html, now=now, purpose="handover.post",
            reply_markup=accept_keyboard(rt.renderer, lang, handover.id or 0),
            dedupe_key=f"handover-post:{handover.id}")
    rt.wake()
    return Outcome.done("handover.posted", queued=1)


def button_keys(handover_id: int) -> list[str]:
    """The outbox keys of the messages that carry a handover's "accept" button."""
    return [f"handover-post:{handover_id}", f"handover-remind:{handover_id}"]


async def record_accept(session: AsyncSession, rt: Runtime, actor: Actor,
                        handover_id: int) -> Outcome:
    """Accept a handover inside the caller's transaction.

    Refused for the outgoing leader, and for anyone but the chosen leader or
    another leader of the team; a second acceptance says who took over, and when.
    The caller takes the "accept" buttons off (:func:`button_keys`) when it is done.
    """
    now = rt.clock.now()
    handover = await handover_repo.get(session, handover_id)
    unit = await org_repo.get_unit(session, handover.unit_id) if handover else None
    if handover is not None and unit is not None and handover.state == HandoverState.ACCEPTED \
            and handover.accepted_at is not None:
        # A press on a button that outlived the handover: say who took over, and when.
        found = await people_repo.people_by_ids(
            session, [handover.accepted_by] if handover.accepted_by else [])
        return Outcome.refused("handover.already_accepted",
                               who=found[0].name if found else "", at=handover.accepted_at,
                               tz=unit.timezone or rt.default_timezone)
    if handover is None or unit is None or handover.state != HandoverState.AWAITING:
        return Outcome.refused("callback.stale")
    if handover.outgoing_id == actor.person_id:
        return Outcome.refused("handover.own")
    if actor.person_id != handover.incoming_id and not await _leads(session, actor.person_id,
                                                                    unit):
        return Outcome.refused("handover.not_incoming")
    if not await handover_repo.accept(session, handover, person_id=actor.person_id, now=now):
        return Outcome.refused("callback.stale")
    return Outcome.done("handover.accepted", who=actor.name, at=now)


async def remind_or_escalate(rt: Runtime, handover_ids: Sequence[int], now: datetime, *,
                             escalate: timedelta) -> int:
    """Each due handover's next step, in one transaction; how many notices were queued.

    A reminder in the group first, then the workshop is told once ``escalate`` has
    passed since the handover was posted.
    """
    queued = 0
    async with rt.db.transaction() as session:
        for handover_id in handover_ids:
            queued += await _check(session, rt, handover_id, now, escalate)
    if queued:
        rt.wake()
    return queued


async def _check(session: AsyncSession, rt: Runtime, handover_id: int, now: datetime,
                 escalate: timedelta) -> bool:
    """One due handover's next step: a reminder, the workshop told, or a later look."""
    handover = await handover_repo.get(session, handover_id)
    if handover is None or handover.state != HandoverState.AWAITING \
            or handover.next_check_at is None or handover.next_check_at > now:
        return False  # accepted (or moved on) since it was read
    unit = await org_repo.get_unit(session, handover.unit_id)
    group = await org_repo.get_group_chat(session, handover.chat_id)
    remind = tell = False
    if unit is None:  # the team is gone: nothing more to check
        step: dict[str, object] = {"next_check_at": None}
    elif handover.reminded_at is None and group is not None and group.active:
        remind = True
        step = {"reminded_at": now, "next_check_at": handover.created_at + escalate}
    elif handover.escalated_at is None and now >= handover.created_at + escalate:
        tell = True
        step = {"escalated_at": now, "next_check_at": None}
    else:
        step = {"next_check_at": handover.created_at + escalate}
    # Claimed before anything is queued: a leader accepting at this moment
    # wins, and no reminder or escalation follows an accepted handover.
    if not await handover_repo.advance(session, handover, step) \
            or unit is None or not (remind or tell):
        return False
    people = {p.id: p for p in await people_repo.people_by_ids(
        session, [i for i in (handover.outgoing_id, handover.incoming_id) if i])}
    outgoing = people.get(handover.outgoing_id)
    incoming = people.get(handover.incoming_id) if handover.incoming_id else None
    if remind and group is not None:
        lang = org_repo.unit_language(unit, group, rt.default_language)
        html = rt.renderer.html(
            "handover.reminder", lang, outgoing=outgoing.name if outgoing else "",
            incoming_id=incoming.telegram_id if incoming else None,
            incoming=incoming.name if incoming else "")
        await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, html=html, now=now,
            purpose="handover.reminder", dedupe_key=f"handover-remind:{handover.id}",
            reply_markup=accept_keyboard(rt.renderer, lang, handover.id or 0))
        return True
    return await _tell_workshop(session, rt, handover, unit, outgoing, escalate, now)


async def _tell_workshop(session: AsyncSession, rt: Runtime, handover: Handover,
                         unit: Unit, outgoing: Person | None, escalate: timedelta,
                         now: datetime) -> bool:
    """Tell the workshop's officers and managers (privately) and its group."""
    _, chats = await org_repo.nearest_recipients_above(
        session, unit, [Role.SAFETY_OFFICER, Role.MANAGER], rt.default_language)
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html("handover.escalation", lang, unit=unit.name,
                                outgoing=outgoing.name if outgoing else "",
                                since=handover.created_at, limit=format_duration(escalate))
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="handover.escalation", person_id=person_id,
                                       dedupe_key=f"handover-escalate:{handover.id}:{chat_id}")
    return bool(chats)
