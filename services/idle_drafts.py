"""Conversations left idle: dropped after a while, and the chat is told."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.conversations import conversation_feature
from services.base import Runtime
from storage import drafts as drafts_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft

DRAFT_IDLE = timedelta(minutes=15)


async def drop_idle_drafts(rt: Runtime, now: datetime) -> int:
    """Drop every draft nobody touched for :data:`DRAFT_IDLE`, saying so; how many were."""
    async with rt.db.transaction() as session:
        drafts = await drafts_repo.idle_drafts(session, now - DRAFT_IDLE)
        for draft in drafts:
            people = await people_repo.people_by_ids(session, [draft.person_id])
            lang = people[0].language if people and people[0].language \
                else rt.default_language
            if draft.chat_id < 0:
                group = await org_repo.get_group_chat(session, draft.chat_id)
                unit = await org_repo.get_unit(session, group.unit_id) \
                    if group and group.unit_id else None
                lang = org_repo.unit_language(unit, group, rt.default_language)
            await outbox_repo.enqueue_text(
                session, chat_id=draft.chat_id, html=rt.renderer.html(_dropped_key(draft), lang),
                now=now, purpose="report.dropped",
                dedupe_key=f"draft-dropped:{draft.id}:{int(draft.updated_at.timestamp())}")
            await drafts_repo.drop_draft(session, draft)
    if drafts:
        rt.wake()
    return len(drafts)


def _dropped_key(draft: ConversationDraft) -> str:
    """What to say about a dropped draft: each conversation names itself."""
    return f"{conversation_feature(draft.step)}.dropped_idle"
