"""The daily quiz sweep: at the quiz time, each team group gets its question of the day.

Every minute: ask storage which teams have a group and hand them to
services/quizzes.py, which posts the poll once per team and local day (also one
that fell due while the bot was down, within the window).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

from content.render import Renderer
from domain.clock import ManualClock
from scheduler.timetable import SweepFunction
from services import quizzes as quiz_service
from services.base import Runtime
from services.quizzes import IsGroupMember
from storage import org as org_repo
from storage.db import Database

# Teams per write transaction (as the meeting sweep does).
BATCH = 50


def daily_quiz_sweep(db: Database, renderer: Renderer, *, default_language: str,
                     default_timezone: str, at: time, window: timedelta,
                     wake: Callable[[], None]) -> SweepFunction:
    """Post the daily quiz poll in every team group at ``at`` local time."""

    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, default_timezone=default_timezone,
                     wake=wake)
        async with db.session() as session:
            teams = await org_repo.teams_with_groups(session)
        for start in range(0, len(teams), BATCH):
            await quiz_service.post_daily_polls(rt, teams[start:start + BATCH], at=at,
                                                window=window)

    return sweep


# A vote held for a poll whose id never became known was not for a daily quiz of ours.
EARLY_ANSWER_KEEP = timedelta(days=2)


def early_poll_answers_sweep(db: Database, renderer: Renderer, *, default_language: str,
                             is_member: IsGroupMember,
                             wake: Callable[[], None]) -> SweepFunction:
    """Record daily poll votes that arrived before their poll's id was recorded.

    Runs every minute and also right after the outbox records new poll ids.
    """

    async def sweep(now: datetime) -> None:
        rt = Runtime(db=db, renderer=renderer, clock=ManualClock(now),
                     default_language=default_language, wake=wake)
        await quiz_service.record_early_answers(rt, is_member)
        await quiz_service.forget_unclaimed_early_answers(rt, EARLY_ANSWER_KEEP)

    return sweep
