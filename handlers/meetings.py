"""The pre-shift meeting in the group: check in, and the leader confirms it was held.

The roll call is edited in place, at most every few seconds per meeting, so a
team of 30 checking in at once does not run into Telegram's 20 messages per
minute per group; the "meeting held" edit always shows everyone.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler

from content.render import escape_html
from handlers import handover, hazard_report
from handlers.callbacks import int_arg
from handlers.common import (
    Context,
    button_press,
    leads_this_team,
    learn_person,
)
from scheduler.meetings import meeting_buttons
from storage import meetings as meeting_repo
from storage import org as org_repo

EDIT_EVERY = timedelta(seconds=10)


async def meeting_clicked(update: Update, context: Context) -> None:
    """Check in, meeting held, or start the handover from the shift-end prompt."""
    query, user, _chat, svc, lang, parts = await button_press(update, context, "pm")
    meeting_id = int_arg(parts or [], 1)
    if parts is None or meeting_id is None or user is None or \
            parts[0] not in ("in", "held", "ho", "rep"):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if parts[0] == "ho":
        await query.answer()
        await handover.handover_command(update, context)
        return
    if parts[0] == "rep":  # a hazard found during the shift: anyone may report it
        await query.answer()
        await hazard_report.report_command(update, context)
        return
    now = svc.clock.now()
    edit: tuple[str, Any] | None = None
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        meeting = await meeting_repo.get(session, meeting_id)
        unit = await org_repo.get_unit(session, meeting.unit_id) if meeting else None
        if meeting is None or unit is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        if meeting.held_at is not None:
            await query.answer(svc.renderer.plain("meeting.closed", lang))
            return
        if parts[0] == "in":
            first = await meeting_repo.check_in(session, meeting, person, now)
            note = "meeting.checked_in" if first else "meeting.already"
            if first and (meeting.last_edit_at is None
                          or now - meeting.last_edit_at >= EDIT_EVERY):
                meeting.last_edit_at = now
                session.add(meeting)
                names = [p.name for p in await meeting_repo.attendees(session, meeting_id)]
                edit = (_with_roll_call(meeting.briefing_html, meeting.language, names),
                        InlineKeyboardMarkup.de_json(
                            meeting_buttons(svc.renderer, meeting.language, meeting_id),
                            context.bot))
        else:
            if not await leads_this_team(session, person, unit):
                await query.answer(svc.renderer.plain("meeting.leaders_only", lang),
                                   show_alert=True)
                return
            meeting.held_at, meeting.held_by = now, person.id
            session.add(meeting)
            names = [p.name for p in await meeting_repo.attendees(session, meeting_id)]
            note = "button.meeting_held"
            edit = (svc.renderer.html("meeting.held", meeting.language, unit=unit.name,
                                      shift=meeting.shift_name, held_by=person.name,
                                      attendees=names), None)
    await query.answer(svc.renderer.plain(note, lang))
    if edit is not None and query.message is not None:
        # e.g. "not modified" after a throttled edit: the next edit catches up
        with contextlib.suppress(TelegramError):
            await query.edit_message_text(edit[0], reply_markup=edit[1])


def _with_roll_call(base: str, lang: str, names: list[str]) -> str:
    """The briefing with who checked in so far (names escaped: they are user input)."""
    shown = [escape_html(n) for n in names]
    if lang == "zh":
        return f"{base}\n已签到（{len(names)}）：{'、'.join(shown)}"
    return f"{base}\nChecked in ({len(names)}): {', '.join(shown)}"


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the meeting buttons."""
    application.add_handler(CallbackQueryHandler(meeting_clicked, pattern=r"^pm:"))
