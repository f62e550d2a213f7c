"""Several bot tokens at the Telegram edge: each update is handled by the right bot.

Every bot's Application runs these handlers (bot/app.py). Telegram gives a group's
messages to every bot in it; only the bot that speaks there handles them, the
others drop them here, before anything learns from them (services/fleet.py has the
rules). Button presses and poll answers reach only the bot that sent the message,
and each bot's own "added"/"removed" is its own: those always pass. A private
message tells which bot reaches its sender. With one token this does nothing.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from domain.people import display_name
from handlers.common import Context, is_group, services
from services.binding import Chat as GroupRef
from services.membership import Member

# Before everything, edits included (-100) and learning members (-10).
GATE_GROUP = -1000


async def right_bot_only(update: Update, context: Context) -> None:
    """Drop a group's update that another of our bots handles; note a private sender's bot."""
    desk = services(context).fleet
    if not desk.fleet.several or update.my_chat_member is not None \
            or update.callback_query is not None or update.poll_answer is not None:
        return
    chat = update.effective_chat
    if chat is None:
        return
    if is_group(chat):
        group = GroupRef(chat_id=chat.id, title=chat.title or "", chat_type=chat.type)
        if not await desk.speaks_in(group, context.bot.id):
            raise ApplicationHandlerStop
    elif chat.type == "private" and update.effective_user is not None:
        user = update.effective_user
        await desk.wrote_privately(Member(
            telegram_id=user.id, name=display_name(user.first_name, user.last_name),
            username=user.username, language_code=user.language_code), context.bot.id)


async def bot_for_new_group(context: Context) -> str | None:
    """The username of the bot a new group should add: the least loaded one."""
    desk = services(context).fleet
    chosen = await desk.least_loaded()
    return desk.usernames.get(chosen) or context.bot.username


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the gate in front of every other handler."""
    application.add_handler(TypeHandler(Update, right_bot_only), group=GATE_GROUP)
