"""Posts and risk cards (两单两卡): /post, /card, the card briefing's buttons, ``/start cards``."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers.common import (
    Context,
    actor_of,
    edit_message,
    is_group,
    language_of,
    learn_person,
    reply,
    runtime,
    send_html,
    sender,
    services,
    team_here,
)
from handlers.roles import _arguments
from services import cards as cards_service
from services.buttons import parse_button

POST_USAGE = "post.usage"


async def post_command(update: Update, context: Context) -> None:
    """/post @worker POST (or replying to the worker's message): give a post, in the group."""
    user = sender(update)
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    here = await team_here(update, context)
    if here is None:
        return
    group, _ = here
    args, target_user = _arguments(update)
    username = next((w[1:] for w in args if w.startswith("@")), None)
    words = [w for w in args if not w.startswith("@")]
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    if target_user is None and username is None and replied is not None:
        target_user = replied.from_user
    if not words or (target_user is None and username is None) \
            or (target_user is not None and target_user.is_bot):
        await reply(update, context, POST_USAGE)
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
        target = await learn_person(session, target_user, context) \
            if target_user is not None else None
    assert actor is not None
    done = await cards_service.set_post(
        runtime(context), actor, chat_id=group.chat_id, post_text=" ".join(words),
        person_id=target.id if target is not None else None, username=username,
        bot_username=context.bot.username or "")
    await reply(update, context, done.key, **done.values)


async def card_command(update: Update, context: Context) -> None:
    """/card [risk|duty|operation|emergency]: one's own cards, here and now."""
    if sender(update) is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
        lang = await language_of(session, update, context)
    assert actor is not None
    kind = cards_service.card_kind(context.args[0] if context.args else None)
    done = await cards_service.my_cards(runtime(context), actor, kind, lang)
    message = update.effective_message
    if not done.ok or message is None:
        await reply(update, context, done.key, **done.values)
        return
    await send_html(message, "\n\n".join(done.values["texts"]))


async def start_cards(update: Update, context: Context) -> None:
    """``/start cards`` (the group mention's button): the briefing's current step."""
    user = sender(update)
    message = update.effective_message
    if user is None or message is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        if not person.started or person.blocked:
            person.started, person.blocked = True, False  # a private message opens the chat
            session.add(person)
        actor = await actor_of(session, update, context)
    assert actor is not None
    step = await cards_service.show_next(runtime(context), actor)
    if step is None:
        await reply(update, context, "cards.nothing_open")
        return
    await send_html(message, step.html, reply_markup=InlineKeyboardMarkup.de_json(
        step.markup, context.bot) if step.markup else None)


async def step_clicked(update: Update, context: Context) -> None:
    """A card acknowledged or a check question answered (private chat buttons)."""
    query = update.callback_query
    assert query is not None
    svc, chat = services(context), update.effective_chat
    button = parse_button(query.data)
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        actor = await actor_of(session, update, context) \
            if isinstance(button, cards_service.CardStep) else None
    if not isinstance(button, cards_service.CardStep) or actor is None or chat is None \
            or is_group(chat):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    done = await cards_service.press(runtime(context), actor, button)
    if not done.ok or done.step is None:
        await query.answer(svc.renderer.plain(done.key, lang), show_alert=True)
        return
    await query.answer()
    message = query.message
    if not isinstance(message, Message):
        return
    # The pressed message keeps its text and loses its buttons; feedback and the next
    # step follow as new messages, so the private chat reads as the briefing's record.
    await edit_message(query.edit_message_reply_markup(reply_markup=None))
    if done.feedback:
        await message.reply_html(done.feedback)
    markup = InlineKeyboardMarkup.de_json(done.step.markup, context.bot) \
        if done.step.markup else None
    await send_html(message, done.step.html, reply_markup=markup)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /post, /card, ``/start cards`` (before /start) and the briefing's buttons."""
    application.add_handler(CommandHandler("post", post_command))
    application.add_handler(CommandHandler("card", card_command))
    application.add_handler(CommandHandler(
        "start", start_cards, filters=filters.ChatType.PRIVATE & filters.Regex(
            rf"^/start(@\w+)?\s+{cards_service.DEEP_LINK}\s*$")))
    application.add_handler(CallbackQueryHandler(step_clicked, pattern=r"^card:"))
