"""Suggestions (金点子): the ideas, their review, the proposer's points, the monthly figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.idea import IdeaState
from storage.models import Idea, OutboxMessage


async def get(session: AsyncSession, idea_id: int) -> Idea | None:
    """The idea with this id."""
    return await session.get(Idea, idea_id)


async def create(session: AsyncSession, **values: Any) -> Idea:
    """Register a new idea, waiting for review at its team."""
    idea = Idea(state=IdeaState.SUBMITTED, reviewing_unit_id=values["unit_id"], **values)
    session.add(idea)
    await session.flush()
    return idea


async def _decide(session: AsyncSession, idea: Idea, **values: Any) -> bool:
    """Write ``values`` unless someone decided (or passed it up) meanwhile: once."""
    result = await session.exec(update(Idea).where(
        col(Idea.id) == idea.id, col(Idea.state) == IdeaState.SUBMITTED.value,
        col(Idea.reviewing_unit_id) == idea.reviewing_unit_id).values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def adopt(session: AsyncSession, idea: Idea, *, person_id: int, points: int,
                now: datetime) -> bool:
    """Adopt with points: once."""
    return await _decide(session, idea, state=IdeaState.ADOPTED.value, decided_at=now,
                         decided_by=person_id, points=points)


async def decline(session: AsyncSession, idea: Idea, *, person_id: int, reason: str,
                  now: datetime) -> bool:
    """Decline with a reason: once."""
    return await _decide(session, idea, state=IdeaState.DECLINED.value, decided_at=now,
                         decided_by=person_id, reason=reason)


async def pass_up(session: AsyncSession, idea: Idea, *, to_unit_id: int, person_id: int,
                  now: datetime) -> bool:
    """Hand the review to the unit above: once from each level."""
    return await _decide(session, idea, reviewing_unit_id=to_unit_id, passed_up_at=now,
                         passed_up_by=person_id)


async def in_units(session: AsyncSession, unit_ids: Sequence[int], limit: int = 20) -> list[Idea]:
    """The latest ideas of these units (by the proposer's team), newest first."""
    if not unit_ids:
        return []
    result = await session.exec(select(Idea).where(col(Idea.unit_id).in_(list(unit_ids)))
                                .order_by(col(Idea.submitted_at).desc(), col(Idea.id).desc())
                                .limit(limit))
    return list(result.all())


async def of_proposer(session: AsyncSession, person_id: int, limit: int = 20) -> list[Idea]:
    """A proposer's latest ideas, newest first."""
    result = await session.exec(select(Idea).where(Idea.proposer_id == person_id)
                                .order_by(col(Idea.submitted_at).desc(), col(Idea.id).desc())
                                .limit(limit))
    return list(result.all())


async def state_counts(session: AsyncSession, unit_ids: Sequence[int]) -> dict[str, int]:
    """How many ideas of these units are in each state (all time)."""
    if not unit_ids:
        return {}
    result = await session.exec(select(col(Idea.state), func.count(col(Idea.id)))
                                .where(col(Idea.unit_id).in_(list(unit_ids)))
                                .group_by(col(Idea.state)))
    return {str(state): int(count) for state, count in result.all()}


async def points_of(session: AsyncSession, person_id: int) -> int:
    """The points a person earned with adopted ideas."""
    result = await session.exec(select(func.coalesce(func.sum(col(Idea.points)), 0)).where(
        Idea.proposer_id == person_id, col(Idea.state) == IdeaState.ADOPTED.value))
    return int(result.one())


async def message_keys(session: AsyncSession, idea_id: int) -> list[str]:
    """The outbox keys of the review messages of this idea (their buttons go once decided)."""
    result = await session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).like(f"idea-review:{idea_id}:%")))
    return [key for key in result.all() if key and "#" not in key]


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class IdeaTotals:
    """Ideas of some units in a period: submitted in it, adopted in it, points given in it."""

    submitted: int = 0
    adopted: int = 0
    points: int = 0


def _in_period(column: Any, since: datetime, until: datetime) -> Any:
    return and_(column >= since, column < until)


async def totals(session: AsyncSession, unit_ids: Sequence[int], since: datetime,
                 until: datetime) -> IdeaTotals:
    """Ideas of ``unit_ids`` submitted, and adopted, in [since, until): one aggregate query.

    An idea submitted in March and adopted in April counts as submitted in March and
    adopted in April.
    """
    found = (await totals_by_unit(session, unit_ids, since, until)).values()
    return IdeaTotals(sum(t.submitted for t in found), sum(t.adopted for t in found),
                      sum(t.points for t in found))


async def totals_by_unit(session: AsyncSession, unit_ids: Sequence[int], since: datetime,
                         until: datetime) -> dict[int, IdeaTotals]:
    """:func:`totals` per unit (units without ideas in the period left out): one query."""
    if not unit_ids:
        return {}
    ids = list(unit_ids)
    # Two index ranges (by submission, by decision) in one statement: an OR of the two
    # would read every idea the units ever had.
    submitted: Any = select(col(Idea.unit_id).label("unit_id"), literal(1).label("submitted"),
                       literal(0).label("adopted"), literal(0).label("points")).where(
        col(Idea.unit_id).in_(ids), _in_period(col(Idea.submitted_at), since, until))
    adopted = select(col(Idea.unit_id), literal(0), literal(1), col(Idea.points)).where(
        col(Idea.unit_id).in_(ids), _in_period(col(Idea.decided_at), since, until),
        col(Idea.state) == IdeaState.ADOPTED.value)
    both = union_all(submitted, adopted).subquery()
    result = await session.exec(select(  # type: ignore[call-overload]
        both.c.unit_id, func.sum(both.c.submitted), func.sum(both.c.adopted),
        func.coalesce(func.sum(both.c.points), 0)).group_by(both.c.unit_id))
    return {int(unit_id): IdeaTotals(int(count or 0), int(adopted_count or 0), int(points or 0))
            for unit_id, count, adopted_count, points in result.all()}
