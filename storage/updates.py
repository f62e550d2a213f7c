"""The update inbox: updates received and not yet handled, and the ids handled
(Telegram may deliver one twice). One table, ``processed_update``; see
:class:`storage.models.ProcessedUpdate` and :mod:`bot.inbox`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute_many, insert_skipping_duplicates
from storage.models import ProcessedUpdate


async def was_processed(session: AsyncSession, *, bot_id: int, update_id: int) -> bool:
    """Tell whether this update was handled before (received only does not count)."""
    row = await session.get(ProcessedUpdate, (bot_id, update_id))
    return row is not None and row.processed_at is not None


async def mark_processed(
    session: AsyncSession, *, bot_id: int, update_id: int, now: datetime
) -> None:
    """Remember that this update was handled."""
    await mark_many(session, bot_id=bot_id, update_ids=[update_id], now=now)


async def forget_before(session: AsyncSession, cutoff: datetime) -> None:
    """Drop records of updates handled before ``cutoff`` (Telegram keeps undelivered
    updates 24 hours). Updates received and not yet handled are kept."""
    await session.exec(delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < cutoff))


async def handled_since(session: AsyncSession, *, bot_id: int, first_update_id: int) -> set[int]:
    """The ids from ``first_update_id`` on that were handled (a restarted bot's window)."""
    result = await session.exec(select(ProcessedUpdate.update_id).where(
        ProcessedUpdate.bot_id == bot_id, col(ProcessedUpdate.update_id) >= first_update_id,
        col(ProcessedUpdate.processed_at).is_not(None)))
    return set(result.all())


async def mark_many(session: AsyncSession, *, bot_id: int, update_ids: Sequence[int],
                    now: datetime) -> None:
    """Remember that these updates were handled, dropping their payloads (one
    statement; an update not in the inbox, as in tests, gets its row here)."""
    if not update_ids:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    statement = insert(table)
    # An id handled already keeps its first time stamp (a repeat changes nothing).
    await execute_many(session, statement.on_conflict_do_update(
        index_elements=["bot_id", "update_id"],
        set_={"processed_at": statement.excluded.processed_at, "payload": None},
        where=table.c.processed_at.is_(None)),
        [{"bot_id": bot_id, "update_id": update_id, "processed_at": now,
          "payload": None} for update_id in sorted(set(update_ids))])


async def receive_many(session: AsyncSession, *, bot_id: int,
                       payloads: Sequence[tuple[int, str]]) -> None:
    """Put received updates (id, JSON) in the inbox in one statement; ids already
    there (received or handled: a redelivery) are left as they are."""
    await insert_skipping_duplicates(session, ProcessedUpdate, ["bot_id", "update_id"], [
        {"bot_id": bot_id, "update_id": update_id, "payload": payload}
        for update_id, payload in payloads])


async def unhandled(session: AsyncSession, *, bot_id: int) -> list[tuple[int, str]]:
    """The updates received and not yet handled (id, JSON), in update id order."""
    result = await session.exec(select(ProcessedUpdate.update_id, ProcessedUpdate.payload).where(
        ProcessedUpdate.bot_id == bot_id, col(ProcessedUpdate.processed_at).is_(None),
        col(ProcessedUpdate.payload).is_not(None)).order_by(col(ProcessedUpdate.update_id)))
    return [(update_id, payload) for update_id, payload in result.all() if payload is not None]
