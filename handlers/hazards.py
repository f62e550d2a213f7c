"""Acting on hazards (acknowledge, open) and the ledger in chat (/hazards, /hazard CODE)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.hazards import category, escalation_policy
from domain.dates import MAX_DEADLINE, DateError, parse_deadline, parse_period
from domain.escalation import escalate_due
from domain.hazard import (
    OPEN_STATES,
    POINTS,
    Actor,
    EventKind,
    HazardAction,
    HazardFacts,
    HazardState,
    Severity,
    decide,
)
from domain.org import Role, UnitKind, has_role_over, highest_role_over
from handlers.common import (
    Context,
    actor_of,
    bound_unit,
    button_press,
    is_bot_admin,
    is_group,
    keep_evidence,
    language_of,
    learn_person,
    photo_of,
    reply,
    runtime,
    sender,
    services,
)
from handlers.conversations import Say
from scheduler.finished import remove_buttons
from services import ledger as ledger_service
from services.buttons import int_arg, pack
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Hazard, Person, Unit


async def _actor(session: AsyncSession, person: Person, unit: Unit, context: Context) -> Actor:
    grants = await org_repo.grants_of(session, person.id or 0)
    return Actor(person.id or 0, highest_role_over(grants, unit.path),
                 is_bot_admin=await is_bot_admin(session, person.telegram_id, context))


@dataclass
class _Context:
    """A hazard, its unit and the person acting on it, loaded in one transaction."""

    person: Person
    hazard: Hazard
    unit: Unit
    actor: Actor

    @property
    def facts(self) -> HazardFacts:
        h = self.hazard
        return HazardFacts(HazardState(h.state), h.reporter_id, h.responsible_id, h.fixer_id)


async def _load(session: AsyncSession, user: User, hazard_id: int,
                context: Context) -> _Context | None:
    person = await learn_person(session, user, context)
    hazard = await hazard_repo.get_hazard(session, hazard_id)
    unit = await org_repo.get_unit(session, hazard.unit_id) if hazard else None
    if hazard is None or unit is None:
        return None
    return _Context(person, hazard, unit, await _actor(session, person, unit, context))


async def _transition(session: AsyncSession, ctx: _Context, action: HazardAction, now: datetime,
                      values: dict[str, Any], detail: dict[str, Any] | None = None) -> str | None:
    """Apply a decided action: compare-and-set, then the event. Returns a refusal key."""
    decision = decide(action, ctx.facts, ctx.actor)
    if not decision.allowed or decision.next_state is None:
        return decision.refusal or "callback.stale"
    before = ctx.hazard.state
    values = {"state": decision.next_state.value, "updated_at": now, **values}
    if not await hazard_repo.save_if_unchanged(session, ctx.hazard, ctx.hazard.version, values):
        return "hazard.lost_race"
    await hazard_repo.record_event(session, ctx.hazard, at=now, actor_id=ctx.person.id,
                                   action=EVENT_NAMES[action], from_state=before,
                                   to_state=decision.next_state.value, detail=detail)
    return None


EVENT_NAMES = {HazardAction.ACKNOWLEDGE: "acknowledged", HazardAction.REJECT: "rejected",
               HazardAction.SUBMIT_FIX: "rectified", HazardAction.VERIFY: "verified",
               HazardAction.REOPEN: "reopened", HazardAction.CLOSE: "closed",
               HazardAction.START: "rectifying", HazardAction.HAND_UP: "handed_up"}
FIVE_STEPS = ("resp", "measures", "funds", "deadline", "plan")
# Replies that ask for another answer get a ForceReply, so they work with privacy mode on.
PROMPT_KEYS = frozenset({"hazard.ask_reject_reason", "hazard.ask_after_photo",
                         "hazard.after_photo_needed", "hazard.reason_empty", "five.ask_resp",
                         "five.ask_measures", "five.ask_funds", "five.ask_deadline",
                         "five.ask_plan", "five.bad_person", "five.bad_deadline", "five.empty"})
KEEP_DEFAULT = frozenset({"默认", "default", "-"})
ACTIONS = {"ack": HazardAction.ACKNOWLEDGE, "rej": HazardAction.REJECT,
           "fix": HazardAction.SUBMIT_FIX, "ver": HazardAction.VERIFY,
           "reo": HazardAction.REOPEN, "up": HazardAction.HAND_UP, "go": HazardAction.START}
# The buttons for what can happen next, by state: on each step's message and under
# /hazard CODE (so a step message lost or scrolled away never strands a hazard).
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    "reported": ("ack", "rej"), "acknowledged": ("five", "go", "fix", "up"),
    "rectifying": ("fix", "up"), "reopened": ("go", "fix", "up"), "rectified": ("ver", "reo")}
NO_ESCALATION: dict[str, Any] = {"watch": None, "watch_deadline": None,
                                 "next_escalation_at": None}


def _watch(severity: str, now: datetime) -> dict[str, Any]:
    """Start the rectification clock (after acknowledging, or again after a reopen)."""
    policy = escalation_policy().for_severity(Severity(severity))
    deadline = now + policy.rectify_within
    first = escalate_due(policy, deadline, alerted_level=-1, last_alert_at=None, now=now)
    return {"deadline": deadline, "watch": "rectify", "watch_deadline": deadline,
            "alerted_level": -1, "last_alert_at": None, "next_escalation_at": first.next_at}


def _buttons(renderer: Any, lang: str, hazard_id: int, *names: str) -> InlineKeyboardMarkup:
    labels = {"ack": "button.ack", "rej": "button.reject", "fix": "button.fix",
              "five": "button.five",
              "up": "button.hand_up", "ver": "button.verify", "reo": "button.reopen",
              "show": "button.open", "go": "button.start_fix"}
    buttons = [InlineKeyboardButton(renderer.plain(labels[name], lang),
                                    callback_data=pack("hz", name, hazard_id)) for name in names]
    # Two to a row: four Chinese labels on one row are cut off on a phone.
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)])


async def hazard_clicked(update: Update, context: Context) -> None:
    """The buttons under hazard cards, alerts and step messages."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "hz")
    hazard_id = int_arg(parts or [], 1)
    if parts is None or hazard_id is None or user is None or chat is None or \
            (parts[0] not in ACTIONS and parts[0] not in ("show", "five")):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if parts[0] == "show":
        await query.answer()
        await _show(update, context, hazard_id=hazard_id)
        return
    if parts[0] == "five":
        await _start_five(update, context, query, hazard_id, lang)
        return
    action = ACTIONS[parts[0]]
    now = svc.clock.now()
    after: tuple[str, dict[str, Any], InlineKeyboardMarkup | None] | None = None
    async with svc.db.transaction() as session:
        ctx = await _load(session, user, hazard_id, context)
        if ctx is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        code = ctx.hazard.code
        late = await _already_acknowledged(session, ctx, svc.settings.default_timezone) \
            if action is HazardAction.ACKNOWLEDGE else None
        if late is not None:
            # A press on a button that outlived the step: who acknowledged it, and when.
            await query.answer(svc.renderer.plain("hazard.already_acknowledged", lang, **late),
                               show_alert=True)
            return
        if action in (HazardAction.REJECT, HazardAction.SUBMIT_FIX):
            # These need one more answer (a reason, an after-photo): check now, ask next.
            decision = decide(action, ctx.facts, ctx.actor)
            refusal = None if decision.allowed else decision.refusal
            if refusal is None:
                step = f"{parts[0]}:{hazard_id}"
                await drafts_repo.start_draft(session, chat.id, ctx.person.id or 0, step=step,
                                              data={}, now=now)
                key = "hazard.ask_reject_reason" if action is HazardAction.REJECT \
                    else "hazard.ask_after_photo"
                after = (key, {"code": code}, None)
        elif action is HazardAction.HAND_UP:
            refusal, after = await _hand_up(session, ctx, now, svc.renderer, lang)
        elif action is HazardAction.ACKNOWLEDGE:
            values = {"acknowledged_at": now, "responsible_id": ctx.person.id,
                      **_watch(ctx.hazard.severity, now)}
            refusal = await _transition(session, ctx, action, now, values)
            if refusal is None:
                await _card_done(session, hazard_id, now)
            after = ("hazard.acknowledged", {"code": code, "leader": ctx.person.name,
                                             "deadline": values["deadline"]},
                     _buttons(svc.renderer, lang, hazard_id, *NEXT_STEPS["acknowledged"]))
        elif action is HazardAction.VERIFY:
            refusal = await _transition(session, ctx, action, now, {"verified_at": now})
            if refusal is None:
                after = await _close(session, ctx, now)
        elif action is HazardAction.START:
            # The rectification clock keeps running: starting is progress, not a fix.
            refusal = await _transition(session, ctx, action, now, {})
            after = ("hazard.started", {"code": code, "who": ctx.person.name,
                                        "deadline": ctx.hazard.deadline},
                     _buttons(svc.renderer, lang, hazard_id, *NEXT_STEPS["rectifying"]))
        else:  # REOPEN
            values = _watch(ctx.hazard.severity, now)
            refusal = await _transition(session, ctx, action, now, values)
            after = ("hazard.reopened", {"code": code, "deadline": values["deadline"]},
                     _buttons(svc.renderer, lang, hazard_id, *NEXT_STEPS["reopened"]))
        if refusal is not None:
            await query.answer(svc.renderer.plain(refusal, lang), show_alert=True)
            return
    await query.answer()
    svc.wake_outbox()
    if after is not None:
        key, values, markup = after
        await reply(update, context, key, reply_markup=markup,
                    force_reply=key in PROMPT_KEYS, **values)


async def _card_done(session: AsyncSession, hazard_id: int, now: datetime) -> None:
    """Acknowledged or rejected: the group's card keeps only its "open" button."""
    await remove_buttons(session, [f"hazard-card:{hazard_id}"], now=now,
                         purpose="hazard.buttons_off",
                         keep=lambda data: data.startswith("hz:show:"))


async def _already_acknowledged(session: AsyncSession, ctx: _Context,
                                default_timezone: str) -> dict[str, Any] | None:
    """Who acknowledged the hazard and when, if it was (None while it awaits that)."""
    if ctx.hazard.state == HazardState.REPORTED.value or ctx.hazard.acknowledged_at is None:
        return None
    events = [e for e in await hazard_repo.history(session, ctx.hazard.id or 0)
              if e.action == EVENT_NAMES[HazardAction.ACKNOWLEDGE]]
    actor_id = events[0].actor_id if events else ctx.hazard.responsible_id
    found = await people_repo.people_by_ids(session, [actor_id]) if actor_id else []
    return {"code": ctx.hazard.code, "who": found[0].name if found else "",
            "at": ctx.hazard.acknowledged_at,
            "tz": ctx.unit.timezone or default_timezone}


async def _start_five(update: Update, context: Context, query: Any, hazard_id: int,
                      lang: str) -> None:
    """Ask the leader for the five in place, one reply at a time."""
    svc = services(context)
    user, chat = sender(update), update.effective_chat
    assert user is not None and chat is not None
    async with svc.db.transaction() as session:
        ctx = await _load(session, user, hazard_id, context)
        refusal = None
        if ctx is None or HazardState(ctx.hazard.state) not in OPEN_STATES:
            refusal = "hazard.refused.state"
        elif not ctx.actor.at_least(Role.TEAM_LEADER):
            refusal = "hazard.refused.leader_only"
        else:
            await drafts_repo.start_draft(session, chat.id, ctx.person.id or 0,
                                          step=f"five:{hazard_id}", data={"field": "resp"},
                                          now=svc.clock.now())
            code = ctx.hazard.code
    if refusal is not None:
        await query.answer(svc.renderer.plain(refusal, lang), show_alert=True)
        return
    await query.answer()
    await reply(update, context, "five.ask_resp", code=code, reply_markup=ForceReply(
        selective=True))


async def _continue_five(session: AsyncSession, ctx: _Context, draft: ConversationDraft,
                         message: Message, context: Context, lang: str
                         ) -> tuple[str, dict[str, Any], InlineKeyboardMarkup | None]:
    """One answer of the five in place; the last one saves them all."""
    svc = services(context)
    now = svc.clock.now()
    data = drafts_repo.draft_data(draft)
    field = str(data.get("field", "resp"))
    text = (message.text or "").strip()
    policy = escalation_policy().for_severity(Severity(ctx.hazard.severity))
    default_deadline = ctx.hazard.deadline or now + policy.rectify_within
    default_plan = svc.renderer.plain(f"five.default_plan.{ctx.hazard.severity}", lang)
    if field == "resp":
        person = await _named_person(session, message, text, ctx.person)
        if person is None:
            return "five.bad_person", {}, None
        data["responsible_id"], data["responsible"] = person.id, person.name
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
        data["plan"] = default_plan if text.lower() in KEEP_DEFAULT else text
        key, values, _ = await _save_five(session, ctx, draft, data, now)
        next_steps = _buttons(svc.renderer, lang, ctx.hazard.id or 0, *(
            step for step in NEXT_STEPS.get(ctx.hazard.state, ()) if step != "five"))
        return key, values, next_steps if key == "five.saved" else None
    following = FIVE_STEPS[FIVE_STEPS.index(field) + 1]
    data["field"] = following
    drafts_repo.save_draft(session, draft, step=draft.step, data=data, now=now)
    return f"five.ask_{following}", {"code": ctx.hazard.code, "default": (
        default_deadline if following == "deadline" else default_plan)}, None


async def _named_person(session: AsyncSession, message: Message, text: str,
                        me: Person) -> Person | None:
    if text.lower() in ("我", "me", "myself"):
        return me
    for entity in message.entities:
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            return await people_repo.get_person(session, entity.user.id)
    if text.startswith("@"):
        return await people_repo.find_by_username(session, text.split()[0])
    return None


def _parse_deadline(text: str, now: datetime, default: datetime, zone: str) -> datetime:
    """"默认", a date (end of that working day, 18:00 local) or a duration such as 3d.

    Raises:
        DateError: why the answer is not a deadline (past, too far, not a date).
    """
    if text.lower() in KEEP_DEFAULT:
        return default
    return parse_deadline(text, now, zone)


async def _save_five(session: AsyncSession, ctx: _Context, draft: ConversationDraft,
                     data: dict[str, Any], now: datetime) -> tuple[str, dict[str, Any], None]:
    deadline = datetime.fromisoformat(str(data["deadline"]))
    policy = escalation_policy().for_severity(Severity(ctx.hazard.severity))
    first = escalate_due(policy, deadline, alerted_level=-1, last_alert_at=None, now=now)
    values = {"responsible_id": data["responsible_id"], "measures": data["measures"],
              "funds": data["funds"], "deadline": deadline, "contingency": data["plan"],
              "updated_at": now}
    if ctx.hazard.watch == "rectify":  # a new deadline restarts the rectification clock
        values.update({"watch_deadline": deadline, "alerted_level": -1, "last_alert_at": None,
                       "next_escalation_at": first.next_at})
    await drafts_repo.drop_draft(session, draft)
    if not await hazard_repo.save_if_unchanged(session, ctx.hazard, ctx.hazard.version, values):
        return "hazard.lost_race", {}, None
    await hazard_repo.record_event(session, ctx.hazard, at=now, actor_id=ctx.person.id,
                                   action="five_in_place",
                                   detail={k: data[k] for k in ("responsible", "measures",
                                                                "funds", "deadline", "plan")})
    return ("five.saved", {"code": ctx.hazard.code, "responsible": data["responsible"],
                           "measures": data["measures"], "funds": data["funds"],
                           "deadline": deadline, "plan": data["plan"]}, None)


async def _close(session: AsyncSession, ctx: _Context, now: datetime
                 ) -> tuple[str, dict[str, Any], None]:
    """Verified: close the loop and credit the reporter (once)."""
    hazard = ctx.hazard
    await hazard_repo.save_if_unchanged(session, hazard, hazard.version, {
        "state": HazardState.CLOSED.value, "closed_at": now, "updated_at": now,
        **NO_ESCALATION})
    await hazard_repo.record_event(session, hazard, at=now, actor_id=ctx.person.id,
                                   action="closed", from_state=HazardState.VERIFIED.value,
                                   to_state=HazardState.CLOSED.value)
    points = POINTS[Severity(hazard.severity)]
    await hazard_repo.award_points(session, hazard=hazard, points=points, now=now)
    reporter = (await people_repo.people_by_ids(session, [hazard.reporter_id]))[0]
    return ("hazard.closed", {"code": hazard.code, "who": ctx.person.name,
                              "reporter": reporter.name, "points": points}, None)


async def _hand_up(session: AsyncSession, ctx: _Context, now: datetime, renderer: Any,
                   lang: str) -> tuple[str | None, tuple[str, dict[str, Any], None] | None]:
    """"Cannot fix at team level": the next unit up owns the hazard from now on."""
    decision = decide(HazardAction.HAND_UP, ctx.facts, ctx.actor)
    if not decision.allowed:
        return decision.refusal, None
    # The workshop's officers and managers privately, and the workshop group: the
    # hazard is theirs now, so everyone there should see it arrive.
    parent, chats = await org_repo.parent_recipients(
        session, ctx.unit, [Role.SAFETY_OFFICER, Role.MANAGER], lang)
    if parent is None:
        return "hazard.no_parent", None
    before = ctx.unit.key
    if not await hazard_repo.save_if_unchanged(session, ctx.hazard, ctx.hazard.version,
                                               {"unit_id": parent.id, "updated_at": now}):
        return "hazard.lost_race", None
    await hazard_repo.record_event(session, ctx.hazard, at=now, actor_id=ctx.person.id,
                                   action="handed_up", detail={"from": before,
                                                               "to": parent.key})
    values = {"code": ctx.hazard.code, "unit": parent.name}
    for chat_id, (clang, person_id) in chats.items():
        await outbox_repo.enqueue_text(
            session, chat_id=chat_id, now=now, purpose="hazard.handed_up",
            html=renderer.html("hazard.handed_up", clang, **values), person_id=person_id,
            reply_markup=_buttons(renderer, clang, ctx.hazard.id or 0, "fix", "show")
            .to_dict(), dedupe_key=f"handed-up:{ctx.hazard.id}:{parent.id}:{chat_id}")
    return None, ("hazard.handed_up", values, None)


async def continue_action(session: AsyncSession, update: Update, context: Context,
                          draft: ConversationDraft, message: Message) -> Say:
    """The second half of reject (the reason), fix (the after-photo) and 五落实."""
    key, values, markup = await _continue(session, update, context, draft, message)
    return lambda: reply(update, context, key, reply_markup=markup,
                         force_reply=key in PROMPT_KEYS, **values)


async def _continue(session: AsyncSession, update: Update, context: Context,
                    draft: ConversationDraft, message: Message
                    ) -> tuple[str, dict[str, Any], InlineKeyboardMarkup | None]:
    svc = services(context)
    now = svc.clock.now()
    lang = await language_of(session, update, context)
    name, _, raw_id = draft.step.partition(":")
    user = sender(update)
    ctx = await _load(session, user, int(raw_id), context) if user else None
    if ctx is None:
        await drafts_repo.drop_draft(session, draft)
        return "callback.stale", {}, None
    code = ctx.hazard.code
    if name == "five":
        return await _continue_five(session, ctx, draft, message, context, lang)
    if name == "rej":
        reason = (message.text or "").strip()
        if not reason or len(reason) > 500:
            return "hazard.reason_empty", {}, None
        refusal = await _transition(session, ctx, HazardAction.REJECT, now,
                                    {"reject_reason": reason, **NO_ESCALATION},
                                    detail={"reason": reason})
        await drafts_repo.drop_draft(session, draft)
        if refusal:
            return refusal, {}, None
        await _card_done(session, ctx.hazard.id or 0, now)
        return "hazard.rejected", {"code": code, "who": ctx.person.name, "reason": reason}, None
    photo = photo_of(message)
    if not isinstance(photo, list):
        return "hazard.after_photo_needed", {}, None
    local = await keep_evidence(context, photo[0], photo[1])
    refusal = await _transition(session, ctx, HazardAction.SUBMIT_FIX, now,
                                {"fixer_id": ctx.person.id, "rectified_at": now,
                                 **NO_ESCALATION})
    await drafts_repo.drop_draft(session, draft)
    if refusal:
        return refusal, {}, None
    hazard_repo.add_photo(session, ctx.hazard, kind="after", file_id=photo[0],
                          unique_id=photo[1], local_path=local, now=now)
    reporter = (await people_repo.people_by_ids(session, [ctx.hazard.reporter_id]))[0]
    return ("hazard.rectified", {"code": code, "who": ctx.person.name,
                                 "reporter": reporter.name, "reporter_id": reporter.telegram_id},
            _buttons(svc.renderer, lang, ctx.hazard.id or 0, *NEXT_STEPS["rectified"]))


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
        steps = NEXT_STEPS.get(hazard.state, ())
        markup = _buttons(svc.renderer, lang, hazard.id or 0, *steps) if steps else None
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
