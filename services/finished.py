"""Buttons of finished things come off their messages, through the outbox.

A handover accepted, a meeting held: the buttons under their posts would only
answer "out of date". The messages were sent through the outbox, so their rows
(found by dedupe key) know the Telegram message to edit; a row not sent yet
loses its buttons before it goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.delivery import OutboxStatus
from storage import outbox as outbox_repo
from storage.models import OutboxMessage

MAX_PARTS = 8  # a text is split under 4096 characters; buttons sit on its last part


async def last_part(session: AsyncSession, dedupe_key: str) -> OutboxMessage | None:
    """The outbox row of the last part of a text queued under ``dedupe_key``."""
    keys = [dedupe_key] + [f"{dedupe_key}#{n}" for n in range(2, MAX_PARTS + 1)]
    ids = await outbox_repo.ids_by_key(session, keys)
    return await session.get(OutboxMessage, max(ids.values())) if ids else None


def _kept(markup: dict[str, Any], keep: Callable[[str], bool] | None) -> dict[str, Any] | None:
    """The markup with only the buttons whose callback data ``keep`` accepts (None: none)."""
    rows = [[button for button in row if keep is not None
             and keep(str(button.get("callback_data", "")))]
            for row in markup.get("inline_keyboard", [])]
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None


async def remove_buttons(session: AsyncSession, dedupe_keys: Sequence[str], *,
                         now: datetime, purpose: str,
                         keep: Callable[[str], bool] | None = None) -> bool:
    """Take the buttons off the messages queued under these keys. True if an edit was queued.

    ``keep`` names buttons (by callback data) that still apply, e.g. "open". A message
    already sent gets an ``editMessageReplyMarkup``; one still waiting in the queue
    is sent without the finished buttons.
    """
    queued = False
    for key in dedupe_keys:
        row = await last_part(session, key)
        if row is None:
            continue
        params = outbox_repo.params_of(row)
        if "reply_markup" not in params:
            continue
        markup = _kept(params["reply_markup"], keep)
        if markup == params["reply_markup"]:
            continue
        if row.telegram_message_id is not None:
            edit_params: dict[str, Any] = {"message_id": row.telegram_message_id}
            if markup is not None:
                edit_params["reply_markup"] = markup
            edit = await outbox_repo.enqueue(
                session, chat_id=row.chat_id, method="editMessageReplyMarkup",
                params=edit_params, now=now, purpose=purpose,
                dedupe_key=f"no-buttons:{row.id}")
            queued |= edit is not None
        elif row.status == OutboxStatus.PENDING.value:
            if markup is None:
                params.pop("reply_markup")
            else:
                params["reply_markup"] = markup
            # Only while nobody is sending it: a row being sent keeps its buttons, and
            # a late press on them says what happened.
            await session.exec(update(OutboxMessage).where(
                col(OutboxMessage.id) == row.id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value)
                .values(payload=json.dumps(params, ensure_ascii=False)))
    return queued
