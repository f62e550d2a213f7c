"""Every feature's handlers, registered on the application in dependency order."""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    conversations,
    documents,
    handover,
    hazard_report,
    hazards,
    language,
    meetings,
    membership,
    my,
    roles,
    setup,
    shifts,
    start,
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every feature's handlers to the application, in dependency order."""
    membership.register(application)
    my.register(application)  # before start: it takes /start my, its deep link
    start.register(application)
    setup.register(application)
    language.register(application)
    roles.register(application)
    hazards.register(application)
    hazard_report.register(application)
    handover.register(application)
    meetings.register(application)
    shifts.register(application)
    documents.register(application)
    for prefix in ("rej", "fix", "five"):
        conversations.route(prefix, hazards.continue_action)
    conversations.route_default(hazard_report.continue_report)
    conversations.register(application)  # last: it takes any plain message
