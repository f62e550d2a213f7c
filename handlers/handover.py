"""交接班: the outgoing leader hands over; only an incoming leader accepts.

``/handover`` in the team group asks five short questions by reply (equipment,
unfinished work, safety notes, open hazards — listed for them — and anything
else), then who takes over. The handover is posted with an "accept" button;
the outgoing leader cannot accept their own. A sweep reminds, then tells the
workshop, when nobody accepts in time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.org import Role
from domain.shifts import ScheduleError, ShiftOccurrence, incoming_shift, parse_schedule
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    language_of,
    leads_this_team,
    learn_person,
    reply,
    sender,
    services,
    team_here,
)
from handlers.conversations import Say, route
from scheduler.finished import remove_buttons
from scheduler.handovers import accept_button
from services.buttons import int_arg, pack
from storage import drafts as drafts_repo
from storage import handovers as handover_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Unit

QUESTIONS = ("equipment", "wip", "safety", "hazards", "notes")
NOTHING = frozenset({"无", "没有", "none", "no", "-"})
CONFIRM = frozenset({"确认", "ok", "yes", "好"})


async def handover_command(update: Update, context: Context) -> None:
    """/handover: start handing over the shift."""
    user = sender(update)
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    here = await team_here(update, context, "handover.only_groups")
    if here is None:
        return
    group, unit = here
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        if not await leads_this_team(session, person, unit):
            await reply(update, context, "handover.leaders_only")
            return
        await drafts_repo.start_draft(session, group.chat_id, person.id or 0, step="ho:equipment",
                                      data={}, now=svc.clock.now())
    await reply(update, context, "handover.ask_equipment", force_reply=True)


async def continue_handover(session: AsyncSession, update: Update, context: Context,
                            draft: ConversationDraft, message: Message) -> Say:
    """One answer of the handover questions."""
    svc = services(context)
    data = drafts_repo.draft_data(draft)
    field = draft.step.split(":", 1)[1]
    text = (message.text or "").strip()
    if field not in QUESTIONS or not text or len(text) > 1000:
        return lambda: reply(update, context, "handover.empty", force_reply=True)
    if field == "hazards":
        data["hazards"] = data.get("codes") or "-"
        if text.lower() not in CONFIRM:
            data["hazards"] = f"{data['hazards']}; {text}"
    else:
        data[field] = text
    following = QUESTIONS.index(field) + 1
    if following < len(QUESTIONS):
        step = QUESTIONS[following]
        values: dict[str, Any] = {}
        if step == "hazards":
            _, unit = await bound_unit(session, draft.chat_id)
            open_ = await hazard_repo.open_hazards(session, [unit.id or 0]) if unit else []
            data["codes"] = "、".join(h.code for h in open_)
            values["codes"] = data["codes"]
        drafts_repo.save_draft(session, draft, step=f"ho:{step}", data=data,
                               now=svc.clock.now())
        return lambda: reply(update, context, f"handover.ask_{step}", force_reply=True,
                             **values)
    drafts_repo.save_draft(session, draft, step="ho:incoming", data=data, now=svc.clock.now())
    _, unit = await bound_unit(session, draft.chat_id)
    leaders = [person for person, _ in await org_repo.role_holders(
        session, [unit.id or 0] if unit else [], [Role.TEAM_LEADER])
        if person.id != draft.person_id]
    lang = await language_of(session, update, context)
    shift = _incoming_shift(unit, svc.settings.default_timezone, svc.clock.now())
    scheduled = next((p for p in leaders if shift and p.telegram_id == shift.shift.leader), None)
    if scheduled is not None:  # the schedule's leader of the next shift comes first
        leaders.remove(scheduled)
        leaders.insert(0, scheduled)
    rows = [[InlineKeyboardButton(person.name, callback_data=pack("hov", "to", person.id or 0))]
            for person in leaders]
    rows.append([InlineKeyboardButton(svc.renderer.plain("button.any_leader", lang),
                                      callback_data=pack("hov", "to", 0))])
    markup = InlineKeyboardMarkup(rows)
    return lambda: reply(update, context, "handover.ask_incoming", reply_markup=markup,
                         shift=shift.shift.name if shift else None,
                         scheduled=scheduled.name if scheduled else None)


def _incoming_shift(unit: Unit | None, default_timezone: str,
                    now: datetime) -> ShiftOccurrence | None:
    """The next shift of the team's schedule, if it has a usable one."""
    data = json.loads(unit.extra_json).get("shifts") if unit and unit.extra_json else None
    if data is None or unit is None:
        return None
    try:
        return incoming_shift(parse_schedule(data, unit.timezone or default_timezone), now)
    except ScheduleError:  # checked on import; an old bad row must not stop a handover
        return None


async def handover_clicked(update: Update, context: Context) -> None:
    """"Who takes over" and "accept handover" buttons."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "hov")
    target = int_arg(parts or [], 1)
    if parts is None or target is None or user is None or chat is None \
            or parts[0] not in ("to", "acc"):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if parts[0] == "to":
        await _post(update, context, query, target or None, lang)
    else:
        await _accept(update, context, query, target, lang)


async def _post(update: Update, context: Context, query: Any, incoming_id: int | None,
                lang: str) -> None:
    svc = services(context)
    user, chat = sender(update), update.effective_chat
    assert user is not None and chat is not None
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        _, unit = await bound_unit(session, chat.id)
        if draft is None or draft.step != "ho:incoming" or unit is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        data = drafts_repo.draft_data(draft)
        found = await people_repo.people_by_ids(session, [incoming_id]) if incoming_id else []
        incoming = found[0] if found else None
        await drafts_repo.drop_draft(session, draft)
        remind = svc.settings.handover_remind_after
        handover = await handover_repo.create(
            session, unit_id=unit.id or 0, chat_id=chat.id, outgoing_id=person.id or 0,
            incoming_id=incoming.id if incoming else None, equipment=data["equipment"],
            work_in_progress=data["wip"], safety_notes=data["safety"],
            open_hazards=data["hazards"], notes=None if data["notes"].lower() in NOTHING
            else data["notes"], created_at=now, next_check_at=now + remind)
        html = svc.renderer.html(
            "handover.posted", lang, unit=unit.name, outgoing=person.name,
            incoming_id=incoming.telegram_id if incoming else None,
            incoming=incoming.name if incoming else "", equipment=data["equipment"],
            wip=data["wip"], safety=data["safety"], hazards=data["hazards"],
            notes=handover.notes)
        # Through the outbox: this post carries the only "accept" button, so a 429 or a
        # time-out must retry it, not leave a handover nobody can accept.
        await outbox_repo.enqueue_text(
            session, chat_id=chat.id, html=html, now=now, purpose="handover.post",
            reply_markup=accept_button(svc.renderer, lang, handover.id or 0),
            dedupe_key=f"handover-post:{handover.id}")
    await query.answer()
    svc.wake_outbox()


async def _accept(update: Update, context: Context, query: Any, handover_id: int,
                  lang: str) -> None:
    svc = services(context)
    user = sender(update)
    assert user is not None
    now = svc.clock.now()
    late: dict[str, Any] | None = None
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        handover = await handover_repo.get(session, handover_id)
        unit = await org_repo.get_unit(session, handover.unit_id) if handover else None
        refusal = None
        if handover is not None and unit is not None and handover.state == "accepted" \
                and handover.accepted_at is not None:
            # A press on a button that outlived the handover: say who took over, and when.
            found = await people_repo.people_by_ids(
                session, [handover.accepted_by] if handover.accepted_by else [])
            refusal = "handover.already_accepted"
            late = {"who": found[0].name if found else "", "at": handover.accepted_at,
                    "tz": unit.timezone or svc.settings.default_timezone}
        elif handover is None or unit is None or handover.state != "awaiting":
            refusal = "callback.stale"
        elif handover.outgoing_id == person.id:
            refusal = "handover.own"
        elif person.id != handover.incoming_id and not await leads_this_team(session, person,
                                                                           unit):
            refusal = "handover.not_incoming"
        elif not await handover_repo.accept(session, handover, person_id=person.id or 0,
                                            now=now):
            refusal = "callback.stale"
        else:
            # The post and its reminder keep no "accept" button once someone accepted.
            await remove_buttons(session, [f"handover-post:{handover_id}",
                                           f"handover-remind:{handover_id}"],
                                 now=now, purpose="handover.buttons_off")
    if refusal is not None:
        await query.answer(svc.renderer.plain(refusal, lang, **(late or {})), show_alert=True)
        return
    await query.answer()
    svc.wake_outbox()
    await reply(update, context, "handover.accepted", who=person.name, at=now)


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
