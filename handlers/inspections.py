"""Inspections (检查) in chat: ``/checks``, the check's buttons, typed answers by reply.

Parse → services/inspections.py → answer. The service queues every question in
the outbox (a check's next item, the question again after a number that is not
one); a press is answered at once with a short toast.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.common import (
    Context,
    actor_of,
    photo_of,
    reply,
    runtime,
    sender,
    services,
    update_language,
)
from handlers.conversations import Say
from handlers.evidence import keep_photos
from services import check_answers
from services import inspections as inspection_service
from services.check_answers import Reply
from services.inspections import InspectionButton
from storage.models import ConversationDraft

# Refusals shown in a box the presser must dismiss; other answers are a short toast.
_ALERTS = frozenset({"callback.stale", "checks.not_yours", "checks.no_longer_due",
                     "checks.already_done", "checks.gone"})


async def checks_command(update: Update, context: Context) -> None:
    """/checks: what is due and done for the asker's unit, with start buttons."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    lang = await update_language(update, context)
    found = await inspection_service.board(runtime(context), actor, chat_id=chat.id, lang=lang)
    markup = InlineKeyboardMarkup.de_json(found.markup, context.bot) if found.markup else None
    await reply(update, context, found.key, reply_markup=markup, **found.values)


async def check_clicked(update: Update, context: Context) -> None:
    """Start (``go``), OK and not OK."""
    query = update.callback_query
    assert query is not None
    button = InspectionButton.unpack(query.data)
    chat = update.effective_chat
    rt = runtime(context)
    lang = await update_language(update, context)
    outcome = None
    if button is not None and sender(update) is not None and chat is not None:
        async with services(context).db.transaction() as session:
            actor = await actor_of(session, update, context)
        if actor is not None:
            outcome = await check_answers.press(
                rt, actor, button, chat_id=chat.id,
                message_id=query.message.message_id if query.message is not None else None)
    key, values = (outcome.key, outcome.values) if outcome is not None \
        else ("callback.stale", {})
    await query.answer(rt.renderer.plain(key, lang, **values), show_alert=key in _ALERTS)


async def continue_check(session: AsyncSession, update: Update, context: Context,
                         draft: ConversationDraft, message: Message) -> Say | None:
    """A typed number, a photo or a note for a check in progress (inside the router's
    transaction); once committed, the outbox is woken and a new hazard's photo kept."""
    actor = await actor_of(session, update, context)
    if actor is None:
        return None
    photo = photo_of(message)
    answer = Reply(text=message.text or message.caption,
                   photo=(str(photo[0]), str(photo[1])) if isinstance(photo, list) else None,
                   message_id=message.message_id)
    done = await check_answers.continue_in(session, runtime(context), actor, draft, answer)

    async def say() -> None:
        services(context).wake_outbox()
        await keep_photos(context, done.hazard_id, "before", done.photos)

    return say


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /checks and the check's buttons (typed answers come through the router)."""
    application.add_handler(CommandHandler("checks", checks_command))
    application.add_handler(CallbackQueryHandler(check_clicked, pattern=r"^ck:"))
