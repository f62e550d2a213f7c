"""/language: the group's language (admins, leaders) or one's own (private chat)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.render import Renderer
from domain.language import SUPPORTED_LANGUAGES, parse_language_choice
from domain.org import Role, has_role_over
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    edit_message,
    is_bot_admin,
    is_chat_admin,
    is_group,
    language_of,
    learn_person,
    reply,
    sender,
    services,
)
from services.buttons import pack
from storage import org as org_repo


def language_keyboard(scope: str, renderer: Renderer, lang: str) -> InlineKeyboardMarkup:
    """Buttons to pick a language for the group ("g") or for oneself ("p")."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(renderer.plain(f"button.lang_{code}", lang),
                             callback_data=pack("lang", scope, code))
        for code in SUPPORTED_LANGUAGES
    ]])


async def _may_set_group_language(update: Update, context: Context) -> bool:
    chat = update.effective_chat
    user = sender(update)
    if chat is None or user is None:
        return False
    async with services(context).db.session() as session:
        if await is_bot_admin(session, user.id, context):
            return True
        _, unit = await bound_unit(session, chat.id)
        person = await learn_person(session, user, context)
        if unit is not None and person.id is not None:
            grants = await org_repo.grants_of(session, person.id)
            if has_role_over(grants, unit.path, Role.TEAM_LEADER):
                return True
    return await is_chat_admin(context, chat.id, user.id)


async def language_command(update: Update, context: Context) -> None:
    """Show the language buttons, or switch at once with ``/language en``."""
    group = is_group(update.effective_chat)
    if group and not await _may_set_group_language(update, context):
        await reply(update, context, "language.not_allowed")
        return
    choice = parse_language_choice(" ".join(context.args or []))
    if choice is not None:
        await _apply(update, context, "g" if group else "p", choice)
        return
    svc = services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    await reply(update, context, "language.choose",
                reply_markup=language_keyboard("g" if group else "p", svc.renderer, lang))


async def language_clicked(update: Update, context: Context) -> None:
    """A language button was pressed."""
    query, _user, _chat, svc, lang, parts = await button_press(update, context, "lang")
    if parts is None or len(parts) != 2 or parts[0] not in ("g", "p") \
            or parts[1] not in SUPPORTED_LANGUAGES:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    scope, choice = parts
    if scope == "g" and (not is_group(update.effective_chat)
                         or not await _may_set_group_language(update, context)):
        await query.answer(svc.renderer.plain("language.not_allowed", lang), show_alert=True)
        return
    if scope == "p" and is_group(update.effective_chat):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    await query.answer()
    text = await _apply(update, context, scope, choice, answer=False)
    if query.message is not None:
        await edit_message(query.edit_message_text(text))


async def _apply(update: Update, context: Context, scope: str, choice: str, *,
                 answer: bool = True) -> str:
    """Store the choice and return (or send) the confirmation in the new language."""
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        chat = update.effective_chat
        if scope == "g" and chat is not None:
            group = await org_repo.upsert_group_chat(session, chat_id=chat.id,
                                                     title=chat.title or "",
                                                     chat_type=chat.type, now=now)
            group.language, group.updated_at = choice, now
            session.add(group)
            key = "language.set_group"
        else:
            user = sender(update)
            if user is not None:
                person = await learn_person(session, user, context)
                person.language, person.updated_at = choice, now
                session.add(person)
            key = "language.set_private"
    text = svc.renderer.html(key, choice)
    if answer:
        await reply(update, context, key)
    return text


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /language and its buttons."""
    application.add_handler(CommandHandler("language", language_command))
    application.add_handler(CallbackQueryHandler(language_clicked, pattern=r"^lang:"))
