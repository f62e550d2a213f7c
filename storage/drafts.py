"""Conversations in progress: one draft per person per chat, kept across restarts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConversationDraft


async def get_draft(session: AsyncSession, chat_id: int,
                    person_id: int) -> ConversationDraft | None:
    """The person's conversation in progress in this chat."""
    result = await session.exec(select(ConversationDraft).where(
        ConversationDraft.chat_id == chat_id, ConversationDraft.person_id == person_id))
    return result.first()


async def start_draft(session: AsyncSession, chat_id: int, person_id: int, *, step: str,
                      data: dict[str, Any], now: datetime) -> ConversationDraft:
    """Begin (or restart) a conversation; an older one in the same chat is replaced."""
    draft = await get_draft(session, chat_id, person_id)
    if draft is None:
        draft = ConversationDraft(chat_id=chat_id, person_id=person_id, step=step, updated_at=now)
    draft.step, draft.data, draft.updated_at = step, json.dumps(data, ensure_ascii=False), now
    session.add(draft)
    await session.flush()
    return draft


def draft_data(draft: ConversationDraft) -> dict[str, Any]:
    """The collected answers of a draft."""
    value: dict[str, Any] = json.loads(draft.data)
    return value


def save_draft(session: AsyncSession, draft: ConversationDraft, *, step: str, data: dict[str, Any],
               now: datetime) -> None:
    """Store the next step and the answers so far."""
    draft.step, draft.data, draft.updated_at = step, json.dumps(data, ensure_ascii=False), now
    session.add(draft)


async def drop_draft(session: AsyncSession, draft: ConversationDraft) -> None:
    """Forget a draft (submitted, cancelled or idle)."""
    await session.delete(draft)


async def idle_drafts(session: AsyncSession, cutoff: datetime) -> list[ConversationDraft]:
    """Drafts nobody touched since ``cutoff``."""
    result = await session.exec(
        select(ConversationDraft).where(col(ConversationDraft.updated_at) < cutoff))
    return list(result.all())


