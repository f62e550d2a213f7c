"""The pre-shift meeting in the group: check in, and the leader confirms it was held.

The roll call is edited in place through the outbox, at most every few seconds
per meeting (scheduler/roll_calls.py), so a team of 30 checking in at once does
not run into Telegram's 20 messages per minute per group; a check-in held back
is shown when the window ends, and the "meeting held" edit shows everyone.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from handlers import handover, hazard_report
from handlers.common import (
    Context,
    button_press,
    leads_this_team,
    learn_person,
)
from services.buttons import int_arg
from services.roll_calls import queue_meeting_held, refresh_meeting_roll_call
from storage import meetings as meeting_repo
from storage import org as org_repo
from storage import people as people_repo


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
    queued = False
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        meeting = await meeting_repo.get(session, meeting_id)
        unit = await org_repo.get_unit(session, meeting.unit_id) if meeting else None
        if meeting is None or unit is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        zone = unit.timezone or svc.settings.default_timezone
        if meeting.held_at is not None:
            # A late press on a closed meeting's old buttons: say who closed it, and when.
            found = await people_repo.people_by_ids(session, [meeting.held_by]) \
                if meeting.held_by else []
            await query.answer(svc.renderer.plain(
                "meeting.closed", lang, who=found[0].name if found else "",
                at=meeting.held_at, tz=zone))
            return
        if parts[0] == "in":
            first = await meeting_repo.check_in(session, meeting, person, now)
            note = "meeting.checked_in" if first else "meeting.already"
            if first:
                await meeting_repo.mark_roll_call_dirty(session, meeting)
                queued = await refresh_meeting_roll_call(session, svc.renderer, meeting, now)
        else:
            if not await leads_this_team(session, person, unit):
                await query.answer(svc.renderer.plain("meeting.leaders_only", lang),
                                   show_alert=True)
                return
            meeting.held_at, meeting.held_by = now, person.id
            meeting.roll_call_dirty = False  # the "held" edit shows everyone
            session.add(meeting)
            names = [p.name for p in await meeting_repo.attendees(session, meeting_id)]
            note = "button.meeting_held"
            queued = await queue_meeting_held(session, meeting, svc.renderer.html(
                "meeting.held", meeting.language, unit=unit.name, shift=meeting.shift_name,
                held_by=person.name, attendees=names), now)
    await query.answer(svc.renderer.plain(note, lang))
    if queued:
        svc.wake_outbox()


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the meeting buttons."""
    application.add_handler(CallbackQueryHandler(meeting_clicked, pattern=r"^pm:"))
