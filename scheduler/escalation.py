"""Sweeps for hazards: escalate what is overdue, drop reports left idle.

The timetable decides when; ``services.escalation`` and ``services.idle_drafts``
decide what is due and what is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from content.render import Renderer
from domain.clock import SystemClock
from scheduler.timetable import SweepFunction
from services import escalation, idle_drafts
from services.base import Runtime
from storage.db import Database

# Each batch moves every processed hazard's next time past "now", so the loop ends;
# the cap only guards against a bug doing otherwise.
MAX_BATCHES = 1000


def _runtime(db: Database, renderer: Renderer, default_language: str,
             wake: Callable[[], None]) -> Runtime:
    # Sweeps run on the timetable's time (given to each call), not on this clock.
    return Runtime(db=db, renderer=renderer, clock=SystemClock(),
                   default_language=default_language, wake=wake)


def escalation_sweep(db: Database, renderer: Renderer, default_language: str,
                     wake: Callable[[], None]) -> SweepFunction:
    """A sweep that alerts the next levels up for every overdue open hazard."""
    rt = _runtime(db, renderer, default_language, wake)

    async def sweep(now: datetime) -> None:
        # First the levels whose alerts all failed after they were queued, so the
        # due batches read the hazards' levels as they now stand.
        await escalation.follow_undelivered(rt, now)
        for _ in range(MAX_BATCHES):
            if await escalation.escalate_due_batch(rt, now) < escalation.BATCH:
                break

    return sweep


def idle_draft_sweep(db: Database, renderer: Renderer, default_language: str,
                     wake: Callable[[], None]) -> SweepFunction:
    """A sweep that drops reports nobody touched for 15 minutes, and says so."""
    rt = _runtime(db, renderer, default_language, wake)

    async def sweep(now: datetime) -> None:
        await idle_drafts.drop_idle_drafts(rt, now)

    return sweep
