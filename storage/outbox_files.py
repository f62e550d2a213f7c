"""Files the bot uploads itself, for outbox rows (charts, workbooks).

An outbox row is JSON; a file made by the bot has no Telegram file id until it is
sent, so a row names it as ``{"outbox_file": id}`` in the parameter that takes the
file (``photo``, ``document``) and the sender swaps in the bytes. Files are kept by
digest, so the same chart for five managers is one row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import OutboxFile

REFERENCE = "outbox_file"


async def store(session: AsyncSession, *, filename: str, content: bytes,
                now: datetime) -> int:
    """Keep a file (once per name and content) and return its id for :func:`reference`."""
    digest = hashlib.sha256(filename.encode() + b"\0" + content).hexdigest()
    await insert_skipping_duplicates(session, OutboxFile, ["digest"], [
        {"digest": digest, "filename": filename[:128], "content": content, "created_at": now}])
    # Stored earlier and queued again: it is young again, so pruning spares it.
    found = await session.exec(update(OutboxFile).where(col(OutboxFile.digest) == digest)
                               .values(created_at=now).returning(col(OutboxFile.id)))
    return int(found.scalar_one())


def reference(file_id: int) -> dict[str, int]:
    """The parameter value that stands for a stored file in an outbox row."""
    return {REFERENCE: file_id}


def referenced(params: Mapping[str, Any]) -> dict[str, int]:
    """The parameters of a row that name a stored file: ``{parameter: file id}``."""
    return {name: int(value[REFERENCE]) for name, value in params.items()
            if isinstance(value, dict) and set(value) == {REFERENCE}}


async def load(session: AsyncSession, file_ids: Iterable[int]) -> dict[int, tuple[str, bytes]]:
    """The stored files by id: ``{id: (file name, content)}``."""
    wanted = sorted(set(file_ids))
    if not wanted:
        return {}
    result = await session.exec(select(OutboxFile.id, OutboxFile.filename, OutboxFile.content)
                                .where(col(OutboxFile.id).in_(wanted)))
    return {file_id: (name, bytes(content)) for file_id, name, content in result.all()
            if file_id is not None}


async def forget_before(session: AsyncSession, when: datetime) -> int:
    """Drop files stored before ``when`` (their rows were sent or given up long ago)."""
    result = await session.exec(delete(OutboxFile).where(col(OutboxFile.created_at) < when))
    return int(result.rowcount)  # type: ignore[attr-defined]
