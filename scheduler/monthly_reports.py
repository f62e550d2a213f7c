"""The monthly report sweep: on each enterprise's report day, the levels above teams get theirs.

Every fifteen minutes: services/monthly_report.py reads who is due a report and has
not been sent it (the outbox's keys are the record, so a restart sends nothing twice)
and queues each person's charts, summary and workbook.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import monthly_report
from services.base import Runtime
from storage.db import Database


def monthly_report_sweep(db: Database, renderer: Renderer, *, default_language: str,
                         default_timezone: str, send_at: time,
                         wake: Callable[[], None]) -> SweepFunction:
    """On the report day (from ``send_at`` local time): each person's report, once."""

    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, default_timezone=default_timezone,
                     wake=wake)
        await monthly_report.send_due(rt, now, send_at=send_at)

    return sweep
