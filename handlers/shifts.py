"""/shifts: a team's schedule, and its leaders changing it in chat.

The schedule is the ``shifts`` section of the team (the org file's format). A
leader edits it by replying to the bot with one shift a line
(``早班 08:00-16:00 周一至周五``); the text is checked exactly as an org file
is, and a bad one changes nothing. Briefings and handovers use the new
schedule from the next shift on.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.durations import format_duration
from domain.shifts import (
    ScheduleError,
    ShiftSchedule,
    next_occurrence,
    parse_schedule,
    schedule_as_text,
    schedule_from_text,
)
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    is_team_leader,
    language_of,
    learn_person,
    reply,
    sender,
    services,
    team_here,
)
from handlers.conversations import Say, route
from services.buttons import int_arg, pack
from storage import drafts as drafts_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Unit

DAY_NAMES = {"zh": "一二三四五六日", "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
MAX_TEXT = 2000


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /shifts and its edit button."""
    application.add_handler(CommandHandler("shifts", shifts_command))
    application.add_handler(CallbackQueryHandler(edit_clicked, pattern=r"^sh:"))
    route("sh", continue_edit)


def _stored(unit: Unit) -> dict[str, Any] | None:
    data = json.loads(unit.extra_json).get("shifts") if unit.extra_json else None
    if isinstance(data, list):  # the org file also allows just the list of shifts
        data = {"shifts": data}
    return data


def _edit_button(svc: Any, lang: str, unit: Unit) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        svc.renderer.plain("button.edit_shifts", lang),
        callback_data=pack("sh", "edit", unit.id or 0))]])


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
        data = _stored(unit)
        schedule = parse_schedule(data, unit.timezone or svc.settings.default_timezone) \
            if data is not None else None
        values = await _shown(session, schedule, lang, svc.clock.now()) if schedule else {}
    markup = _edit_button(svc, lang, unit) if leader else None
    if schedule is None:
        await reply(update, context, "shifts.none", unit=unit.name, leader=leader,
                    reply_markup=markup)
        return
    await reply(update, context, "shifts.show", unit=unit.name, saved=False, reply_markup=markup,
                **values)


async def _shown(session: AsyncSession, schedule: ShiftSchedule, lang: str,
                 now: Any) -> dict[str, Any]:
    """The template values that show a schedule."""
    names = DAY_NAMES["zh" if lang == "zh" else "en"]
    leaders: dict[int, str] = {}
    for shift in schedule.shifts:
        if shift.leader:  # an id the bot has not met yet is shown as the id
            person = await people_repo.get_person(session, shift.leader)
            leaders[shift.leader] = person.name if person else str(shift.leader)
    shifts = [{"name": s.name, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}",
               "night": s.crosses_midnight, "leader": leaders.get(s.leader or 0),
               "days": ("周" if lang == "zh" else "") + ("、" if lang == "zh" else ", ").join(
                   names[d] for d in sorted(s.days))} for s in schedule.shifts]
    upcoming = next_occurrence(schedule, now)
    return {"timezone": schedule.timezone, "tz": schedule.timezone,
            "lead": format_duration(schedule.briefing_before),
            "shifts": shifts,
            "upcoming": {"name": upcoming.shift.name, "at": upcoming.starts_at}
            if upcoming else None}


async def edit_clicked(update: Update, context: Context) -> None:
    """"Edit shifts": a leader of the team is asked for the new schedule by reply."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "sh")
    unit_id = int_arg(parts or [], 1)
    if parts is None or parts[0] != "edit" or unit_id is None or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if user is None:
        await query.answer(svc.renderer.plain("setup.anonymous", lang), show_alert=True)
        return
    async with svc.db.transaction() as session:
        _, unit = await bound_unit(session, chat.id)
        if unit is None or unit.id != unit_id:  # a button from another team's group
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        person = await learn_person(session, user, context)
        if not await is_team_leader(session, person, unit, context):
            await query.answer(svc.renderer.plain("shifts.leaders_only", lang), show_alert=True)
            return
        data = _stored(unit)
        current = schedule_as_text(parse_schedule(
            data, unit.timezone or svc.settings.default_timezone), lang) if data else ""
        await drafts_repo.start_draft(session, chat.id, person.id or 0, step="sh:edit",
                                      data={"unit_id": unit_id}, now=svc.clock.now())
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
    previous = _stored(unit)
    try:
        data = schedule_from_text(text, previous)
        schedule = parse_schedule(data, unit.timezone or svc.settings.default_timezone)
    except ScheduleError as problem:
        lang = await language_of(session, update, context)
        reason = svc.renderer.plain(f"shifts.error.{problem.code}", lang, **problem.params)
        drafts_repo.save_draft(session, draft, step=draft.step, data=drafts_repo.draft_data(draft),
                               now=svc.clock.now())
        return lambda: reply(update, context, "shifts.invalid", force_reply=True, reason=reason)
    extra = json.loads(unit.extra_json) if unit.extra_json else {}
    extra["shifts"] = data
    unit.extra_json = json.dumps(extra, ensure_ascii=False, sort_keys=True)
    session.add(unit)
    await drafts_repo.drop_draft(session, draft)
    lang = await language_of(session, update, context)
    values = await _shown(session, schedule, lang, svc.clock.now())
    name = unit.name
    return lambda: reply(update, context, "shifts.show", unit=name, saved=True, **values)

