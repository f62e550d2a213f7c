"""The inspection sweep (检查): checks that fell due are sent, missed ones escalated.

Every minute: services/inspections.py asks storage which checks of each checklist
are due and not yet recorded (the rows are the timetable: nothing is kept in
memory, so a restart rebuilds it from the database), records and sends them, then
marks the checks past their deadline missed and tells the level above, once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import inspections as inspection_service
from services.base import Runtime
from storage.db import Database


def inspection_sweep(db: Database, renderer: Renderer, *, default_language: str,
                     default_timezone: str, wake: Callable[[], None]) -> SweepFunction:
    """Every minute: send the checks due, escalate the missed ones."""

    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, default_timezone=default_timezone,
                     wake=wake)
        await inspection_service.post_due(rt, now)
        await inspection_service.escalate_missed(rt, now)

    return sweep
