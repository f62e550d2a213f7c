"""Every feature's handlers, registered on the application in dependency order."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from handlers import (
    cards,
    conversations,
    documents,
    drills,
    evacuate,
    fleet,
    handover,
    hazard_report,
    hazards,
    ideas,
    incidents,
    inspections,
    invite,
    language,
    meetings,
    membership,
    my,
    quiz,
    roles,
    setup,
    shifts,
    start,
    stats,
    training,
)
from handlers.common import Context, button_press

# Before every other group (membership learns people at -10): an edit stops here.
EDITS_GROUP = -100


async def ignore_edit(update: Update, context: Context) -> None:
    """An edited message or post is not a new one: no command or answer runs again."""
    raise ApplicationHandlerStop


async def outdated_button(update: Update, context: Context) -> None:
    """A press no feature claimed (old buttons, forged data): answer it, never leave it spinning."""
    press = await button_press(update, context, "")
    await press.query.answer(press.svc.renderer.plain("callback.stale", press.lang),
                             show_alert=True)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every feature's handlers to the application, in dependency order."""
    fleet.register(application)  # first: with several bots, one handles a group's updates
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, ignore_edit),
                            group=EDITS_GROUP)
    membership.register(application)
    setup.register(application)  # before start: it takes /start CODE in groups
    invite.register(application)
    my.register(application)  # before start: it takes /start my, its deep link
    cards.register(application)  # before start: it takes /start cards
    start.register(application)
    language.register(application)
    roles.register(application)
    hazards.register(application)
    hazard_report.register(application)
    handover.register(application)
    # The shift-end prompt's buttons start a handover or a report: wired here, so the
    # meeting handlers import no other feature.
    meetings.register(application, start_handover=handover.handover_command,
                      report_hazard=hazard_report.report_command)
    shifts.register(application)
    documents.register(application)
    training.register(application)
    quiz.register(application)
    evacuate.register(application)
    drills.register(application)
    inspections.register(application)
    incidents.register(application)
    ideas.register(application)
    stats.register(application)
    for prefix in ("rej", "fix", "five"):
        conversations.route(prefix, hazards.continue_action)
    conversations.route("chk", inspections.continue_check)
    conversations.route_default(hazard_report.continue_report)
    conversations.register(application)  # last: it takes any plain message
    # Last of group 0: PTB runs the first matching handler of a group, so this one
    # sees only presses that every feature's pattern above let through.
    application.add_handler(CallbackQueryHandler(outdated_button))
