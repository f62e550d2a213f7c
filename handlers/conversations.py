"""Conversations by reply: one router for every plain message that answers the bot.

A conversation in progress is a ``conversation_draft`` row whose ``step`` says
which feature owns it (``photo``/``location``/… for a report, ``fix:12`` for a
fix, ``ho:…`` for a handover). Each feature registers a continuation; the
continuation changes the draft inside the transaction and returns what to say
once it is committed, so a crash never leaves a message about a change that
was not saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Message, Update
from telegram.ext import Application, MessageHandler, filters

from handlers.common import Context, is_group, learn_person, sender, services
from storage import drafts as drafts_repo
from storage.models import ConversationDraft

Say = Callable[[], Awaitable[Any]]
Continuation = Callable[[AsyncSession, Update, Context, ConversationDraft, Message],
                        Awaitable[Say | None]]

_routes: dict[str, Continuation] = {}
_default: list[Continuation] = []


def route(prefix: str, continuation: Continuation) -> None:
    """Send answers to drafts whose step starts with ``prefix:`` to ``continuation``."""
    _routes[prefix] = continuation


def route_default(continuation: Continuation) -> None:
    """Where drafts without a ``prefix:`` go (the hazard report's steps)."""
    _default[:] = [continuation]


def addressed_to_bot(message: Message, context: Context) -> bool:
    """In a group, only replies to the bot (and media) count as answers, not chatter."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None \
            and replied.from_user.id == context.bot.id:
        return True
    return bool(message.photo or message.document or message.location)


async def answer(update: Update, context: Context) -> None:
    """A plain message from someone with a conversation in progress in this chat."""
    message = update.effective_message
    user = sender(update)
    chat = update.effective_chat
    if message is None or user is None or chat is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        if draft is None:
            return
        if is_group(chat) and not addressed_to_bot(message, context):
            return  # chatter in the group, not an answer to our prompt
        prefix = draft.step.split(":", 1)[0] if ":" in draft.step else None
        continuation = _routes.get(prefix) if prefix else (_default[0] if _default else None)
        if continuation is None:
            return
        say = await continuation(session, update, context, draft, message)
    if say is not None:
        await say()


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the router; it must come after every feature's own message handlers."""
    # New messages only: an edited answer must not answer the step after it.
    application.add_handler(MessageHandler(
        filters.UpdateType.MESSAGE & ~filters.COMMAND & ~filters.StatusUpdate.ALL, answer))
