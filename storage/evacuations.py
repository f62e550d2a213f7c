"""Evacuations (停工撤人) and who answered "I am safe"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Evacuation, EvacuationSafe, Person


async def get(session: AsyncSession, evacuation_id: int) -> Evacuation | None:
    """The evacuation with this id."""
    return await session.get(Evacuation, evacuation_id)


async def active_in(session: AsyncSession, unit_id: int) -> Evacuation | None:
    """The team's evacuation not yet ended, if any."""
    result = await session.exec(select(Evacuation).where(
        Evacuation.unit_id == unit_id, col(Evacuation.ended_at).is_(None))
        .order_by(col(Evacuation.id).desc()))
    return result.first()


async def create(session: AsyncSession, **values: Any) -> Evacuation | None:
    """Start an evacuation; None when the team has an active one (whoever wrote first)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    result = await session.exec(  # type: ignore[call-overload]
        insert(Evacuation).values(roll_call_dirty=False, roll_call_edits=0, **values)
        .on_conflict_do_nothing(index_elements=["unit_id"],
                                index_where=text("ended_at IS NULL"))
        .returning(col(Evacuation.id)))
    new_id = result.scalars().first()
    return await session.get(Evacuation, int(new_id)) if new_id is not None else None


async def mark_safe(session: AsyncSession, evacuation_id: int, person_id: int,
                    now: datetime) -> bool:
    """Record a member safe; False when they had answered already."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    result = await session.exec(  # type: ignore[call-overload]
        insert(EvacuationSafe).values(evacuation_id=evacuation_id, person_id=person_id,
                                      safe_at=now)
        .on_conflict_do_nothing(index_elements=["evacuation_id", "person_id"])
        .returning(col(EvacuationSafe.id)))
    return result.first() is not None


async def safe_people(session: AsyncSession, evacuation_id: int) -> list[Person]:
    """Who answered "I am safe", in order of answer."""
    result = await session.exec(
        select(Person).join(EvacuationSafe, col(EvacuationSafe.person_id) == Person.id)
        .where(EvacuationSafe.evacuation_id == evacuation_id)
        .order_by(col(EvacuationSafe.safe_at), col(EvacuationSafe.id)))
    return list(result.all())


async def mark_roll_call_dirty(session: AsyncSession, evacuation: Evacuation) -> None:
    """Note that the roll call changed and is to be shown (now or after the throttle)."""
    await session.exec(update(Evacuation).where(col(Evacuation.id) == evacuation.id)
                       .values(roll_call_dirty=True))


async def claim_roll_call_edit(session: AsyncSession, evacuation: Evacuation, now: datetime,
                               edited_before: datetime) -> int | None:
    """Take the right to edit the roll call now: the edit's number, or None when it was
    edited after ``edited_before`` (throttled) or the evacuation ended meanwhile."""
    result = await session.exec(
        update(Evacuation).where(
            col(Evacuation.id) == evacuation.id, col(Evacuation.ended_at).is_(None),
            or_(col(Evacuation.last_edit_at).is_(None),
                col(Evacuation.last_edit_at) <= edited_before))
        .values(last_edit_at=now, roll_call_dirty=False,
                roll_call_edits=col(Evacuation.roll_call_edits) + 1)
        .returning(col(Evacuation.roll_call_edits)))
    number = result.scalars().first()
    return int(number) if number is not None else None


async def stale_roll_calls(session: AsyncSession, edited_before: datetime,
                           limit: int = 500) -> list[Evacuation]:
    """Active evacuations whose roll call changed and may be edited again (throttled)."""
    result = await session.exec(select(Evacuation).where(
        Evacuation.roll_call_dirty == True,  # noqa: E712
        col(Evacuation.ended_at).is_(None),
        or_(col(Evacuation.last_edit_at).is_(None),
            col(Evacuation.last_edit_at) <= edited_before)).limit(limit))
    return list(result.all())


async def missing_due(session: AsyncSession, started_before: datetime,
                      limit: int = 500) -> list[Evacuation]:
    """Active evacuations started before the time whose missing were not yet told."""
    result = await session.exec(select(Evacuation).where(
        col(Evacuation.ended_at).is_(None), col(Evacuation.missing_told_at).is_(None),
        col(Evacuation.started_at) <= started_before).limit(limit))
    return list(result.all())


async def claim_missing(session: AsyncSession, evacuation: Evacuation, now: datetime) -> bool:
    """Mark the missing told unless they were (or it ended) meanwhile: once."""
    result = await session.exec(
        update(Evacuation).where(col(Evacuation.id) == evacuation.id,
                                 col(Evacuation.ended_at).is_(None),
                                 col(Evacuation.missing_told_at).is_(None))
        .values(missing_told_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]
