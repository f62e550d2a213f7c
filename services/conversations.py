"""Conversations in progress, whatever their feature: their names and the idle drop.

A conversation is a ``conversation_draft`` row whose ``step`` says which feature
owns it (``photo``/``location``/… for a hazard report, ``fix:12`` for a fix,
``ho:…`` for a handover).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from services.base import Runtime
from storage import drafts as drafts_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft

DRAFT_IDLE = timedelta(minutes=15)
# How a conversation names itself when cancelled or dropped idle: "<feature>.cancelled".
_FEATURES = {"pub": "publish", "ho": "handover", "sh": "shifts"}


def conversation_feature(step: str) -> str:
    """The text prefix naming a draft's conversation (``report``, ``handover``, …).

    The hazard report's steps have no prefix; reasons and fixes say ``conversation``.
    """
    if ":" not in step:
        return "report"
    return _FEATURES.get(step.split(":", 1)[0], "conversation")


async def drop_idle(rt: Runtime, now: datetime) -> int:
    """Drop the conversations nobody touched for 15 minutes and tell their chats so.

    Returns how many were dropped (and told through the outbox).
    """
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
                session, chat_id=draft.chat_id,
                html=rt.renderer.html(_dropped_key(draft), lang), now=now,
                purpose="report.dropped",
                dedupe_key=f"draft-dropped:{draft.id}:{int(draft.updated_at.timestamp())}")
            await drafts_repo.drop_draft(session, draft)
    if drafts:
        rt.wake()
    return len(drafts)


def idle_sweep(rt: Runtime) -> Callable[[datetime], Awaitable[None]]:
    """:func:`drop_idle` as a sweep of the timetable (every minute)."""

    async def sweep(now: datetime) -> None:
        await drop_idle(rt, now)

    return sweep


def _dropped_key(draft: ConversationDraft) -> str:
    """What to say about a dropped draft: each conversation names itself."""
    return f"{conversation_feature(draft.step)}.dropped_idle"
