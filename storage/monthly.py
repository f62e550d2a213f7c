"""The monthly report's aggregate queries: one statement per figure, for a unit set and a period.

Every query is grouped in the database and filtered through an index that starts
with the unit (see migration 0021), so its cost follows the units and the month
asked about, not the years of history stored. Each returns plain tuples; the
figures (``services/monthly_figures.py``) give them meaning.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.hazard import HazardState
from storage.models import (
    Attendance,
    Hazard,
    Person,
    PreShiftMeeting,
    ReadReceipt,
    TrainingRecord,
)


def _count_if(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)  # type: ignore[arg-type]


async def hazards_reported(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                           until: datetime) -> list[tuple[int, str, str, int]]:
    """``(team id, severity, category, count)`` of hazards reported in [since, until)."""
    result = await session.exec(
        select(Hazard.team_unit_id, Hazard.severity, Hazard.category, func.count())
        .where(col(Hazard.team_unit_id).in_(list(team_ids)),
               col(Hazard.reported_at) >= since, col(Hazard.reported_at) < until)
        .group_by(col(Hazard.team_unit_id), col(Hazard.severity), col(Hazard.category)))
    return [(team, str(severity), category, int(count))
            for team, severity, category, count in result.all()]


async def hazards_closed(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                         until: datetime) -> list[tuple[int, str, int]]:
    """``(team id, severity, count)`` of hazards closed (verified) in [since, until)."""
    result = await session.exec(
        select(Hazard.team_unit_id, Hazard.severity, func.count())
        .where(col(Hazard.team_unit_id).in_(list(team_ids)),
               col(Hazard.closed_at) >= since, col(Hazard.closed_at) < until)
        .group_by(col(Hazard.team_unit_id), col(Hazard.severity)))
    return [(team, str(severity), int(count)) for team, severity, count in result.all()]


async def hazards_overdue(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                          until: datetime) -> list[tuple[int, str, int]]:
    """``(team id, severity, count)`` of hazards whose rectification deadline fell in
    [since, until) without the fix in by then (rejected ones are not hazards)."""
    result = await session.exec(
        select(Hazard.team_unit_id, Hazard.severity, func.count())
        .where(col(Hazard.team_unit_id).in_(list(team_ids)),
               col(Hazard.deadline) >= since, col(Hazard.deadline) < until,
               col(Hazard.state) != HazardState.REJECTED.value,
               col(Hazard.rectified_at).is_(None)
               | (col(Hazard.rectified_at) > col(Hazard.deadline)))
        .group_by(col(Hazard.team_unit_id), col(Hazard.severity)))
    return [(team, str(severity), int(count)) for team, severity, count in result.all()]


async def hazard_close_times(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                             until: datetime) -> list[tuple[int, str, datetime, datetime]]:
    """``(team id, severity, reported at, closed at)`` of the hazards closed in [since, until).

    The rows of one month of the units asked about (a median needs them all; SQLite
    has no percentile function).
    """
    result = await session.exec(
        select(Hazard.team_unit_id, Hazard.severity, Hazard.reported_at, Hazard.closed_at)
        .where(col(Hazard.team_unit_id).in_(list(team_ids)),
               col(Hazard.closed_at) >= since, col(Hazard.closed_at) < until))
    return [(team, str(severity), reported, closed)
            for team, severity, reported, closed in result.all() if closed is not None]


async def top_reporters(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                        until: datetime, limit: int) -> list[tuple[int, str, int]]:
    """``(person id, name, hazards reported)`` of the ``limit`` busiest reporters."""
    count = func.count(col(Hazard.id))
    result = await session.exec(
        select(Hazard.reporter_id, Person.name, count)
        .join(Person, col(Person.id) == col(Hazard.reporter_id))
        .where(col(Hazard.team_unit_id).in_(list(team_ids)),
               col(Hazard.reported_at) >= since, col(Hazard.reported_at) < until)
        .group_by(col(Hazard.reporter_id), col(Person.name))
        .order_by(count.desc(), col(Person.name)).limit(limit))
    return [(person, name, int(n)) for person, name, n in result.all()]


async def monthly_counts(session: AsyncSession, team_ids: Sequence[int],
                         bounds: Sequence[datetime], *, closed: bool) -> list[int]:
    """Hazards reported (or closed) in each [bounds[i], bounds[i+1]): one pass, one row."""
    column = col(Hazard.closed_at) if closed else col(Hazard.reported_at)
    sums = [_count_if(and_(column >= start, column < end))
            for start, end in itertools.pairwise(bounds)]
    result = await session.exec(
        select(*sums).where(col(Hazard.team_unit_id).in_(list(team_ids)),  # type: ignore[call-overload]
                            column >= bounds[0], column < bounds[-1]))
    row = result.one()
    return [int(value or 0) for value in row]


async def meetings(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                   until: datetime) -> list[tuple[int, int, int, int]]:
    """``(team id, meetings due, held, check-ins)`` of the shifts starting in [since, until).

    A shift cancelled after its briefing (a holiday declared) was not due.
    """
    held = case((col(PreShiftMeeting.held_at).is_not(None), col(PreShiftMeeting.id)))
    result = await session.exec(
        select(PreShiftMeeting.unit_id, func.count(distinct(col(PreShiftMeeting.id))),
               func.count(distinct(held)), func.count(col(Attendance.id)))
        .outerjoin(Attendance, col(Attendance.meeting_id) == col(PreShiftMeeting.id))
        .where(col(PreShiftMeeting.unit_id).in_(list(team_ids)),
               col(PreShiftMeeting.starts_at) >= since, col(PreShiftMeeting.starts_at) < until,
               col(PreShiftMeeting.cancelled_at).is_(None))
        .group_by(col(PreShiftMeeting.unit_id)))
    return [(team, int(due), int(done), int(checked)) for team, due, done, checked in result.all()]


async def reading(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                  until: datetime) -> list[tuple[int, int, int]]:
    """``(team id, acknowledgements required, read)`` of documents required in [since, until)."""
    result = await session.exec(
        select(ReadReceipt.unit_id, func.count(),
               _count_if(col(ReadReceipt.read_at).is_not(None)))  # type: ignore[call-overload]
        .where(col(ReadReceipt.unit_id).in_(list(team_ids)),
               col(ReadReceipt.required_at) >= since, col(ReadReceipt.required_at) < until)
        .group_by(col(ReadReceipt.unit_id)))
    return [(team, int(required), int(read)) for team, required, read in result.all()]


async def quizzes(session: AsyncSession, team_ids: Sequence[int], since: datetime,
                  until: datetime) -> list[tuple[int, int, int, int]]:
    """``(team id, quiz answers, correct, people who answered)`` in [since, until)."""
    correct = _count_if(col(TrainingRecord.result) == "correct")
    result = await session.exec(
        select(TrainingRecord.unit_id, func.count(), correct,  # type: ignore[call-overload]
               func.count(distinct(col(TrainingRecord.person_id))))
        .where(col(TrainingRecord.unit_id).in_(list(team_ids)),
               col(TrainingRecord.kind) == "quiz",
               col(TrainingRecord.at) >= since, col(TrainingRecord.at) < until)
        .group_by(col(TrainingRecord.unit_id)))
    return [(int(team or 0), int(answers), int(right), int(people))
            for team, answers, right, people in result.all()]

