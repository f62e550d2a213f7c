"""Shift handovers: recorded, accepted once, watched until someone accepts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.handover import HandoverState
from storage.models import Handover


async def create(session: AsyncSession, **fields: Any) -> Handover:
    """Record a handover awaiting acceptance."""
    handover = Handover(**fields)
    session.add(handover)
    await session.flush()
    return handover


async def get(session: AsyncSession, handover_id: int) -> Handover | None:
    """The handover with this id."""
    return await session.get(Handover, handover_id)


async def accept(session: AsyncSession, handover: Handover, *, person_id: int,
                 now: datetime) -> bool:
    """Accept once: False if it was accepted (or changed) in the meantime."""
    result = await session.exec(
        update(Handover).where(col(Handover.id) == handover.id,
                               col(Handover.version) == handover.version,
                               col(Handover.state) == HandoverState.AWAITING)
        .values(state=HandoverState.ACCEPTED, accepted_at=now, accepted_by=person_id,
                next_check_at=None, version=handover.version + 1))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(handover)
    return True


async def advance(session: AsyncSession, handover: Handover, values: dict[str, Any]) -> bool:
    """Record a sweep's step (reminded, escalated, next check) on a handover still awaiting.

    Conditional on the version the sweep read: False when it was accepted (or moved
    on) meanwhile, and then the sweep sends nothing.
    """
    result = await session.exec(
        update(Handover).where(col(Handover.id) == handover.id,
                               col(Handover.version) == handover.version,
                               col(Handover.state) == HandoverState.AWAITING)
        .values(**values, version=handover.version + 1))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def due(session: AsyncSession, now: datetime, limit: int = 500) -> list[Handover]:
    """Handovers awaiting acceptance whose next check has come."""
    result = await session.exec(
        select(Handover).where(col(Handover.next_check_at) <= now,
                               Handover.state == HandoverState.AWAITING)
        .order_by(col(Handover.next_check_at)).limit(limit))
    return list(result.all())


async def recent(session: AsyncSession, unit_id: int, limit: int = 10) -> list[Handover]:
    """The latest handovers of a team, newest first."""
    result = await session.exec(
        select(Handover).where(Handover.unit_id == unit_id)
        .order_by(col(Handover.created_at).desc(), col(Handover.id).desc()).limit(limit))
    return list(result.all())
