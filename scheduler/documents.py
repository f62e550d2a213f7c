"""The reading timetable of policy documents: ask what is due, let the services act.

Every minute: teams bound after a publication get the document, members seen
after a post are asked too, and each post whose next check has come gets its
reminder rounds or, at the due date, its report to the workshop (all in
services/reading.py). Roll-call edits are the roll-call sweep's
(scheduler/roll_calls.py). Publishing itself is services/publishing.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from content.render import Renderer
from scheduler.timetable import SweepFunction
from services.reading import ask_late_members, deliver_outstanding, remind_or_report
from storage import documents as doc_repo
from storage.db import Database

BATCH = 500
MAX_BATCHES = 1000  # a guard only: each batch moves its posts on


def document_sweep(db: Database, renderer: Renderer, *, default_language: str,
                   reminders: Sequence[timedelta], reminder_grace: timedelta,
                   wake: Callable[[], None]) -> SweepFunction:
    """Late joiners, late-bound teams, reminders and due-date reports (roll-call edits
    are the roll-call sweep's). Durations come parsed (the settings read them once)."""
    offsets = tuple(reminders)

    async def sweep(now: datetime) -> None:
        queued = False
        async with db.transaction() as session:
            queued |= await deliver_outstanding(session, renderer, now, default_language)
            queued |= await ask_late_members(session, renderer, now, default_language)
        # Every due post in this sweep, a batch per transaction: thousands of posts due
        # at once (a document to every team) must not wait a minute per batch and miss
        # their round's grace. Each post's next check moves past "now", so this ends.
        for _ in range(MAX_BATCHES):
            async with db.transaction() as session:
                due = await doc_repo.posts_due(session, now, limit=BATCH)
                for post in due:
                    queued |= await remind_or_report(session, renderer, post, now, offsets,
                                                     reminder_grace, default_language)
            if len(due) < BATCH:
                break
        if queued:
            wake()

    return sweep
