"""The evacuation sweep: who has not answered "I am safe" in time is listed, once.

Every minute: services/evacuation.py finds the active evacuations started
``EVACUATE_MISSING_AFTER`` ago whose missing were not told yet, and tells the
leader and the workshop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import evacuation as evacuation_service
from services.base import Runtime
from storage.db import Database


def evacuation_sweep(db: Database, renderer: Renderer, *, default_language: str,
                     default_timezone: str, missing_after: timedelta,
                     wake: Callable[[], None]) -> SweepFunction:
    """Every minute: list the members not safe ``missing_after`` after an alert."""

    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, default_timezone=default_timezone,
                     wake=wake)
        await evacuation_service.tell_missing(rt, now, after=missing_after)

    return sweep
