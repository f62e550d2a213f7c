"""``/stats [month]``: the monthly report on demand, in a private chat.

Parse → services/monthly_report.py → answer. The rights (a manager, safety officer
or admin of a workshop, enterprise or authority) are the service's; the charts, the
summary and the workbook come through the outbox, after the one-line answer.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from handlers.common import Context, actor_of, is_group, reply, runtime, sender, services
from services import monthly_report


async def stats_command(update: Update, context: Context) -> None:
    """/stats [YYYY-MM]: the month's report of one's units, privately."""
    if sender(update) is None:
        return
    if is_group(update.effective_chat):
        await reply(update, context, "stats.private_only")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    args = context.args or []
    rt = runtime(context)
    plan = await monthly_report.plan_stats(rt, actor, args[0] if args else None)
    if isinstance(plan, monthly_report.StatsOutcome):
        await reply(update, context, plan.key, **plan.values)
        return
    await reply(update, context, "stats.sending", **monthly_report.stats_values(plan))
    await monthly_report.send_stats(rt, actor, plan)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add ``/stats``."""
    application.add_handler(CommandHandler("stats", stats_command))
