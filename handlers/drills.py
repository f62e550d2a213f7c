"""Drills (预案演练): ``/drill`` (schedule, or record findings), ``/drills``, the post's buttons.

Parse → services/drills.py → answer. ``/drill`` in a private chat takes the whole
drill in one line, or asks for it step by step (a conversation kept as a draft
row, so a restart loses nothing): type → units → time → scenario → confirm. The
findings (what went well, problems, measures) are asked by reply, where the
button was pressed. Who may do what is the service's business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.drills import (
    DrillInputError,
    DrillType,
    check_scenario,
    parse_type,
    parse_unit_keys,
    parse_when,
)
from domain.org import UnitKind
from handlers.common import (
    Context,
    actor_of,
    is_group,
    member_now,
    reply,
    runtime,
    sender,
    services,
    team_here,
    update_language,
)
from handlers.conversations import Say, route
from services import drills as drill_service
from services.base import Actor
from services.buttons import keyboard
from services.drills import TYPES, DrillButton, DrillChoice
from storage import drafts as drafts_repo
from storage import org as org_repo
from storage.models import ConversationDraft

MAX_UNIT_BUTTONS = 40
MAX_FINDING = 2000
# Refusals shown in a box the presser must dismiss; other answers are a short toast.
_ALERTS = frozenset({"callback.stale", "drill.over", "drill.not_in_team",
                     "drill.managers_only", "drill.not_started", "drill.leaders_only"})


def _markup(rows: list[list[tuple[str, Any]]]) -> InlineKeyboardMarkup:
    markup = InlineKeyboardMarkup.de_json(keyboard(rows), None)
    assert markup is not None
    return markup


async def _actor(update: Update, context: Context) -> Actor | None:
    async with services(context).db.transaction() as session:
        return await actor_of(session, update, context)


# ---------------------------------------------------------------- /drill and /drills


async def drill_command(update: Update, context: Context) -> None:
    """/drill: schedule a drill (one line, or step by step), or record a drill's findings."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    actor = await _actor(update, context)
    assert actor is not None
    rt = runtime(context)
    if not await drill_service.may_schedule(rt, actor):
        await reply(update, context, "drill.leaders_only")
        return
    if is_group(chat):
        await reply(update, context, "drill.private_only")
        return
    if context.args:
        outcome = await drill_service.schedule_line(rt, actor, list(context.args))
        await reply(update, context, outcome.key, **outcome.values)
        if outcome.key.startswith("drill.bad_"):
            await reply(update, context, "drill.usage")
        return
    async with services(context).db.transaction() as session:
        await drafts_repo.start_draft(session, chat.id, actor.person_id, step="drill:type",
                                      data={}, now=rt.clock.now())
    lang = await update_language(update, context)
    rows: list[list[tuple[str, Any]]] = [
        [(drill_service.type_name(rt.renderer, kind, lang), DrillChoice("type", index))]
        for index, kind in enumerate(TYPES)]
    for drill_id, kind_name in await drill_service.open_drills(rt, actor):
        rows.append([(rt.renderer.plain("button.drill_findings_for", lang, number=drill_id,
                                        kind=kind_name), DrillChoice("close", drill_id))])
    rows.append([(rt.renderer.plain("button.cancel", lang), DrillChoice("x"))])
    await reply(update, context, "drill.ask_type", reply_markup=_markup(rows))


async def drills_command(update: Update, context: Context) -> None:
    """/drills: a team's drills in its group; privately, those of one's units."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    team = None
    if is_group(chat):
        here = await team_here(update, context)
        if here is None:
            return
        team = here[1]
    actor = await _actor(update, context)
    assert actor is not None
    actor = Actor(actor.person_id, actor.telegram_id, actor.name,
                  await update_language(update, context), actor.is_bot_admin)
    outcome = await drill_service.overview(runtime(context), actor, team)
    await reply(update, context, outcome.key, **outcome.values)


# ---------------------------------------------------------------- the conversation


async def _ask_units(session: AsyncSession, update: Update, context: Context,
                     draft: ConversationDraft, actor: Actor, data: dict[str, Any]) -> Say:
    """Ask which units take part; a leader of one team only is not asked."""
    units = await drill_service.schedulable_units(session, actor)
    teams = [u for u in units if u.kind == UnitKind.TEAM]
    now = services(context).clock.now()
    if len(units) == 1 or (len(teams) == 1 and len(units) == len(teams)):
        data["units"] = [teams[0].key if teams else units[0].key]
        drafts_repo.save_draft(session, draft, step="drill:when", data=data, now=now)
        return lambda: reply(update, context, "drill.ask_when", force_reply=True)
    drafts_repo.save_draft(session, draft, step="drill:units", data=data, now=now)
    rows = [[(f"{u.name} ({u.key})", DrillChoice("unit", u.id or 0))]
            for u in units[:MAX_UNIT_BUTTONS]]
    return lambda: reply(update, context, "drill.ask_units", reply_markup=_markup(rows))


async def _preview(session: AsyncSession, update: Update, context: Context,
                   draft: ConversationDraft, data: dict[str, Any]) -> Say:
    """Show the drill as it will be scheduled, with "schedule it" and "cancel"."""
    svc = services(context)
    drafts_repo.save_draft(session, draft, step="drill:confirm", data=data, now=svc.clock.now())
    teams = await drill_service.teams_for(session, data["units"])
    lang = await update_language(update, context)
    rows = [[(svc.renderer.plain("button.drill_confirm", lang), DrillChoice("ok"))],
            [(svc.renderer.plain("button.cancel", lang), DrillChoice("x"))]]
    values = {"kind": drill_service.type_name(svc.renderer, data["kind"], lang),
              "at": datetime.fromisoformat(data["starts_at"]), "tz": data["tz"],
              "minutes": data["minutes"], "teams": [t.name for t in teams],
              "scenario": data["scenario"]}
    return lambda: reply(update, context, "drill.preview", reply_markup=_markup(rows),
                         **values)


async def _zone(session: AsyncSession, keys: list[str], default: str) -> str:
    for key in keys:
        unit = await org_repo.get_unit_by_key(session, key)
        if unit is not None:
            return unit.timezone or default
    return default


async def continue_drill(session: AsyncSession, update: Update, context: Context,
                         draft: ConversationDraft, message: Message) -> Say | None:
    """A reply while scheduling (units, time, scenario) or recording findings."""
    parts = draft.step.split(":")
    text = (message.text or "").strip()
    svc = services(context)
    now = svc.clock.now()
    data = drafts_repo.draft_data(draft)
    actor = await actor_of(session, update, context)
    if actor is None:
        return None
    try:
        if parts[1] == "type":  # typed instead of tapped
            data["kind"] = parse_type(text).value
            return await _ask_units(session, update, context, draft, actor, data)
        if parts[1] == "units":
            allowed = {u.key: u for u in await drill_service.schedulable_units(session, actor)}
            keys = parse_unit_keys(text)
            for key in keys:
                if key not in allowed:
                    unit = await org_repo.get_unit_by_key(session, key)
                    if unit is None:
                        return lambda: reply(update, context, "drill.unit_unknown",
                                             force_reply=True, code=key)
                    return lambda: reply(update, context, "drill.not_your_unit",
                                         force_reply=True, unit=unit.name)
            data["units"] = list(keys)
            drafts_repo.save_draft(session, draft, step="drill:when", data=data, now=now)
            return lambda: reply(update, context, "drill.ask_when", force_reply=True)
        if parts[1] == "when":
            zone = await _zone(session, data["units"], svc.settings.default_timezone)
            starts_at, duration, used = parse_when(text.split(), now, zone)
            if used != len(text.split()):
                raise DrillInputError("when", text)
            data.update(starts_at=starts_at.isoformat(), tz=zone,
                        minutes=int(duration.total_seconds() // 60))
            drafts_repo.save_draft(session, draft, step="drill:scenario", data=data, now=now)
            return lambda: reply(update, context, "drill.ask_scenario", force_reply=True)
        if parts[1] == "scenario":
            data["scenario"] = check_scenario(text)
            return await _preview(session, update, context, draft, data)
    except DrillInputError as problem:
        key, value = f"drill.bad_{problem.code}", problem.value
        return lambda: reply(update, context, key, force_reply=True, value=value)
    if parts[1] in ("well", "problems", "measures") and len(parts) == 3:
        return await _continue_findings(session, update, context, draft, actor, parts, text)
    return None


async def _continue_findings(session: AsyncSession, update: Update, context: Context,
                             draft: ConversationDraft, actor: Actor, parts: list[str],
                             text: str) -> Say:
    """The three findings, one reply each; after the last the drill is closed."""
    if not text or len(text) > MAX_FINDING:
        return lambda: reply(update, context, "drill.empty_answer", force_reply=True)
    step, number = parts[1], int(parts[2])
    data = drafts_repo.draft_data(draft)
    data[step] = text
    now = services(context).clock.now()
    following = {"well": "problems", "problems": "measures"}
    if step in following:
        drafts_repo.save_draft(session, draft, step=f"drill:{following[step]}:{number}",
                               data=data, now=now)
        return lambda: reply(update, context, f"drill.ask_{following[step]}",
                             force_reply=True, number=number)
    await drafts_repo.drop_draft(session, draft)

    async def close() -> None:
        outcome = await drill_service.record_findings(
            runtime(context), actor, number, went_well=data.get("well", ""),
            problems=data.get("problems", ""), measures=data["measures"])
        await reply(update, context, outcome.key, **outcome.values)

    return close


# ---------------------------------------------------------------- the buttons


async def choice_clicked(update: Update, context: Context) -> None:
    """The /drill conversation's buttons (in the private chat where it runs)."""
    query = update.callback_query
    assert query is not None
    choice = DrillChoice.unpack(query.data)
    chat = update.effective_chat
    rt = runtime(context)
    lang = await update_language(update, context)
    actor = await _actor(update, context) if sender(update) is not None else None
    if choice is None or actor is None or chat is None:
        await query.answer(rt.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if choice.action == "close":
        await query.answer()
        await _start_findings(update, context, actor, choice.value)
        return
    say: Say | None = None
    scheduled = None
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat.id, actor.person_id)
        step = draft.step if draft is not None else ""
        data = drafts_repo.draft_data(draft) if draft is not None else {}
        if draft is None or not step.startswith("drill:"):
            pass
        elif choice.action == "x":
            await drafts_repo.drop_draft(session, draft)
            say = lambda: reply(update, context, "conversation.cancelled")  # noqa: E731
        elif choice.action == "type" and step == "drill:type" and choice.value < len(TYPES):
            data["kind"] = TYPES[choice.value].value
            say = await _ask_units(session, update, context, draft, actor, data)
        elif choice.action == "unit" and step == "drill:units":
            allowed = {u.id: u for u in await drill_service.schedulable_units(session, actor)}
            if choice.value in allowed:
                data["units"] = [allowed[choice.value].key]
                drafts_repo.save_draft(session, draft, step="drill:when", data=data,
                                       now=rt.clock.now())
                say = lambda: reply(update, context, "drill.ask_when",  # noqa: E731
                                    force_reply=True)
        elif choice.action == "ok" and step == "drill:confirm":
            await drafts_repo.drop_draft(session, draft)
            scheduled = data
    if scheduled is not None:
        outcome = await drill_service.schedule(
            rt, actor, kind=DrillType(scheduled["kind"]),
            starts_at=datetime.fromisoformat(scheduled["starts_at"]),
            duration=timedelta(minutes=scheduled["minutes"]),
            unit_keys=scheduled["units"], scenario=scheduled["scenario"])
        await query.answer()
        await reply(update, context, outcome.key, **outcome.values)
        return
    if say is None:  # an old step's button, or another conversation's
        await query.answer(rt.renderer.plain("callback.stale", lang), show_alert=True)
        return
    await query.answer()
    await say()


async def _start_findings(update: Update, context: Context, actor: Actor,
                          drill_id: int) -> None:
    """Ask the first finding by reply, where the button was pressed, if ``actor`` may."""
    rt = runtime(context)
    chat = update.effective_chat
    assert chat is not None
    outcome = await drill_service.may_record_findings(rt, actor, drill_id)
    if outcome.ok:
        async with rt.db.transaction() as session:
            await drafts_repo.start_draft(session, chat.id, actor.person_id,
                                          step=f"drill:well:{drill_id}", data={},
                                          now=rt.clock.now())
        await reply(update, context, outcome.key, force_reply=True, **outcome.values)
    else:
        await reply(update, context, outcome.key, **outcome.values)


async def post_clicked(update: Update, context: Context) -> None:
    """The drill post's buttons: "I am here" (members) and "record findings" (leaders)."""
    query = update.callback_query
    assert query is not None
    button = DrillButton.unpack(query.data)
    chat = update.effective_chat
    user = sender(update)
    rt = runtime(context)
    lang = await update_language(update, context)
    actor = await _actor(update, context) if user is not None else None
    if button is None or actor is None or user is None:
        await query.answer(rt.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if button.action == "findings":
        outcome = await drill_service.may_record_findings(rt, actor, button.drill_id)
        if not outcome.ok:
            await query.answer(rt.renderer.plain(outcome.key, lang, **outcome.values),
                               show_alert=outcome.key in _ALERTS)
            return
        await query.answer()
        await _start_findings(update, context, actor, button.drill_id)
        return
    chat_id = chat.id if chat is not None and is_group(chat) else None
    in_group = chat_id is not None and await member_now(context, chat_id, user.id)
    outcome = await drill_service.press_here(rt, actor, button.drill_id, chat_id=chat_id,
                                             in_group=in_group)
    await query.answer(rt.renderer.plain(outcome.key, lang, **outcome.values),
                       show_alert=outcome.key in _ALERTS)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /drill, /drills, the drill post's buttons and the conversation's."""
    application.add_handler(CommandHandler("drill", drill_command))
    application.add_handler(CommandHandler("drills", drills_command))
    application.add_handler(CallbackQueryHandler(post_clicked, pattern=r"^dr:"))
    application.add_handler(CallbackQueryHandler(choice_clicked, pattern=r"^drs:"))
    route("drill", continue_drill)
