"""The roll-call sweep: every ``EDIT_EVERY``, show the check-ins, reads and "I am safe"
presses a throttle held.

Roll calls of briefings and documents are edited in place by one mechanism. A
button press (check-in, "read and understood") marks its roll call dirty and,
when it was not edited within ``EDIT_EVERY``, queues the edit at once through the
outbox; otherwise this sweep queues it once the window has passed: at most one
edit per window per message, and the last state is always shown. The edits are
the services' (``services.meetings.refresh_roll_call`` for briefings,
``services.documents.refresh_roll_call`` for documents); this only asks storage
what is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from content.render import Renderer
from domain.roll_call import EDIT_EVERY
from scheduler.timetable import SweepFunction
from services.documents import refresh_roll_call as refresh_document_roll_call
from services.drills import refresh_roll_call as refresh_drill_roll_call
from services.evacuation import refresh_roll_call as refresh_evacuation_roll_call
from services.meetings import refresh_roll_call as refresh_meeting_roll_call
from storage import documents as doc_repo
from storage import drills as drill_repo
from storage import evacuations as evacuation_repo
from storage import meetings as meeting_repo
from storage.db import Database

BATCH = 500


def roll_call_sweep(db: Database, renderer: Renderer, *,
                    wake: Callable[[], None]) -> SweepFunction:
    """Every ``EDIT_EVERY``: show the check-ins and reads that were throttled."""

    async def sweep(now: datetime) -> None:
        queued = False
        async with db.transaction() as session:
            for meeting in await meeting_repo.stale_roll_calls(session, now - EDIT_EVERY,
                                                               limit=BATCH):
                queued |= await refresh_meeting_roll_call(session, renderer, meeting, now)
        async with db.transaction() as session:
            for post in await doc_repo.stale_roll_calls(session, now - EDIT_EVERY,
                                                        limit=BATCH):
                queued |= await refresh_document_roll_call(session, renderer, post, now)
        async with db.transaction() as session:
            for evacuation in await evacuation_repo.stale_roll_calls(
                    session, now - EDIT_EVERY, limit=BATCH):
                queued |= await refresh_evacuation_roll_call(session, renderer, evacuation,
                                                             now)
        async with db.transaction() as session:
            for drill_team in await drill_repo.stale_roll_calls(session, now - EDIT_EVERY,
                                                                limit=BATCH):
                queued |= await refresh_drill_roll_call(session, renderer, drill_team, now)
        if queued:
            wake()

    return sweep
