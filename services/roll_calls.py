"""Roll calls edited in place, for briefings and documents alike, by one mechanism.

A button press (check-in, "read and understood") marks its roll call dirty and,
when the roll call was not edited within ``EDIT_EVERY``, queues the edit at once
through the outbox. Otherwise the roll-call sweep (scheduler/roll_calls.py), which
runs every ``EDIT_EVERY``, queues it once the window has passed: at most one edit
per window per message, and the last state is always shown. No Telegram here: the
edits are outbox rows. A document's roll call is drawn by services/documents.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer, escape_html
from domain.delivery import OutboxStatus
from domain.roll_call import EDIT_EVERY
from services.finished import last_part
from storage import meetings as meeting_repo
from storage import outbox as outbox_repo
from storage.models import OutboxMessage, PreShiftMeeting


def with_roll_call(base: str, lang: str, names: list[str]) -> str:
    """The briefing with who checked in so far (names escaped: they are user input)."""
    shown = [escape_html(n) for n in names]
    if lang == "zh":
        return f"{base}\n已签到（{len(names)}）：{'、'.join(shown)}"
    return f"{base}\nChecked in ({len(names)}): {', '.join(shown)}"


async def briefing_message(session: AsyncSession,
                           meeting: PreShiftMeeting) -> OutboxMessage | None:
    """The outbox row of the briefing's message with the buttons (its last part)."""
    if meeting.briefing_outbox_id is not None:
        return await session.get(OutboxMessage, meeting.briefing_outbox_id)
    # A meeting briefed before the row was remembered: find it by its key.
    return await last_part(session, f"briefing:{meeting.unit_id}:{meeting.shift_key}")


async def refresh_meeting_roll_call(session: AsyncSession, renderer: Renderer,
                                    meeting: PreShiftMeeting, now: datetime) -> bool:
    """Queue an edit of the briefing with everyone checked in so far, unless one was
    queued within ``EDIT_EVERY`` (then it stays dirty for the sweep). True if queued.

    The edit keeps the buttons the briefing was sent with (so this module needs no
    meeting keyboard); ``renderer`` stays in the signature for its callers.
    """
    row = await briefing_message(session, meeting)
    if row is None or (row.telegram_message_id is None
                       and row.status == OutboxStatus.FAILED.value):
        meeting.roll_call_dirty = False  # no briefing in the group: nothing to edit
        session.add(meeting)
        return False
    if row.telegram_message_id is None:
        return False  # not sent yet: it stays dirty, the sweep looks again
    number = await meeting_repo.claim_roll_call_edit(session, meeting, now, now - EDIT_EVERY)
    if number is None:
        return False
    names = [p.name for p in await meeting_repo.attendees(session, meeting.id or 0)]
    params: dict[str, Any] = {
        "message_id": row.telegram_message_id, "parse_mode": "HTML",
        "text": with_roll_call(meeting.briefing_html, meeting.language, names)}
    # The briefing keeps the buttons it was sent with (the edit would drop them).
    markup = outbox_repo.params_of(row).get("reply_markup")
    if markup is not None:
        params["reply_markup"] = markup
    await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                              params=params, now=now, purpose="meeting.roll_call_edit",
                              dedupe_key=f"meeting-roll-edit:{meeting.id}:{number}")
    return True


async def queue_meeting_held(session: AsyncSession, meeting: PreShiftMeeting, html: str,
                             now: datetime) -> bool:
    """Queue the briefing's last edit: held, by whom, everyone who came; no buttons."""
    row = await briefing_message(session, meeting)
    if row is None or row.telegram_message_id is None:
        return False
    await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                              params={"message_id": row.telegram_message_id, "text": html,
                                      "parse_mode": "HTML"},
                              now=now, purpose="meeting.held_edit",
                              dedupe_key=f"meeting-held-edit:{meeting.id}")
    return True
