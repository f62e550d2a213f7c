"""Which Telegram updates were already handled (Telegram may deliver one twice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ProcessedUpdate


async def was_processed(session: AsyncSession, *, bot_id: int, update_id: int) -> bool:
    """Tell whether this update was handled before."""
    return await session.get(ProcessedUpdate, (bot_id, update_id)) is not None


async def mark_processed(
    session: AsyncSession, *, bot_id: int, update_id: int, now: datetime
) -> None:
    """Remember that this update was handled."""
    if not await was_processed(session, bot_id=bot_id, update_id=update_id):
        session.add(ProcessedUpdate(bot_id=bot_id, update_id=update_id, processed_at=now))


async def forget_before(session: AsyncSession, cutoff: datetime) -> None:
    """Drop records older than ``cutoff``: Telegram keeps undelivered updates 24 hours."""
    await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < cutoff))
