"""The Telegram edge, one module per feature: parse → call storage/domain → render → send."""

from __future__ import annotations

from telegram.ext import Application

from handlers import hazard_report, hazards, language, membership, roles, setup, start


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every feature's handlers to the application, in dependency order."""
    membership.register(application)
    start.register(application)
    setup.register(application)
    language.register(application)
    roles.register(application)
    hazards.register(application)
    hazard_report.register(application)  # last: its step handler takes any plain message
