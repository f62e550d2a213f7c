"""/start and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from handlers.common import Context, is_group, learn_person, reply, sender, services


async def start(update: Update, context: Context) -> None:
    """Private: open the channel for notifications. Group: say what the bot is."""
    if is_group(update.effective_chat):
        await reply(update, context, "start.group")
        return
    user = sender(update)
    if user is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        if not person.started or person.blocked:
            person.started, person.blocked = True, False
            person.updated_at = svc.clock.now()
            session.add(person)
        name = person.name
    await reply(update, context, "start.private", name=name)


async def help_command(update: Update, context: Context) -> None:
    """List the commands."""
    await reply(update, context, "help")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /start and /help."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
