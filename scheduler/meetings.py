"""The pre-shift meeting sweep (班前会): brief before each shift, watch it is held.

Every minute: ask storage which teams have a group, which meetings are late and
which shifts ended, and hand them to services/meetings.py — briefings (also one
that fell due while the bot was down, within the grace window; exactly once per
team and shift, the meeting row being the idempotency key), the escalation of
meetings not held in time, and the shift-end summary prompt.

Writes go in batches of ``BATCH`` teams or meetings, a transaction each: on
SQLite a writer locks out every other one until it commits, and 1,000 briefings
in one transaction kept check-ins waiting ~13 s. A batch that committed stays
done if the bot dies mid-sweep; the next sweep does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from content.render import Renderer
from domain.clock import ManualClock
from domain.risk_cards import RiskCard
from scheduler.timetable import SweepFunction
from services import meetings as meeting_service
from services.base import Runtime
from storage import meetings as meeting_repo
from storage import org as org_repo
from storage.db import Database

# Meetings missed or ended longer ago than this (the bot was down for days) are history:
# no late escalation or summary prompt for them.
LOOKBACK = timedelta(days=1)
# Teams (or meetings) per write transaction: rendering a briefing takes ~13 ms, so a
# batch holds SQLite's write lock for well under a second.
BATCH = 50
_T = TypeVar("_T")


def pre_shift_sweep(db: Database, renderer: Renderer, *, default_language: str,
                    default_timezone: str, reminder_grace: timedelta,
                    meeting_grace: timedelta,
                    wake: Callable[[], None],
                    risk_cards: Sequence[RiskCard] = ()) -> SweepFunction:
    """Briefings before shifts, escalation of meetings not held, post-shift prompts.

    ``risk_cards`` are the plant's risk notification cards; a briefing lists its team's.
    """

    async def sweep(now: datetime) -> None:
        # The clock is the sweep's ``now``: a service reads no other time.
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, default_timezone=default_timezone,
                     wake=wake)
        async with db.session() as session:  # reads only: no write lock held
            teams = await org_repo.teams_with_groups(session)
        for batch in _batches(teams):
            await meeting_service.post_briefings(rt, batch, now, grace=reminder_grace,
                                                 risk_cards=risk_cards)
        # Read after the briefings: a briefing caught up late may already be overdue.
        async with db.session() as session:
            late = [m.id or 0 for m in await meeting_repo.not_held(
                session, now - meeting_grace, now - meeting_grace - LOOKBACK)]
        for ids in _batches(late):
            await meeting_service.escalate_late(rt, ids, now, held_within=meeting_grace)
        async with db.session() as session:
            ended = [m.id or 0 for m in await meeting_repo.ended_without_summary(
                session, now, now - LOOKBACK)]
        for ids in _batches(ended):
            await meeting_service.prompt_summaries(rt, ids, now)

    return sweep


def _batches(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``items`` in slices of ``BATCH``, each written in its own transaction."""
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]
