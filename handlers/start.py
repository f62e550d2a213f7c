"""/start and /help."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from handlers.common import Context, is_group, learn_person, reply, sender, services
from handlers.hazard_report import report_in_private
from services.hazard_reports import unit_of_payload


async def start(update: Update, context: Context) -> None:
    """Private: open the channel for notifications (``report_<unit>``: and report a
    hazard for that team, the group's deep link). Group: say what the bot is."""
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
    report_for = unit_of_payload(context.args[0]) if context.args else None
    if report_for is not None:
        await report_in_private(update, context, report_for)
        return
    await reply(update, context, "start.private", name=name)


async def help_command(update: Update, context: Context) -> None:
    """List the commands."""
    await reply(update, context, "help")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /start and /help."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
