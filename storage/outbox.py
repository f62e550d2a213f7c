"""The outbox table: notifications are written here first and sent by the dispatcher.

Rows are claimed with a lease before sending, so a second instance (hot
standby) never sends the same row at the same time. A claim's owner is
``<instance>#<process token>``: a process restarted under the same instance
identity takes back its dead predecessor's claims at once (:func:`take_back`);
another instance's claims come back only when their lease runs out, and a live
sender renews its lease (:func:`renew_claims`), so they never do while it lives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.delivery import OutboxStatus
from domain.telegram_html import split_message
from storage.db import execute_many, insert_skipping_duplicates
from storage.models import OutboxMessage


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    params: Mapping[str, Any],
    now: datetime,
    purpose: str,
    method: str = "sendMessage",
    dedupe_key: str | None = None,
    person_id: int | None = None,
) -> OutboxMessage | None:
    """Queue one Bot API call. Returns None when ``dedupe_key`` was already queued."""
    if dedupe_key is not None:
        existing = await session.exec(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing.first() is not None:
            return None
    row = OutboxMessage(dedupe_key=dedupe_key, purpose=purpose, chat_id=chat_id,
                        person_id=person_id, method=method,
                        payload=json.dumps(dict(params), ensure_ascii=False),
                        status=OutboxStatus.PENDING, next_attempt_at=now, created_at=now)
    session.add(row)
    await session.flush()
    return row


def text_parts(
    *,
    html: str,
    reply_markup: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[tuple[dict[str, Any], str | None]]:
    """An HTML text as (params, dedupe key) per message, split under 4096 characters.

    The buttons go with the last part, so they sit under the whole text.
    """
    parts = split_message(html) or [html]
    items: list[tuple[dict[str, Any], str | None]] = []
    for index, part in enumerate(parts):
        params: dict[str, Any] = {"text": part, "parse_mode": "HTML", **(extra or {})}
        if reply_markup is not None and index == len(parts) - 1:
            params["reply_markup"] = dict(reply_markup)
        key = dedupe_key if dedupe_key is None or index == 0 else f"{dedupe_key}#{index + 1}"
        items.append((params, key))
    return items


async def enqueue_text(
    session: AsyncSession,
    *,
    chat_id: int,
    html: str,
    now: datetime,
    purpose: str,
    reply_markup: Mapping[str, Any] | None = None,
    dedupe_key: str | None = None,
    person_id: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[OutboxMessage]:
    """Queue an HTML text (split as :func:`text_parts` does).

    Returns the queued rows (empty when ``dedupe_key`` was queued before).
    """
    rows: list[OutboxMessage] = []
    for params, key in text_parts(html=html, reply_markup=reply_markup,
                                  dedupe_key=dedupe_key, extra=extra):
        row = await enqueue(session, chat_id=chat_id, params=params, now=now, purpose=purpose,
                            dedupe_key=key, person_id=person_id)
        if row is None:
            return rows
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Outgoing:
    """One message for :func:`enqueue_many`."""

    chat_id: int
    params: Mapping[str, Any]
    purpose: str
    dedupe_key: str
    person_id: int | None = None
    method: str = "sendMessage"


async def enqueue_many(session: AsyncSession, items: Sequence[Outgoing], *,
                       now: datetime) -> None:
    """Queue many messages in one statement; keys already queued are skipped.

    For sweeps that queue hundreds of alerts at once: no read-before-write, no
    flush per row, and the unique dedupe key still guarantees "never twice".
    """
    await insert_skipping_duplicates(session, OutboxMessage, ["dedupe_key"], [
        {"dedupe_key": i.dedupe_key, "purpose": i.purpose, "chat_id": i.chat_id,
         "person_id": i.person_id, "method": i.method,
         "payload": json.dumps(dict(i.params), ensure_ascii=False),
         "status": OutboxStatus.PENDING.value, "attempts": 0, "next_attempt_at": now,
         "created_at": now} for i in items])


async def ids_by_key(session: AsyncSession, keys: Sequence[str]) -> dict[str, int]:
    """The row id of each queued dedupe key (after :func:`enqueue_many`)."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), 500):  # bound the IN list
        result = await session.exec(
            select(OutboxMessage.dedupe_key, OutboxMessage.id)
            .where(col(OutboxMessage.dedupe_key).in_(keys[start:start + 500])))
        found.update({key: row_id for key, row_id in result.all() if key and row_id})
    return found


async def claim_due(
    session: AsyncSession, *, now: datetime, owner: str, lease: timedelta, limit: int = 100
) -> list[OutboxMessage]:
    """Claim up to ``limit`` rows that are due (or whose sender's lease ran out), oldest first."""
    due = or_(
        (col(OutboxMessage.status) == OutboxStatus.PENDING.value)
        & (col(OutboxMessage.next_attempt_at) <= now),
        (col(OutboxMessage.status) == OutboxStatus.SENDING.value)
        & (col(OutboxMessage.lease_until) < now),
    )
    # The statuses written into the SQL, not bound: PostgreSQL uses the partial index
    # of rows still to send (ix_outbox_open) only when it sees the values, and a
    # prepared statement's generic plan does not.
    still_open = col(OutboxMessage.status).in_(
        [literal(status.value, literal_execute=True)
         for status in (OutboxStatus.PENDING, OutboxStatus.SENDING)])
    query = select(OutboxMessage.id).where(due, still_open).order_by(col(OutboxMessage.id)) \
        .limit(limit)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list((await session.exec(query)).all())
    if not candidates:
        return []
    # Conditional and in one statement: another sender may have claimed some of them
    # since we read (SQLite has no SKIP LOCKED), and only one UPDATE wins each row.
    result = await session.exec(
        update(OutboxMessage).where(col(OutboxMessage.id).in_(candidates), due)
        .values(status=OutboxStatus.SENDING.value, lease_owner=owner,
                lease_until=now + lease)
        .returning(col(OutboxMessage.id)))
    claimed = list(result.scalars().all())
    if not claimed:
        return []
    rows = await session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(claimed))
                              .order_by(col(OutboxMessage.id))
                              .execution_options(populate_existing=True))
    return list(rows.all())


async def take_back(session: AsyncSession, *, instance: str | None, owner: str) -> int:
    """Return to the queue the rows an earlier process of ``instance`` left mid-send.

    Called once when a sender starts: one instance runs one process at a time, so a
    claim of the same instance under another token belongs to a process that died.
    Its rows were either not sent yet or in flight when it died (every answered send
    is recorded at once), so sending them again is the only way not to lose them.
    ``instance=None``: every other owner's claims (a new leader of a hot standby: only
    the leader sends, and the one before it has stopped, see ``bot.leadership``).
    """
    claimed_elsewhere = [col(OutboxMessage.status) == OutboxStatus.SENDING.value,
                         col(OutboxMessage.lease_owner) != owner]
    if instance is not None:
        claimed_elsewhere.append(
            col(OutboxMessage.lease_owner).startswith(f"{instance}#", autoescape=True))
    result = await session.exec(
        update(OutboxMessage).where(*claimed_elsewhere)
        .values(status=OutboxStatus.PENDING.value, lease_owner=None, lease_until=None))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def renew_claims(session: AsyncSession, *, owner: str, until: datetime) -> int:
    """Extend the lease of every row ``owner`` is still sending (a slow chat, a long batch)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.status) == OutboxStatus.SENDING.value,
               col(OutboxMessage.lease_owner) == owner)
        .values(lease_until=until))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _finish(
    session: AsyncSession, row_id: int, owner: str, values: Mapping[str, Any]
) -> bool:
    """Update a claimed row only if this sender still holds its claim."""
    result = await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id,
               col(OutboxMessage.status) == OutboxStatus.SENDING.value,
               col(OutboxMessage.lease_owner) == owner)
        .values(**values, lease_owner=None, lease_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_sent_many(
    session: AsyncSession, deliveries: Sequence[tuple[int, int | None, int]], *, owner: str,
    now: datetime,
) -> None:
    """Record many deliveries, each (row id, message id, attempts), in one statement.

    Exactly once: a row this sender no longer holds (taken over after its lease ran
    out, or already marked) is left alone.
    """
    if not deliveries:
        return
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"),
               table.c.status == OutboxStatus.SENDING.value, table.c.lease_owner == owner)
        .values(status=OutboxStatus.SENT.value, sent_at=now,
                telegram_message_id=bindparam("message_id"), attempts=bindparam("tries"),
                last_error=None, lease_owner=None, lease_until=None))
    await execute_many(session, statement, [
        {"row_id": row_id, "message_id": message_id, "tries": attempts}
        for row_id, message_id, attempts in deliveries])


async def record_poll_ids(session: AsyncSession, poll_ids: Mapping[int, str]) -> None:
    """Keep the id Telegram gave each sent poll (row id -> poll id)."""
    for row_id, poll_id in poll_ids.items():
        await session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row_id)
                           .values(poll_id=poll_id))


async def mark_retry(
    session: AsyncSession, row_id: int, *, owner: str, next_attempt_at: datetime, error: str,
    attempts: int, chat_id: int | None = None,
) -> bool:
    """Put a row back in the queue for a later attempt (optionally to a new chat id)."""
    values: dict[str, Any] = {"status": OutboxStatus.PENDING.value,
                              "next_attempt_at": next_attempt_at, "last_error": error[:1000],
                              "attempts": attempts}
    if chat_id is not None:
        values["chat_id"] = chat_id
    return await _finish(session, row_id, owner, values)


async def mark_failed(
    session: AsyncSession, row_id: int, *, owner: str, error: str, attempts: int
) -> bool:
    """Give up on a row, keeping the reason."""
    return await _finish(session, row_id, owner, {
        "status": OutboxStatus.FAILED.value, "last_error": error[:1000], "attempts": attempts})


async def failed_since(session: AsyncSession, *, purpose: str,
                       since: datetime) -> list[OutboxMessage]:
    """Rows of ``purpose`` given up on whose last attempt was due at or after ``since``."""
    result = await session.exec(
        select(OutboxMessage).where(col(OutboxMessage.status) == OutboxStatus.FAILED.value,
                                    col(OutboxMessage.next_attempt_at) >= since,
                                    col(OutboxMessage.purpose) == purpose)
        .order_by(col(OutboxMessage.id)))
    return list(result.all())


async def statuses_of_batch(session: AsyncSession, *, purpose: str, created_at: datetime,
                            key_prefix: str) -> list[str]:
    """The status of every ``purpose`` row queued at ``created_at`` whose key starts so.

    Rows queued together (one sweep's alerts) share ``created_at``, which is indexed,
    so this reads a handful of rows however large the outbox has grown.
    """
    result = await session.exec(
        select(OutboxMessage.dedupe_key, OutboxMessage.status)
        .where(col(OutboxMessage.created_at) == created_at,
               col(OutboxMessage.purpose) == purpose))
    return [status for key, status in result.all() if (key or "").startswith(key_prefix)]


async def release(session: AsyncSession, row_id: int, *, owner: str) -> bool:
    """Hand back a claimed row that was not attempted (kept for ordering)."""
    return await _finish(session, row_id, owner, {"status": OutboxStatus.PENDING.value})


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest pending row falls due, or None when nothing waits."""
    result = await session.exec(
        select(func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status == OutboxStatus.PENDING.value))
    return result.first()


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many rows are in each status."""
    result = await session.exec(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: int(n) for status, n in result.all()}


def params_of(row: OutboxMessage) -> dict[str, Any]:
    """The stored Bot API parameters of a row."""
    value: dict[str, Any] = json.loads(row.payload)
    return value


async def backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many rows wait to be sent, and when the oldest of them was queued."""
    result = await session.exec(
        select(func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == OutboxStatus.PENDING.value))
    count, oldest = result.one()
    return int(count), oldest
