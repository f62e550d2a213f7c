"""Checks (检查) that fell due, and every item's answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.inspections import CheckCompletion
from domain.org import UnitKind
from storage.models import (
    GroupChat,
    Hazard,
    Inspection,
    InspectionAnswer,
    Membership,
    Person,
    Unit,
)

DUE, DONE, MISSED = "due", "done", "missed"


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


async def get(session: AsyncSession, inspection_id: int) -> Inspection | None:
    """The check with this id."""
    return await session.get(Inspection, inspection_id)


async def known_occurrences(session: AsyncSession, checklist_id: str,
                            due_since: datetime) -> set[tuple[int, str, int]]:
    """``(unit_id, period, subject_id)`` of the checklist's checks due since ``due_since``.

    One query per checklist and sweep: the sweep leaves out what fell due already.
    """
    result = await session.exec(
        select(Inspection.unit_id, Inspection.period, Inspection.subject_id)
        .where(Inspection.checklist_id == checklist_id, col(Inspection.due_at) >= due_since))
    return {(unit_id, period, subject) for unit_id, period, subject in result.all()}


async def create(session: AsyncSession, **values: Any) -> Inspection | None:
    """Record a check falling due; None when it had fallen due already (whoever wrote first)."""
    result = await session.exec(  # type: ignore[call-overload]
        _insert(session)(Inspection).values(state=DUE, **values)
        .on_conflict_do_nothing(index_elements=["checklist_id", "unit_id", "period",
                                                "subject_id"])
        .returning(col(Inspection.id)))
    new_id = result.scalars().first()
    return await session.get(Inspection, int(new_id)) if new_id is not None else None


async def answers(session: AsyncSession, inspection_id: int) -> list[InspectionAnswer]:
    """A check's answers in item order."""
    result = await session.exec(
        select(InspectionAnswer).where(InspectionAnswer.inspection_id == inspection_id)
        .order_by(col(InspectionAnswer.item_index)))
    return list(result.all())


async def add_answer(session: AsyncSession, **values: Any) -> bool:
    """Record an item's answer; False when the item was answered already (a double tap)."""
    result = await session.exec(  # type: ignore[call-overload]
        _insert(session)(InspectionAnswer).values(**values)
        .on_conflict_do_nothing(index_elements=["inspection_id", "item_index"])
        .returning(col(InspectionAnswer.id)))
    return result.first() is not None


async def answer_of(session: AsyncSession, inspection_id: int,
                    item_index: int) -> InspectionAnswer | None:
    """One item's answer."""
    result = await session.exec(select(InspectionAnswer).where(
        InspectionAnswer.inspection_id == inspection_id,
        InspectionAnswer.item_index == item_index))
    return result.first()


async def mark_started(session: AsyncSession, inspection: Inspection, now: datetime) -> None:
    """Note when the check was first opened."""
    await session.exec(update(Inspection).where(  # type: ignore[call-overload]
        col(Inspection.id) == inspection.id, col(Inspection.started_at).is_(None))
        .values(started_at=now))


async def finish(session: AsyncSession, inspection: Inspection, person_id: int,
                 now: datetime) -> bool:
    """Mark the check done, unless it was done or missed meanwhile: once."""
    result = await session.exec(update(Inspection).where(  # type: ignore[call-overload]
        col(Inspection.id) == inspection.id, col(Inspection.state) == DUE)
        .values(state=DONE, done_at=now, done_by=person_id))
    return bool(result.rowcount)


async def overdue(session: AsyncSession, now: datetime, limit: int = 200) -> list[Inspection]:
    """Checks still due whose deadline has passed (read through the state/deadline index)."""
    result = await session.exec(select(Inspection).where(
        col(Inspection.state) == DUE, col(Inspection.deadline_at) <= now)
        .order_by(col(Inspection.deadline_at)).limit(limit))
    return list(result.all())


async def claim_missed(session: AsyncSession, inspection: Inspection, now: datetime) -> bool:
    """Mark the check missed (and escalated now) unless it was done meanwhile: once."""
    result = await session.exec(update(Inspection).where(  # type: ignore[call-overload]
        col(Inspection.id) == inspection.id, col(Inspection.state) == DUE,
        col(Inspection.deadline_at) <= now)
        .values(state=MISSED, escalated_at=now))
    return bool(result.rowcount)


async def of_units(session: AsyncSession, unit_ids: Sequence[int], *, since: datetime,
                   limit: int = 30) -> list[Inspection]:
    """The units' checks still due, and those fallen due since ``since``; newest first."""
    if not unit_ids:
        return []
    result = await session.exec(select(Inspection).where(
        col(Inspection.unit_id).in_(list(unit_ids)),
        or_(col(Inspection.state) == DUE, col(Inspection.due_at) >= since))
        .order_by(col(Inspection.due_at).desc(), col(Inspection.id).desc()).limit(limit))
    return list(result.all())


async def answered_counts(session: AsyncSession,
                          inspection_ids: Sequence[int]) -> dict[int, int]:
    """How many items of each check have an answer."""
    if not inspection_ids:
        return {}
    result = await session.exec(
        select(InspectionAnswer.inspection_id, func.count())
        .where(col(InspectionAnswer.inspection_id).in_(list(inspection_ids)))
        .group_by(col(InspectionAnswer.inspection_id)))
    return {inspection_id: int(count) for inspection_id, count in result.all()}


async def completion_by_unit(session: AsyncSession, unit_ids: Sequence[int], start: datetime,
                             end: datetime) -> dict[int, CheckCompletion]:
    """Checks fallen due in [start, end) per unit: due, done, missed (one grouped query)."""
    if not unit_ids:
        return {}
    done = func.sum(case((col(Inspection.state) == DONE, 1), else_=0))
    missed = func.sum(case((col(Inspection.state) == MISSED, 1), else_=0))
    result = await session.exec(
        select(Inspection.unit_id, func.count(), done, missed)
        .where(col(Inspection.unit_id).in_(list(unit_ids)), col(Inspection.due_at) >= start,
               col(Inspection.due_at) < end)
        .group_by(col(Inspection.unit_id)))
    return {unit_id: CheckCompletion(int(due), int(done_count or 0), int(missed_count or 0))
            for unit_id, due, done_count, missed_count in result.all()}


async def post_workers(session: AsyncSession, post: str) -> list[tuple[Person, Unit]]:
    """Workers of a post who are in a bound team group, with their team (one query)."""
    result = await session.exec(
        select(Person, Unit)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .join(GroupChat, col(GroupChat.id) == col(Membership.group_chat_id))
        .join(Unit, col(Unit.id) == col(GroupChat.unit_id))
        .where(Person.post == post, col(Membership.active).is_(True),
               col(GroupChat.active).is_(True), Unit.kind == UnitKind.TEAM.value)
        .order_by(col(Unit.path), col(Person.id)))
    return [(person, unit) for person, unit in result.all()]


@dataclass(frozen=True)
class LedgerCheck:
    """One row of the checks sheet: a check, and one of its answers (or none)."""

    inspection: Inspection
    unit: str
    assignee: str
    done_by: str
    answer: InspectionAnswer | None
    answered_by: str
    hazard_code: str


async def ledger_checks(session: AsyncSession, *, unit_ids: Sequence[int], since: datetime,
                        until: datetime) -> list[LedgerCheck]:
    """Checks of ``unit_ids`` fallen due in [since, until), each answer a row, oldest first.

    A check without answers (missed, or still due) is one row with no answer.
    """
    result = await session.exec(
        select(Inspection, InspectionAnswer, Hazard.code)
        .outerjoin(InspectionAnswer, col(InspectionAnswer.inspection_id) == col(Inspection.id))
        .outerjoin(Hazard, col(Hazard.id) == col(InspectionAnswer.hazard_id))
        .where(col(Inspection.unit_id).in_(list(unit_ids)), col(Inspection.due_at) >= since,
               col(Inspection.due_at) < until)
        .order_by(col(Inspection.due_at), col(Inspection.id), col(InspectionAnswer.item_index)))
    rows = list(result.all())
    person_ids = {i for inspection, answer, _ in rows
                  for i in (inspection.assignee_id, inspection.done_by,
                            answer.person_id if answer else None) if i}
    names: dict[int | None, str] = {}
    if person_ids:
        found = await session.exec(select(Person.id, Person.name)
                                   .where(col(Person.id).in_(person_ids)))
        names = {person_id: name for person_id, name in found.all()}
    units = {u.id: u.name for u in (await session.exec(
        select(Unit).where(col(Unit.id).in_(list(unit_ids))))).all()}
    return [LedgerCheck(inspection, units.get(inspection.unit_id, ""),
                        names.get(inspection.assignee_id, ""), names.get(inspection.done_by, ""),
                        answer, names.get(answer.person_id, "") if answer else "", code or "")
            for inspection, answer, code in rows]
