"""The training record's own rows: quiz answers, risk-card acknowledgements, drills."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import TrainingRecord


async def record(session: AsyncSession, *, person_id: int, unit_id: int | None, kind: str,
                 subject: str, result: str, at: datetime, dedupe_key: str,
                 detail: str | None = None) -> None:
    """Add an entry once: a second write with the same ``dedupe_key`` is skipped."""
    await insert_skipping_duplicates(session, TrainingRecord, ["dedupe_key"], [{
        "person_id": person_id, "unit_id": unit_id, "kind": kind, "subject": subject[:255],
        "result": result[:64], "detail": detail, "at": at, "dedupe_key": dedupe_key[:160]}])


async def entries_of(session: AsyncSession, person_id: int, *, since: datetime | None = None,
                     kinds: tuple[str, ...] = ()) -> list[TrainingRecord]:
    """A person's own entries, oldest first (optionally from ``since``, of ``kinds``)."""
    query = select(TrainingRecord).where(TrainingRecord.person_id == person_id)
    if since is not None:
        query = query.where(col(TrainingRecord.at) >= since)
    if kinds:
        query = query.where(col(TrainingRecord.kind).in_(kinds))
    result = await session.exec(query.order_by(col(TrainingRecord.at), col(TrainingRecord.id)))
    return list(result.all())


async def entries_of_units(session: AsyncSession, unit_ids: list[int], start: datetime,
                           end: datetime) -> list[TrainingRecord]:
    """Entries made in these units between ``start`` and ``end`` (for exports)."""
    if not unit_ids:
        return []
    result = await session.exec(select(TrainingRecord).where(
        col(TrainingRecord.unit_id).in_(unit_ids), col(TrainingRecord.at) >= start,
        col(TrainingRecord.at) < end).order_by(col(TrainingRecord.at)))
    return list(result.all())
