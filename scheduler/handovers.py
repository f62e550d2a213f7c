"""The handover sweep: ask storage which handovers are due → services/handovers.py.

The service reminds the incoming leader, then tells the workshop. Handovers due
at once (every team changes shift at the same hour) are handed over in batches
of ``BATCH``, a transaction each, so check-ins and other writes are not locked
out on SQLite for the whole sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import handovers as handover_service
from services.base import Runtime
from storage import handovers as handover_repo
from storage.db import Database

BATCH = 50
# Handovers one sweep looks at; more (never seen) wait for the next minute.
MOST_PER_SWEEP = 10_000


def handover_sweep(db: Database, renderer: Renderer, *, escalate_after: timedelta,
                   default_language: str,
                   wake: Callable[[], None]) -> SweepFunction:
    """A sweep over handovers nobody accepted: first a reminder, then the workshop."""
    # The reminder time is set when the handover is posted (HANDOVER_REMIND_AFTER);
    # the sweep only needs the escalation delay.
    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, wake=wake)
        async with db.session() as session:  # reads only: no write lock held
            due = [h.id or 0 for h in await handover_repo.due(session, now,
                                                              limit=MOST_PER_SWEEP)]
        for start in range(0, len(due), BATCH):
            await handover_service.remind_or_escalate(rt, due[start:start + BATCH], now,
                                                      escalate=escalate_after)

    return sweep
