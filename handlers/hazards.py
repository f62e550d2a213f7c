"""Acting on hazards (the closed loop's buttons and answers) and /hazards, /hazard CODE.

Each button and answer is parsed here and handed to ``services.hazards``, which
decides and writes; this module only says the outcome in the chat.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.hazards import category
from domain.dates import MAX_DEADLINE, DateError, parse_deadline, parse_period
from domain.hazard import EventKind
from domain.org import Role, UnitKind, has_role_over
from handlers.common import (
    Context,
    actor_of,
    bound_unit,
    button_press,
    is_bot_admin,
    is_group,
    language_of,
    learn_person,
    photo_of,
    reply,
    runtime,
    sender,
    services,
)
from handlers.conversations import Say
from handlers.evidence import keep_photos
from services import hazards as hazard_service
from services import ledger as ledger_service
from services.base import Actor
from services.buttons import int_arg
from services.finished import remove_buttons
from services.hazard_steps import NEXT_STEPS, HazardStep, labels, step_keyboard
from services.hazards import EVENT_NAMES, AfterPhoto, Five, Loaded, StepOutcome
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Hazard, Person, Unit

__all__ = ["EVENT_NAMES", "continue_action", "history_line", "register"]

FIVE_STEPS = ("resp", "measures", "funds", "deadline", "plan")
# Replies that ask for another answer get a ForceReply, so they work with privacy mode on.
PROMPT_KEYS = frozenset({"hazard.ask_reject_reason", "hazard.ask_after_photo",
                         "hazard.after_photo_needed", "hazard.reason_empty", "five.ask_resp",
                         "five.ask_measures", "five.ask_funds", "five.ask_deadline",
                         "five.ask_plan", "five.bad_person", "five.bad_deadline", "five.empty"})
KEEP_DEFAULT = frozenset({"默认", "default", "-"})
Answer = tuple[str, dict[str, Any], InlineKeyboardMarkup | None]


def _markup(markup: dict[str, Any] | None, context: Context) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup.de_json(markup, context.bot) if markup else None


def _next_steps(outcome: StepOutcome, context: Context, lang: str) -> InlineKeyboardMarkup | None:
    return _markup(outcome.keyboard(labels(services(context).renderer, lang)), context)


async def hazard_clicked(update: Update, context: Context) -> None:
    """The buttons under hazard cards, alerts and step messages."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "hz")
    button = HazardStep.unpack(query.data)
    if button is None or user is None or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if button.action == "show":
        await query.answer()
        await _show(update, context, hazard_id=button.hazard_id)
        return
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    outcome = await _step(update, context, actor, button, chat.id, lang)
    if not outcome.ok:
        # Includes the late press on acknowledge: who acknowledged it, and when.
        await query.answer(svc.renderer.plain(outcome.key, lang, **outcome.values),
                           show_alert=True)
        return
    await query.answer()
    svc.wake_outbox()
    await reply(update, context, outcome.key, reply_markup=_next_steps(outcome, context, lang),
                force_reply=outcome.key in PROMPT_KEYS, **outcome.values)


async def _step(update: Update, context: Context, actor: Actor, button: HazardStep,
                chat_id: int, lang: str) -> StepOutcome:
    """The service behind one button."""
    rt = runtime(context)
    hazard_id = button.hazard_id
    if button.action == "ack":
        return await hazard_service.acknowledge(rt, actor, hazard_id, card_done=_card_done)
    if button.action == "go":
        return await hazard_service.start_fixing(rt, actor, hazard_id)
    if button.action == "ver":
        return await hazard_service.verify(rt, actor, hazard_id)
    if button.action == "reo":
        return await hazard_service.reopen(rt, actor, hazard_id)
    if button.action == "up":
        return await hazard_service.hand_up(rt, actor, hazard_id, language=lang)
    if button.action in ("rej", "fix", "five"):
        return await hazard_service.begin(rt, actor, hazard_id, chat_id,
                                          "rej" if button.action == "rej" else
                                          "fix" if button.action == "fix" else "five")
    return StepOutcome(False, "callback.stale")


async def _card_done(session: AsyncSession, hazard_id: int, now: datetime) -> None:
    """Acknowledged or rejected: the group's card keeps only its "open" button."""
    await remove_buttons(session, [f"hazard-card:{hazard_id}"], now=now,
                         purpose="hazard.buttons_off",
                         keep=lambda data: data.startswith("hz:show:"))


async def continue_action(session: AsyncSession, update: Update, context: Context,
                          draft: ConversationDraft, message: Message) -> Say:
    """The second half of reject (the reason), fix (the after-photo) and 五落实.

    A fix is saved with the after-photo's Telegram ids; the photo itself is downloaded
    once that has committed (never inside the conversation's transaction).
    """
    after: list[tuple[int, AfterPhoto]] = []
    key, values, markup = await _continue(session, update, context, draft, message, after)

    async def say() -> None:
        for hazard_id, photo in after:
            await keep_photos(context, hazard_id, "after", [(photo.file_id, photo.unique_id)])
        await reply(update, context, key, reply_markup=markup,
                    force_reply=key in PROMPT_KEYS, **values)
    return say


async def _continue(session: AsyncSession, update: Update, context: Context,
                    draft: ConversationDraft, message: Message,
                    after: list[tuple[int, AfterPhoto]]) -> Answer:
    """Handle the answer; a fix saved appends its after-photo to ``after``, to download."""
    now = services(context).clock.now()
    lang = await language_of(session, update, context)
    name, _, raw_id = draft.step.partition(":")
    hazard_id = int_arg([raw_id], 0)
    actor = await actor_of(session, update, context)
    loaded = await hazard_service.load(session, actor, hazard_id) \
        if actor is not None and hazard_id is not None else None
    if loaded is None:
        await drafts_repo.drop_draft(session, draft)
        return "callback.stale", {}, None
    if name == "five":
        return await _continue_five(session, loaded, draft, message, context, lang)
    if name == "rej":
        outcome = await hazard_service.reject_in(session, loaded.actor, loaded.hazard.id or 0,
                                                 message.text or "", now, card_done=_card_done)
        if outcome.key != "hazard.reason_empty":  # else: ask again
            await drafts_repo.drop_draft(session, draft)
        return outcome.key, outcome.values, None
    photo = photo_of(message)
    if not isinstance(photo, list):
        return "hazard.after_photo_needed", {}, None
    fix = AfterPhoto(photo[0], photo[1])
    outcome = await hazard_service.submit_fix_in(session, loaded.actor,
                                                 loaded.hazard.id or 0, fix, now)
    if outcome.ok:
        after.append((outcome.hazard_id, fix))
    await drafts_repo.drop_draft(session, draft)
    return outcome.key, outcome.values, _next_steps(outcome, context, lang)


async def _continue_five(session: AsyncSession, loaded: Loaded, draft: ConversationDraft,
                         message: Message, context: Context, lang: str) -> Answer:
    """One answer of the five in place; the last one saves them all."""
    svc = services(context)
    now = svc.clock.now()
    data = drafts_repo.draft_data(draft)
    field = str(data.get("field", "resp"))
    text = (message.text or "").strip()
    hazard = loaded.hazard
    default_deadline = hazard_service.rectify_deadline(hazard, now)
    default_plan = svc.renderer.plain(f"five.default_plan.{hazard.severity}", lang)
    if field == "resp":
        person = await _named_person(session, message, text, loaded.actor)
        if person is None:
            return "five.bad_person", {}, None
        data["responsible_id"], data["responsible"] = person
    elif not text or len(text) > 500:
        return "five.empty", {}, None
    elif field in ("measures", "funds"):
        data[field] = text[:64] if field == "funds" else text
    elif field == "deadline":
        try:
            deadline = _parse_deadline(text, now, default_deadline,
                                       svc.settings.default_timezone)
        except DateError as problem:
            return "five.bad_deadline", {"reason": svc.renderer.plain(
                f"dates.error.{problem.code}", lang, **problem.params)}, None
        data["deadline"] = deadline.isoformat()
    elif datetime.fromisoformat(str(data["deadline"])) > now + MAX_DEADLINE:
        # A draft saved before deadlines were bounded: ask again rather than overflow.
        data["field"] = "deadline"
        drafts_repo.save_draft(session, draft, step=draft.step, data=data, now=now)
        return "five.bad_deadline", {"reason": svc.renderer.plain(
            "dates.error.too_far", lang, days=str(MAX_DEADLINE.days))}, None
    else:  # plan: the last answer
        five = Five(responsible_id=int(data["responsible_id"]),
                    responsible=str(data["responsible"]), measures=str(data["measures"]),
                    funds=str(data["funds"]),
                    deadline=datetime.fromisoformat(str(data["deadline"])),
                    plan=default_plan if text.lower() in KEEP_DEFAULT else text)
        await drafts_repo.drop_draft(session, draft)
        outcome = await hazard_service.save_five_in(session, loaded.actor, hazard.id or 0,
                                                    five, now)
        return outcome.key, outcome.values, \
            _next_steps(outcome, context, lang) if outcome.ok else None
    following = FIVE_STEPS[FIVE_STEPS.index(field) + 1]
    data["field"] = following
    drafts_repo.save_draft(session, draft, step=draft.step, data=data, now=now)
    return f"five.ask_{following}", {"code": hazard.code, "default": (
        default_deadline if following == "deadline" else default_plan)}, None


async def _named_person(session: AsyncSession, message: Message, text: str,
                        me: Actor) -> tuple[int, str] | None:
    """The person an answer names (me, a mention, an @username): their id and name."""
    if text.lower() in ("我", "me", "myself"):
        return me.person_id, me.name
    person: Person | None = None
    for entity in message.entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            person = await people_repo.get_person(session, entity.user.id)
            return (person.id or 0, person.name) if person else None
    if text.startswith("@"):
        person = await people_repo.find_by_username(session, text.split()[0])
    return (person.id or 0, person.name) if person else None


def _parse_deadline(text: str, now: datetime, default: datetime, zone: str) -> datetime:
    """"默认", a date (end of that working day, 18:00 local) or a duration such as 3d.

    Raises:
        DateError: why the answer is not a deadline (past, too far, not a date).
    """
    if text.lower() in KEEP_DEFAULT:
        return default
    return parse_deadline(text, now, zone)


async def _may_see(session: AsyncSession, person: Person, unit: Unit, update: Update,
                   context: Context) -> bool:
    """Members of the hazard's team group, and anyone with a role over its unit."""
    if await is_bot_admin(session, person.telegram_id, context):
        return True
    if has_role_over(await org_repo.grants_of(session, person.id or 0), unit.path, Role.WORKER):
        return True
    groups = await org_repo.groups_of_person(session, person.id or 0)
    return any(g.unit_id == unit.id for g in groups)


async def _show(update: Update, context: Context, *, hazard_id: int | None = None,
                code: str | None = None) -> None:
    user = sender(update)
    if user is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        lang = await language_of(session, update, context)
        hazard = (await hazard_repo.get_hazard(session, hazard_id) if hazard_id is not None
                  else await hazard_repo.get_by_code(session, code or ""))
        unit = await org_repo.get_unit(session, hazard.unit_id) if hazard else None
        if hazard is None or unit is None:
            await reply(update, context, "hazard.not_found", code=code or "")
            return
        if not await _may_see(session, person, unit, update, context):
            await reply(update, context, "hazard.not_allowed")
            return
        events = await hazard_repo.history(session, hazard.id or 0)
        actors = {p.id: p.name for p in await people_repo.people_by_ids(
            session, [e.actor_id for e in events if e.actor_id])}
        team = await org_repo.get_unit(session, hazard.team_unit_id)
        # Escalations and hand-ups name units by key; the team's chain has them all.
        names = {u.key: u.name for u in await org_repo.ancestors(session, team or unit)}
        values = _facts(svc.renderer, hazard, unit, lang)
        values["events"] = [history_line(svc.renderer, lang, e.action, actors.get(e.actor_id),
                                         json.loads(e.detail) if e.detail else {}, names)
                            | {"at": e.at} for e in events]
        values["tz"] = unit.timezone or svc.settings.default_timezone
        markup = _markup(step_keyboard(labels(svc.renderer, lang), hazard.id or 0,
                                       NEXT_STEPS.get(hazard.state, ())), context)
    await reply(update, context, "hazard.detail", reply_markup=markup, **values)


def history_line(renderer: Any, lang: str, kind: str, who: str | None, detail: dict[str, Any],
                 unit_names: dict[str, str]) -> dict[str, Any]:
    """One history line for ``hazard.detail``: a sentence key (``hazard.event.<kind>``) and
    its values, so no stored event name ever reaches a user."""
    known = kind in EventKind.__members__.values()
    level = str(detail.get("level") or "")
    unit_key = str(detail.get("unit") or detail.get("to") or "")
    return {"kind": kind if known else "other", "facts": {
        "who": who or renderer.plain("hazard.event.nobody", lang),
        "unit": unit_names.get(unit_key, unit_key),
        "level": renderer.plain(f"kind.{level}", lang) if level in UnitKind.__members__.values()
        else "",
        "watch": detail.get("watch") or "", "reason": str(detail.get("reason") or ""),
        "responsible": str(detail.get("responsible") or "")}}


def _facts(renderer: Any, hazard: Hazard, unit: Unit, lang: str) -> dict[str, Any]:
    found = category(hazard.category)
    return {"code": hazard.code, "team": unit.name,
            "severity": renderer.plain(f"severity.{hazard.severity}", lang),
            "state": renderer.plain(f"state.{hazard.state}", lang),
            "category": found.name(lang) if found else hazard.category,
            "location": hazard.location_text or "", "description": hazard.description}


async def hazard_command(update: Update, context: Context) -> None:
    """/hazard CODE: one hazard with its history."""
    if not context.args:
        await reply(update, context, "hazard.not_found", code="")
        return
    await _show(update, context, code=context.args[0])


async def hazards_command(update: Update, context: Context) -> None:
    """/hazards: open hazards, most urgent first (the group's team, or one's own units)."""
    user = sender(update)
    chat = update.effective_chat
    if user is None or chat is None:
        return
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        lang = await language_of(session, update, context)
        if is_group(chat):
            _, unit = await bound_unit(session, chat.id)
            roots = [unit] if unit else []
        else:
            rows = await org_repo.role_rows_of(session, person.id or 0)
            roots = [u for g, u in rows if g.role != Role.WORKER.value]
        if not roots:
            await reply(update, context, "team.unbound")
            return
        units = {u.id: u for root in roots for u in await org_repo.subtree(session, root)}
        hazards = await hazard_repo.open_hazards(session, [i for i in units if i is not None])
        name = " / ".join(r.name for r in roots)
    if not hazards:
        await reply(update, context, "hazards.none", unit=name)
        return
    items = []
    for hazard in hazards[:50]:
        facts = _facts(svc.renderer, hazard, units[hazard.unit_id], lang)
        facts["overdue"] = bool(hazard.watch_deadline and hazard.watch_deadline <= now)
        items.append(facts)
    await reply(update, context, "hazards.list", unit=name, hazards=items)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the hazard buttons and the ledger commands."""
    application.add_handler(CallbackQueryHandler(hazard_clicked, pattern=r"^hz:"))
    application.add_handler(CommandHandler("hazards", hazards_command))
    application.add_handler(CommandHandler("hazard", hazard_command))
    application.add_handler(CommandHandler("export", export_command))


async def export_command(update: Update, context: Context) -> None:
    """/export [FROM [TO]]: the ledger of one's units as an XLSX file, in private."""
    user = sender(update)
    chat = update.effective_chat
    message = update.effective_message
    if user is None or chat is None or message is None:
        return
    if is_group(chat):
        await reply(update, context, "export.private_only")
        return
    svc = services(context)
    now = svc.clock.now()
    try:
        period = parse_period(list(context.args or []), now, svc.settings.default_timezone)
    except DateError as problem:
        async with svc.db.session() as session:
            lang = await language_of(session, update, context)
        await reply(update, context, "export.bad_dates", reason=svc.renderer.plain(
            f"dates.error.{problem.code}", lang, **problem.params))
        return
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    done = await ledger_service.export_for(runtime(context), actor, since=period[0],
                                           until=period[1])
    if done.file is None:
        await reply(update, context, done.key, **done.values)
        return
    caption = svc.renderer.html(done.key, actor.language, **done.values)
    await message.reply_document(document=done.file.data,
                                 filename=f"ledger-{now:%Y%m%d}.xlsx", caption=caption)
