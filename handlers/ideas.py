"""金点子 in chat: ``/idea``, its answers by reply, the review buttons, ``/ideas``.

Parse → services/ideas.py → answer. Who may review is the service's (roles in
the org tree, never a chat admin rank).
"""

from __future__ import annotations

import contextlib

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.common import (
    Context,
    actor_of,
    bound_unit,
    button_press,
    is_group,
    language_of,
    photo_of,
    reply,
    runtime,
    sender,
    services,
    update_language,
)
from handlers.conversations import Say, route
from handlers.prompts import answer_press, send_prompts
from services import ideas as idea_service
from services.base import Actor
from services.ideas import IdeaButton, IdeaDraftButton
from storage.models import ConversationDraft


async def idea_command(update: Update, context: Context) -> None:
    """/idea [text]: propose an idea (a bound team group, or privately for one's team)."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
        team = (await bound_unit(session, chat.id))[1] if is_group(chat) else None
        lang = await language_of(session, update, context)
    if actor is None:
        return
    if is_group(chat) and team is None:
        await reply(update, context, "team.unbound")
        return
    answer = await idea_service.start(runtime(context), actor, chat.id, team=team,
                                      text=" ".join(context.args or []), lang=lang)
    await send_prompts(update, context, answer)


async def continue_idea(session: AsyncSession, update: Update, context: Context,
                        draft: ConversationDraft, message: Message) -> Say | None:
    """The idea's text, its photo, or a decline's reason."""
    actor = await actor_of(session, update, context)
    if actor is None:
        return None
    lang = await language_of(session, update, context)
    photo = photo_of(message)
    answer = await idea_service.record_answer(
        session, runtime(context), actor, draft, text=message.text,
        photo=(str(photo[0]), str(photo[1])) if isinstance(photo, list) else None, lang=lang)
    return lambda: send_prompts(update, context, answer)


async def draft_clicked(update: Update, context: Context) -> None:
    """No photo (submit), cancel."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "idd")
    button = IdeaDraftButton.unpack(query.data)
    actor = await _actor(update, context)
    if button is None or chat is None or user is None or actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    answer = await idea_service.press(runtime(context), actor, chat.id, button)
    if not answer.refused and query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
    await answer_press(update, context, query, answer)


async def review_clicked(update: Update, context: Context) -> None:
    """Adopt with points, decline, pass up."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "ida")
    button = IdeaButton.unpack(query.data)
    actor = await _actor(update, context)
    if button is None or chat is None or user is None or actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    answer = await idea_service.review(runtime(context), actor, chat.id, button)
    await answer_press(update, context, query, answer)


async def ideas_command(update: Update, context: Context) -> None:
    """/ideas: the ideas of this group's unit (and below), or privately of one's units."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        return
    actor = await _actor(update, context)
    if actor is None:
        return
    unit = None
    if is_group(chat):
        async with services(context).db.session() as session:
            unit = (await bound_unit(session, chat.id))[1]
        if unit is None:
            await reply(update, context, "team.unbound")
            return
    lang = await update_language(update, context)
    found = await idea_service.listing(runtime(context), actor, unit=unit, lang=lang)
    if not found.ideas:
        await reply(update, context, "idea.none", title=found.title)
        return
    await reply(update, context, "idea.list", title=found.title, counts=found.counts,
                ideas=found.ideas)


async def _actor(update: Update, context: Context) -> Actor | None:
    async with services(context).db.transaction() as session:
        return await actor_of(session, update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /idea, /ideas, the buttons and the answers by reply."""
    application.add_handler(CommandHandler("idea", idea_command))
    application.add_handler(CommandHandler("ideas", ideas_command))
    application.add_handler(CallbackQueryHandler(draft_clicked, pattern=r"^idd:"))
    application.add_handler(CallbackQueryHandler(review_clicked, pattern=r"^ida:"))
    route(idea_service.PREFIX, continue_idea)
