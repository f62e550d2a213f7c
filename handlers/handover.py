"""交接班 in the team group: parse → services/handovers.py → answer.

``/handover`` asks five short questions by reply, then who takes over; the
handover is posted (through the outbox) with an "accept" button that only the
chosen leader or another leader of the team may press, never the outgoing one.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.common import (
    Context,
    actor_of,
    button_press,
    language_of,
    reply,
    runtime,
    sender,
    services,
    team_here,
)
from handlers.conversations import Say, route
from services import handovers as handover_service
from services.finished import remove_buttons
from services.handovers import HandoverButton
from storage import handovers as handover_repo
from storage import people as people_repo
from storage.models import ConversationDraft


async def handover_command(update: Update, context: Context) -> None:
    """/handover: start handing over the shift."""
    if sender(update) is None:
        await reply(update, context, "setup.anonymous")
        return
    here = await team_here(update, context, "handover.only_groups")
    if here is None:
        return
    group, unit = here
    rt = runtime(context)
    async with rt.db.transaction() as session:
        actor = await actor_of(session, update, context)
    assert actor is not None
    outcome = await handover_service.start(rt, actor, group.chat_id, unit)
    await reply(update, context, outcome.key, force_reply=outcome.ok)


async def continue_handover(session: AsyncSession, update: Update, context: Context,
                            draft: ConversationDraft, message: Message) -> Say:
    """One answer of the handover questions."""
    lang = await language_of(session, update, context)
    step = await handover_service.record_answer(session, runtime(context), draft,
                                                message.text or "", lang)
    if step.markup is None:
        return lambda: reply(update, context, step.key, force_reply=True, **step.values)
    markup = InlineKeyboardMarkup.de_json(step.markup, context.bot)
    return lambda: reply(update, context, step.key, reply_markup=markup, **step.values)


async def handover_clicked(update: Update, context: Context) -> None:
    """"Who takes over" and "accept handover" buttons."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "hov")
    button = HandoverButton.unpack(query.data)
    if button is None or user is None or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    rt = runtime(context)
    if button.action == "to":
        async with rt.db.transaction() as session:
            actor = await actor_of(session, update, context)
        assert actor is not None
        outcome = await handover_service.post(
            rt, actor, chat.id, button.target or None, lang,
            svc.settings.handover_remind_after)
        if not outcome.ok:
            await query.answer(svc.renderer.plain(outcome.key, lang), show_alert=True)
            return
        await query.answer()
        return
    async with rt.db.transaction() as session:
        actor = await actor_of(session, update, context)
        assert actor is not None
        outcome = await handover_service.record_accept(session, rt, actor, button.target)
        if outcome.ok:
            # The post and its reminder keep no "accept" button once someone accepted.
            await remove_buttons(session, handover_service.button_keys(button.target),
                                 now=rt.clock.now(), purpose="handover.buttons_off")
    if not outcome.ok:
        await query.answer(svc.renderer.plain(outcome.key, lang, **outcome.values),
                           show_alert=True)
        return
    await query.answer()
    rt.wake()
    await reply(update, context, outcome.key, **outcome.values)


async def handovers_command(update: Update, context: Context) -> None:
    """/handovers: the team's latest handovers."""
    here = await team_here(update, context, "handover.only_groups")
    if here is None:
        return
    _, unit = here
    svc = services(context)
    async with svc.db.session() as session:
        items = await handover_repo.recent(session, unit.id or 0)
        names = {p.id: p.name for p in await people_repo.people_by_ids(
            session, [i for h in items for i in (h.outgoing_id, h.incoming_id, h.accepted_by)
                      if i])}
    if not items:
        await reply(update, context, "handover.none", unit=unit.name)
        return
    await reply(update, context, "handover.list", unit=unit.name, items=[
        {"at": h.created_at, "outgoing": names.get(h.outgoing_id, ""),
         "incoming": names.get(h.accepted_by or h.incoming_id or 0, "…"),
         "accepted_at": h.accepted_at} for h in items])


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /handover, /handovers, the buttons and the reply conversation."""
    application.add_handler(CommandHandler("handover", handover_command))
    application.add_handler(CommandHandler("handovers", handovers_command))
    application.add_handler(CallbackQueryHandler(handover_clicked, pattern=r"^hov:"))
    route("ho", continue_handover)
