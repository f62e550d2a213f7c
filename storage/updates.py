"""Which Telegram updates were already handled (Telegram may deliver one twice)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import ProcessedUpdate


async def was_processed(session: AsyncSession, *, bot_id: int, update_id: int) -> bool:
    """Tell whether this update was handled before."""
    return await session.get(ProcessedUpdate, (bot_id, update_id)) is not None


async def mark_processed(
    session: AsyncSession, *, bot_id: int, update_id: int, now: datetime
) -> None:
    """Remember that this update was handled."""
    await mark_many(session, bot_id=bot_id, update_ids=[update_id], now=now)


async def forget_before(session: AsyncSession, cutoff: datetime) -> None:
    """Drop records older than ``cutoff``: Telegram keeps undelivered updates 24 hours."""
    await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < cutoff))


async def handled_since(session: AsyncSession, *, bot_id: int, first_update_id: int) -> set[int]:
    """The ids from ``first_update_id`` on that were handled (a restarted bot's window)."""
    result = await session.exec(select(ProcessedUpdate.update_id).where(
        ProcessedUpdate.bot_id == bot_id, col(ProcessedUpdate.update_id) >= first_update_id))
    return set(result.all())


async def mark_many(session: AsyncSession, *, bot_id: int, update_ids: Sequence[int],
                    now: datetime) -> None:
    """Remember that these updates were handled (ids already known are skipped)."""
    await insert_skipping_duplicates(session, ProcessedUpdate, ["bot_id", "update_id"], [
        {"bot_id": bot_id, "update_id": update_id, "processed_at": now}
        for update_id in sorted(set(update_ids))])
