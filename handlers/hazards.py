"""Acting on hazards (acknowledge, open) and the ledger in chat (/hazards, /hazard CODE)."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.hazards import category, escalation_policy
from domain.escalation import escalate_due
from domain.hazard import Actor, HazardAction, HazardFacts, HazardState, Severity, decide
from domain.org import Role, has_role_over, highest_role_over
from handlers.callbacks import int_arg, unpack
from handlers.common import (
    Context,
    bound_unit,
    is_bot_admin,
    is_group,
    language_of,
    learn_person,
    reply,
    sender,
    services,
)
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.models import Hazard, Person, Unit


async def _actor(session: AsyncSession, person: Person, unit: Unit, context: Context) -> Actor:
    grants = await org_repo.grants_of(session, person.id or 0)
    return Actor(person.id or 0, highest_role_over(grants, unit.path),
                 is_bot_admin=await is_bot_admin(session, person.telegram_id, context))


async def hazard_clicked(update: Update, context: Context) -> None:
    """The buttons under a hazard card or an escalation alert."""
    query = update.callback_query
    user = sender(update)
    assert query is not None
    svc = services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    parts = unpack(query.data, "hz")
    hazard_id = int_arg(parts or [], 1)
    if parts is None or hazard_id is None or user is None or parts[0] not in ("ack", "show"):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if parts[0] == "show":
        await query.answer()
        await _show(update, context, hazard_id=hazard_id)
        return
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        hazard = await hazard_repo.get_hazard(session, hazard_id)
        unit = await org_repo.get_unit(session, hazard.unit_id) if hazard else None
        if hazard is None or unit is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        facts = HazardFacts(HazardState(hazard.state), hazard.reporter_id, hazard.responsible_id,
                            hazard.fixer_id)
        decision = decide(HazardAction.ACKNOWLEDGE, facts, await _actor(session, person, unit,
                                                                         context))
        if not decision.allowed:
            await query.answer(svc.renderer.plain(decision.refusal or "callback.stale", lang),
                               show_alert=True)
            return
        policy = escalation_policy().for_severity(Severity(hazard.severity))
        deadline = now + policy.rectify_within
        first = escalate_due(policy, deadline, alerted_level=-1, last_alert_at=None, now=now)
        won = await hazard_repo.save_if_unchanged(session, hazard, hazard.version, {
            "state": HazardState.ACKNOWLEDGED.value, "acknowledged_at": now,
            "responsible_id": person.id, "deadline": deadline, "watch": "rectify",
            "watch_deadline": deadline, "alerted_level": -1, "last_alert_at": None,
            "next_escalation_at": first.next_at, "updated_at": now})
        if not won:
            await query.answer(svc.renderer.plain("hazard.lost_race", lang), show_alert=True)
            return
        await hazard_repo.record_event(session, hazard, at=now, actor_id=person.id,
                                       action="acknowledged", from_state=facts.state.value,
                                       to_state=HazardState.ACKNOWLEDGED.value)
        code, leader = hazard.code, person.name
    await query.answer()
    await reply(update, context, "hazard.acknowledged", code=code, leader=leader,
                deadline=deadline)


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
        values = _facts(svc.renderer, hazard, unit, lang)
        values["events"] = [{"at": e.at, "action": e.action, "actor": actors.get(e.actor_id)}
                            for e in events]
    await reply(update, context, "hazard.detail", **values)


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
