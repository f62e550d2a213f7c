"""事故快报 in chat: ``/incident``, its questions by reply, its buttons, the follow-ups.

Parse → services/incidents.py → answer. In a group the questions are reply
prompts (ForceReply), so the report works with privacy mode on; in a private chat
it is the reporter's team. Rights (the team's leaders and above for follow-ups)
are the service's.
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
)
from handlers.conversations import Say, route
from handlers.prompts import answer_press, send_prompts
from services import incidents as incident_service
from services.base import Actor
from services.incident_notices import IncidentButton
from services.incidents import Answer, IncidentDraftButton
from storage.models import ConversationDraft


async def incident_command(update: Update, context: Context) -> None:
    """/incident: start an accident quick report (a bound team group, or privately)."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
        team = (await bound_unit(session, chat.id))[1] if is_group(chat) else None
    if actor is None:
        return
    if is_group(chat) and team is None:
        await reply(update, context, "team.unbound")
        return
    answer = await incident_service.start(runtime(context), actor, chat.id, team=team)
    await send_prompts(update, context, answer)


def answer_of(message: Message) -> Answer:
    """What a message says to the conversation: a text, a place pin or a photo."""
    photo = photo_of(message)
    return Answer(text=message.text,
                  photo=(str(photo[0]), str(photo[1])) if isinstance(photo, list) else None,
                  too_big=photo == "too_big",
                  latitude=message.location.latitude if message.location else None,
                  longitude=message.location.longitude if message.location else None)


async def continue_incident(session: AsyncSession, update: Update, context: Context,
                            draft: ConversationDraft, message: Message) -> Say | None:
    """One answer to the report or a follow-up, inside the router's transaction."""
    actor = await actor_of(session, update, context)
    if actor is None:
        return None
    lang = await language_of(session, update, context)
    answer = await incident_service.record_answer(session, runtime(context), actor, draft,
                                                  answer_of(message), lang)
    return lambda: send_prompts(update, context, answer)


async def draft_clicked(update: Update, context: Context) -> None:
    """Just now, how badly, skip the photo, report now, cancel."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "icd")
    button = IncidentDraftButton.unpack(query.data)
    actor = await _actor(update, context)
    if button is None or chat is None or user is None or actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    answer = await incident_service.press(runtime(context), actor, chat.id, button, lang)
    if not answer.refused and query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)  # one answer per prompt
    await answer_press(update, context, query, answer)


async def follow_up_clicked(update: Update, context: Context) -> None:
    """Casualties changed, under control, a note, the final report."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "inc")
    button = IncidentButton.unpack(query.data)
    actor = await _actor(update, context)
    if button is None or chat is None or user is None or actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    answer = await incident_service.press_follow_up(runtime(context), actor, chat.id, button,
                                                    lang)
    await answer_press(update, context, query, answer)


async def _actor(update: Update, context: Context) -> Actor | None:
    async with services(context).db.transaction() as session:
        return await actor_of(session, update, context)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /incident, its buttons and its answers by reply."""
    application.add_handler(CommandHandler("incident", incident_command))
    application.add_handler(CallbackQueryHandler(draft_clicked, pattern=r"^icd:"))
    application.add_handler(CallbackQueryHandler(follow_up_clicked, pattern=r"^inc:"))
    route(incident_service.PREFIX, continue_incident)
