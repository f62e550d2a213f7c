"""/shifts: a team's schedule, and its leaders changing it in chat.

The schedule is the ``shifts`` section of the team (the org file's format). A
leader edits it by replying to the bot with one shift a line
(``早班 08:00-16:00 周一至周五``); the text is checked exactly as an org file
is, and a bad one changes nothing. Briefings and handovers use the new
schedule from the next shift on.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.shifts import ShiftSchedule
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    is_team_leader,
    language_of,
    learn_person,
    reply,
    runtime,
    sender,
    services,
    team_here,
)
from handlers.conversations import Say, route
from services import shifts as shift_service
from services.shifts import MAX_TEXT, ShiftsButton
from storage import drafts as drafts_repo
from storage.models import ConversationDraft, Unit


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /shifts and its edit button."""
    application.add_handler(CommandHandler("shifts", shifts_command))
    application.add_handler(CallbackQueryHandler(edit_clicked, pattern=r"^sh:"))
    route("sh", continue_edit)


def _edit_button(context: Context, lang: str, unit: Unit) -> InlineKeyboardMarkup:
    markup = shift_service.edit_keyboard(
        services(context).renderer.plain("button.edit_shifts", lang), unit.id or 0)
    return InlineKeyboardMarkup.de_json(markup, context.bot)


async def shifts_command(update: Update, context: Context) -> None:
    """/shifts: the team's schedule and the next shift; leaders get an edit button."""
    here = await team_here(update, context)
    if here is None:
        return
    _, unit = here
    user = sender(update)
    svc = services(context)
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        leader = user is not None and await is_team_leader(
            session, await learn_person(session, user, context), unit, context)
        found = shift_service.team_schedule(unit, svc.settings.default_timezone)
        schedule = found if isinstance(found, ShiftSchedule) else None
        values = await shift_service.shown(session, schedule, lang, svc.clock.now()) \
            if schedule else {}
    markup = _edit_button(context, lang, unit) if leader else None
    if schedule is None:
        await reply(update, context, "shifts.none", unit=unit.name, leader=leader,
                    reply_markup=markup)
        return
    await reply(update, context, "shifts.show", unit=unit.name, saved=False, reply_markup=markup,
                **values)


async def edit_clicked(update: Update, context: Context) -> None:
    """"Edit shifts": a leader of the team is asked for the new schedule by reply."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "sh")
    button = ShiftsButton.unpack(query.data)
    if button is None or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if user is None:
        await query.answer(svc.renderer.plain("setup.anonymous", lang), show_alert=True)
        return
    async with svc.db.transaction() as session:
        _, unit = await bound_unit(session, chat.id)
        if unit is None or unit.id != button.unit_id:  # a button from another team's group
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        person = await learn_person(session, user, context)
        if not await is_team_leader(session, person, unit, context):
            await query.answer(svc.renderer.plain("shifts.leaders_only", lang), show_alert=True)
            return
        current = shift_service.current_text(unit, svc.settings.default_timezone, lang)
        await drafts_repo.start_draft(session, chat.id, person.id or 0, step="sh:edit",
                                      data={"unit_id": button.unit_id}, now=svc.clock.now())
    await query.answer()
    await reply(update, context, "shifts.ask", force_reply=True, current=current)


async def continue_edit(session: AsyncSession, update: Update, context: Context,
                        draft: ConversationDraft, message: Message) -> Say:
    """The new schedule typed by the leader: saved when it is valid, else nothing changes."""
    svc = services(context)
    text = (message.text or "").strip()
    _, unit = await bound_unit(session, draft.chat_id)
    if unit is None or unit.id != drafts_repo.draft_data(draft).get("unit_id"):
        await drafts_repo.drop_draft(session, draft)
        return lambda: reply(update, context, "callback.stale")
    if not text or len(text) > MAX_TEXT:
        return lambda: reply(update, context, "shifts.ask_text", force_reply=True)
    saved = shift_service.save_text(runtime(context), unit, text)
    lang = await language_of(session, update, context)
    if saved.schedule is None:
        problem = saved.error
        assert problem is not None
        reason = svc.renderer.plain(f"shifts.error.{problem.code}", lang, **problem.params)
        drafts_repo.save_draft(session, draft, step=draft.step, data=drafts_repo.draft_data(draft),
                               now=svc.clock.now())
        return lambda: reply(update, context, "shifts.invalid", force_reply=True, reason=reason)
    session.add(unit)
    await drafts_repo.drop_draft(session, draft)
    values = await shift_service.shown(session, saved.schedule, lang, svc.clock.now())
    name = unit.name
    return lambda: reply(update, context, "shifts.show", unit=name, saved=True, **values)
