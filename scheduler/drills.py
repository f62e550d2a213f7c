"""The drill sweeps: reminders and starts every minute, the drill rules every hour.

services/drills.py decides; these only call it with "now". Both read everything
from the database each time, so a restart (or a bot down for a while) loses nothing:
a reminder round that fell due meanwhile goes out once, a drill whose time came is
posted, and a rule lapse is told once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import drill_rules
from services import drills as drill_service
from services.base import Runtime
from storage.db import Database

RULES_EVERY = timedelta(hours=1)  # the rules count days: an hour is prompt enough


def _runtime(db: Database, renderer: Renderer, now: datetime, default_language: str,
             default_timezone: str, wake: Callable[[], None]) -> Runtime:
    return Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                   default_language=default_language, default_timezone=default_timezone,
                   wake=wake)


def drill_sweep(db: Database, renderer: Renderer, *, default_language: str,
                default_timezone: str, reminders: Sequence[timedelta],
                wake: Callable[[], None]) -> SweepFunction:
    """Every minute: the reminder rounds that fell due, and the drills whose time came."""

    async def sweep(now: datetime) -> None:
        rt = _runtime(db, renderer, now, default_language, default_timezone, wake)
        await drill_service.run_due(rt, now, reminders=reminders)

    return sweep


def drill_rule_sweep(db: Database, renderer: Renderer, *, default_language: str,
                     default_timezone: str, wake: Callable[[], None]) -> SweepFunction:
    """Every hour: teams and enterprises fallen behind their drills, told once per lapse."""

    async def sweep(now: datetime) -> None:
        rt = _runtime(db, renderer, now, default_language, default_timezone, wake)
        await drill_rules.check_rules(rt, now)

    return sweep
