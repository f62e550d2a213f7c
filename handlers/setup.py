"""/setup: bind a group to a team of the organisation (the rules: services/binding.py).

The edge checks what only Telegram knows: the person is a named admin of the group
(getChatMember). Anonymous admins never bind: nobody can be held to their choice.
Each button click is checked again: anyone can press, or forge, a button.
"""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers.common import (
    Context,
    actor_of,
    is_chat_admin,
    is_group,
    language_of,
    reply,
    runtime,
    send_html,
    sender,
    services,
)
from services import binding
from services.base import Actor
from services.binding import Chat, Screen, SetupCancel, SetupStep


async def _may_setup(update: Update, context: Context) -> str | None:
    """None if the sender controls this group (a real, named admin), else the refusal key."""
    chat = update.effective_chat
    if not is_group(chat):
        return "setup.only_groups"
    assert chat is not None
    user = sender(update)
    if user is None:
        return "setup.anonymous"
    if await is_chat_admin(context, chat.id, user.id):
        return None
    return "setup.not_admin"


async def _actor(update: Update, context: Context) -> Actor:
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    assert actor is not None  # _may_setup refused anonymous senders
    return actor


def _chat(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return Chat(chat_id=chat.id, title=chat.title or "", chat_type=chat.type)


async def _show(update: Update, context: Context, screen: Screen,
                edit: CallbackQuery | None) -> None:
    """Show a screen as a new message, or in place of the menu that was clicked."""
    html = services(context).renderer.html(screen.key, screen.lang, **screen.values)
    markup = (InlineKeyboardMarkup.de_json(screen.markup, context.bot)
              if screen.markup is not None else None)
    if edit is not None:
        await edit.edit_message_text(html, reply_markup=markup)
    elif update.effective_message is not None:
        await send_html(update.effective_message, html, reply_markup=markup)


async def setup_command(update: Update, context: Context) -> None:
    """Offer the teams this group can be bound to, or bind at once with a code."""
    refusal = await _may_setup(update, context)
    if refusal:
        await reply(update, context, refusal)
        return
    if context.args:
        await bind_with_code(update, context, context.args[0])
        return
    screen = await binding.teams_menu(runtime(context), await _actor(update, context),
                                      _chat(update), page=0)
    if not screen.ok:
        await reply(update, context, screen.key, **screen.values)
        return
    await _show(update, context, screen, None)


async def setup_clicked(update: Update, context: Context) -> None:
    """A button of the /setup message was pressed."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    step = SetupStep.unpack(query.data)
    cancel = SetupCancel.unpack(query.data)
    if (step is None and cancel is None) or query.message is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    refusal = await _may_setup(update, context)
    if refusal:
        await query.answer(svc.renderer.plain(refusal, lang), show_alert=True)
        return
    if step is None:
        await query.answer()
        await query.edit_message_text(svc.renderer.html("setup.cancelled", lang))
        return
    rt, actor = runtime(context), await _actor(update, context)
    if step.action == "p":
        await query.answer()
        await _show(update, context, await binding.teams_menu(rt, actor, _chat(update),
                                                               page=step.arg), query)
    elif step.action == "new":
        await query.answer()
        await _show(update, context, await binding.workshops_menu(rt, actor, lang,
                                                                   page=step.arg), query)
    else:
        screen = await binding.bind(rt, actor, _chat(update), step.arg,
                                    new_team=step.action == "w", lang=lang)
        context.forget()  # the group's unit, and so its language, may have changed
        if not screen.ok:
            await query.answer(svc.renderer.plain(screen.key, lang, **screen.values),
                               show_alert=True)
            return
        await query.answer()
        await _show(update, context, screen, query)


async def bind_with_code(update: Update, context: Context, text: str) -> None:
    """Bind this group with a one-time invitation code (``/setup CODE``, ``/start CODE``).

    The caller has checked that the sender is a named admin of the group.
    """
    screen = await binding.bind_with_code(runtime(context), await _actor(update, context),
                                          _chat(update), text)
    context.forget()  # the group's unit, and so its language, may have changed
    if not screen.ok:
        await reply(update, context, screen.key, **screen.values)
        return
    await _show(update, context, screen, None)


async def start_with_code(update: Update, context: Context) -> None:
    """``/start CODE`` in a group: what Telegram sends when the bot is added through an
    invitation link (``?startgroup=CODE``). Only a named admin of the group may use it."""
    refusal = await _may_setup(update, context)
    if refusal:
        await reply(update, context, refusal)
        return
    await bind_with_code(update, context, (context.args or [""])[0])


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /setup, its buttons, and ``/start CODE`` in groups.

    Registered before /start, whose plain handler would otherwise take the code.
    """
    application.add_handler(CommandHandler("start", start_with_code, has_args=True,
                                           filters=filters.ChatType.GROUPS))
    application.add_handler(CommandHandler("setup", setup_command))
    application.add_handler(CallbackQueryHandler(setup_clicked, pattern=r"^setup:"))
