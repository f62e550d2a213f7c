"""/myrecord: a worker's own training record (安全培训档案), in a private chat."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from handlers.common import Context, actor_of, is_group, reply, runtime, sender, services
from services import training


async def myrecord_command(update: Update, context: Context) -> None:
    """/myrecord: quiz answers, card confirmations, check-ins, documents read, drills."""
    if sender(update) is None:
        await reply(update, context, "setup.anonymous")
        return
    if is_group(update.effective_chat):
        await reply(update, context, "record.private_only")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    assert actor is not None
    done = await training.my_record(runtime(context), actor)
    await reply(update, context, done.key, tz=services(context).settings.default_timezone,
                **done.values)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /myrecord."""
    application.add_handler(CommandHandler("myrecord", myrecord_command))
