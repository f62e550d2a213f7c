"""The handover sweep: remind the incoming leader, then tell the workshop.

Handovers due at once (every team changes shift at the same hour) are written in
batches of ``BATCH``, a transaction each, so check-ins and other writes are not
locked out on SQLite for the whole sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.durations import as_duration, format_duration
from domain.org import Role
from scheduler.timetable import SweepFunction
from services.buttons import pack
from storage import handovers as handover_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import Handover, Person, Unit

BATCH = 50
# Handovers one sweep looks at; more (never seen) wait for the next minute.
MOST_PER_SWEEP = 10_000


def accept_button(renderer: Renderer, lang: str, handover_id: int) -> dict[str, object]:
    """The "接班确认 / Accept handover" button, on the post and on its reminder."""
    return {"inline_keyboard": [[{"text": renderer.plain("button.accept_handover", lang),
                                  "callback_data": pack("hov", "acc", handover_id)}]]}


def handover_sweep(db: Database, renderer: Renderer, *, escalate_after: str | timedelta,
                   default_language: str,
                   wake: Callable[[], None]) -> SweepFunction:
    """A sweep over handovers nobody accepted: first a reminder, then the workshop."""
    # The reminder time is set when the handover is posted (HANDOVER_REMIND_AFTER);
    # the sweep only needs the escalation delay.
    escalate = as_duration(escalate_after)

    async def sweep(now: datetime) -> None:
        async with db.session() as session:  # reads only: no write lock held
            due = [h.id or 0 for h in await handover_repo.due(session, now,
                                                              limit=MOST_PER_SWEEP)]
        for start in range(0, len(due), BATCH):
            queued = False
            async with db.transaction() as session:
                for handover_id in due[start:start + BATCH]:
                    queued |= await _check(session, renderer, handover_id, now, escalate,
                                           default_language)
            if queued:
                wake()

    return sweep


async def _check(session: AsyncSession, renderer: Renderer, handover_id: int, now: datetime,
                 escalate: timedelta, default_language: str) -> bool:
    """One due handover's next step: a reminder, the workshop told, or a later look."""
    handover = await handover_repo.get(session, handover_id)
    if handover is None or handover.state != "awaiting" or handover.next_check_at is None \
            or handover.next_check_at > now:
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
        lang = org_repo.unit_language(unit, group, default_language)
        html = renderer.html(
            "handover.reminder", lang, outgoing=outgoing.name if outgoing else "",
            incoming_id=incoming.telegram_id if incoming else None,
            incoming=incoming.name if incoming else "")
        await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, html=html, now=now,
            purpose="handover.reminder", dedupe_key=f"handover-remind:{handover.id}",
            reply_markup=accept_button(renderer, lang, handover.id or 0))
        return True
    return await _tell_workshop(session, renderer, handover, unit, outgoing, escalate, now,
                                default_language)


async def _tell_workshop(session: AsyncSession, renderer: Renderer, handover: Handover,
                         unit: Unit, outgoing: Person | None, escalate: timedelta,
                         now: datetime, default_language: str) -> bool:
    """Tell the workshop's officers and managers (privately) and its group."""
    _, chats = await org_repo.nearest_recipients_above(
        session, unit, [Role.SAFETY_OFFICER, Role.MANAGER], default_language)
    for chat_id, (lang, person_id) in chats.items():
        html = renderer.html("handover.escalation", lang, unit=unit.name,
                             outgoing=outgoing.name if outgoing else "",
                             since=handover.created_at, limit=format_duration(escalate))
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="handover.escalation", person_id=person_id,
                                       dedupe_key=f"handover-escalate:{handover.id}:{chat_id}")
    return bool(chats)
