"""The roll-call sweep: every ``EDIT_EVERY``, show the check-ins and reads a throttle held.

The edits themselves are the services' (services/roll_calls.py for briefings,
services/documents.py for documents); this only asks storage what is stale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from content.render import Renderer
from domain.roll_call import EDIT_EVERY
from scheduler.timetable import SweepFunction
from services.roll_calls import refresh_document_roll_call, refresh_meeting_roll_call
from storage import documents as doc_repo
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
        if queued:
            wake()

    return sweep
