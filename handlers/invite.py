"""/invite: a one-time code, and a link, that lets a group join the organisation.

Someone who may bind groups to a unit (domain.org.may_bind_group) creates the
code in a private chat and hands it to the admin of the team's group, who adds
the bot through the link (Telegram then sends ``/start CODE`` in the group) or
sends ``/setup CODE`` there. The code names a team, or "a new team under" a
workshop, lives ``INVITE_VALID_FOR`` and binds one group once. The rules live in
services/binding.py.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.common import (
    Context,
    actor_of,
    is_group,
    language_of,
    reply,
    runtime,
    send_html,
    services,
)
from handlers.fleet import bot_for_new_group
from services import binding
from services.binding import InvitePick


def _valid_for(context: Context) -> timedelta:
    return services(context).settings.invite_valid_for


async def invite_command(update: Update, context: Context) -> None:
    """Offer the units one may invite a group to, or create the code for ``/invite KEY``."""
    if is_group(update.effective_chat):
        await reply(update, context, "invite.only_private")
        return
    if update.effective_message is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    key = (context.args or [""])[0]
    if key:
        screen = await binding.invite_by_key(runtime(context), actor, key,
                                             valid_for=_valid_for(context),
                                             bot_username=await bot_for_new_group(context))
    else:
        screen = await binding.invite_menu(runtime(context), actor)
    markup = (InlineKeyboardMarkup.de_json(screen.markup, context.bot)
              if screen.markup is not None else None)
    await send_html(update.effective_message,
                    svc.renderer.html(screen.key, screen.lang, **screen.values),
                    reply_markup=markup)


async def invite_clicked(update: Update, context: Context) -> None:
    """A unit was picked from the /invite buttons: create its code."""
    query = update.callback_query
    assert query is not None
    svc = services(context)
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        actor = (await actor_of(session, update, context)
                 if not is_group(update.effective_chat) else None)
    pick = InvitePick.unpack(query.data)
    if pick is None or actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    screen = await binding.invite_for(runtime(context), actor, pick,
                                      valid_for=_valid_for(context),
                                      bot_username=await bot_for_new_group(context))
    if screen.key == "callback.stale":
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(svc.renderer.html(screen.key, lang, **screen.values))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /invite and its buttons (the code is used through handlers/setup.py)."""
    application.add_handler(CommandHandler("invite", invite_command))
    application.add_handler(CallbackQueryHandler(invite_clicked, pattern=r"^inv:"))
