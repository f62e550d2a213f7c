"""/language: the group's language (admins, leaders) or one's own (private chat)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.language import parse_language_choice
from handlers.common import (
    Context,
    actor_of,
    edit_message,
    is_chat_admin,
    is_group,
    language_of,
    reply,
    runtime,
    services,
)
from services import people as people_service
from services.base import Actor, Outcome
from services.people import LanguagePick, language_buttons


async def _actor(update: Update, context: Context) -> Actor | None:
    async with services(context).db.transaction() as session:
        return await actor_of(session, update, context)


async def _may_set_group_language(update: Update, context: Context, actor: Actor | None) -> bool:
    chat = update.effective_chat
    if chat is None or actor is None:
        return False
    if await people_service.may_set_group_language(runtime(context), actor, chat.id):
        return True
    # Only Telegram knows who administers the group: asked when the roles say no.
    return await is_chat_admin(context, chat.id, actor.telegram_id)


async def language_command(update: Update, context: Context) -> None:
    """Show the language buttons, or switch at once with ``/language en``."""
    group = is_group(update.effective_chat)
    actor = await _actor(update, context)
    if group and not await _may_set_group_language(update, context, actor):
        await reply(update, context, "language.not_allowed")
        return
    choice = parse_language_choice(" ".join(context.args or []))
    if choice is not None:
        done = await _apply(update, context, actor, "g" if group else "p", choice)
        await reply(update, context, done.key, **done.values)
        return
    svc = services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    await reply(update, context, "language.choose", reply_markup=InlineKeyboardMarkup.de_json(
        language_buttons("g" if group else "p", svc.renderer, lang), context.bot))


async def language_clicked(update: Update, context: Context) -> None:
    """A language button was pressed."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    pick = LanguagePick.unpack(query.data)
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        actor = await actor_of(session, update, context)
    if pick is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if pick.scope == "g" and (not is_group(update.effective_chat)
                              or not await _may_set_group_language(update, context, actor)):
        await query.answer(svc.renderer.plain("language.not_allowed", lang), show_alert=True)
        return
    if pick.scope == "p" and is_group(update.effective_chat):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    await query.answer()
    done = await _apply(update, context, actor, pick.scope, pick.code)
    if query.message is not None:
        await edit_message(query.edit_message_text(
            svc.renderer.html(done.key, pick.code, **done.values)))


async def _apply(update: Update, context: Context, actor: Actor | None, scope: str,
                 choice: str) -> Outcome:
    """Store the choice; the confirmation is said in the new language."""
    rt = runtime(context)
    context.forget()  # what this update says next is in the new language
    chat = update.effective_chat
    if scope == "g" and chat is not None:
        return await people_service.set_group_language(
            rt, chat_id=chat.id, title=chat.title or "", chat_type=chat.type, code=choice)
    if actor is None:
        return Outcome.done("language.set_private")
    return await people_service.set_own_language(rt, actor, choice)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /language and its buttons."""
    application.add_handler(CommandHandler("language", language_command))
    application.add_handler(CallbackQueryHandler(language_clicked, pattern=r"^lang:"))
