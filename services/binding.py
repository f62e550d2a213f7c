"""Binding a group chat to a team: the /setup menu, its buttons, and invitation codes.

Controlling a group proves nothing about the organisation, so binding needs a role
over the unit (domain.org.may_bind_group) or a one-time invitation code. Whether the
asker is a named admin of the group is a Telegram question: the edge asks
getChatMember and passes the answer in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from domain import invites
from domain.org import UnitKind, may_bind_group
from domain.reach import unit_language
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from services.people import language_buttons
from storage import grants as grant_repo
from storage import groups as group_repo
from storage import invites as invite_repo
from storage import outbox as outbox_repo
from storage import units as unit_repo
from storage.models import GroupChat, Person, Unit

PAGE_SIZE = 8
MAX_INVITE_CHOICES = 16  # more units than this: name the unit's key


@dataclass(frozen=True)
class SetupStep(Button, prefix="setup"):
    """``setup:u:ID`` bind to a team, ``setup:w:ID`` to a new team under a workshop,
    ``setup:p:PAGE`` / ``setup:new:PAGE`` turn the pages of teams / workshops."""

    action: Literal["u", "w", "p", "new"]
    arg: int


@dataclass(frozen=True)
class SetupCancel(Button, prefix="setup"):
    """``setup:x``: close the menu."""

    action: Literal["x"]


@dataclass(frozen=True)
class InvitePick(Button, prefix="inv"):
    """``inv:t:ID`` a code for a team, ``inv:w:ID`` for a new team under a workshop."""

    kind: Literal["t", "w"]
    unit_id: int


@dataclass(frozen=True)
class Chat:
    """The group being bound, as Telegram names it."""

    chat_id: int
    title: str
    chat_type: str


@dataclass
class Screen(Outcome):
    """An outcome to show: the text key in ``lang``, and buttons when there are any."""

    lang: str = "zh"
    markup: dict[str, Any] | None = field(default=None)


# ------------------------------------------------------------------ who may bind what


async def bindable_units(session: AsyncSession, actor: Actor) -> tuple[list[Unit], list[Unit]]:
    """The unbound teams ``actor`` may bind a group to, and the workshops they may
    create a new team under (both in tree order)."""
    admin = actor.is_bot_admin
    grants = await grant_repo.grants_of(session, actor.person_id)
    if not admin and not grants:
        return [], []
    teams = [t for t in await unit_repo.unbound_teams(session)
             if may_bind_group(grants, t.path, t.id or 0, new_team=False, is_bot_admin=admin)]
    workshops = [w for w in await unit_repo.units_of_kind(session, UnitKind.WORKSHOP)
                 if may_bind_group(grants, w.path, w.id or 0, new_team=True,
                                   is_bot_admin=admin)]
    return teams, workshops


async def may_bind_to(session: AsyncSession, actor: Actor, unit: Unit, *,
                      new_team: bool) -> bool:
    """Whether ``actor`` may bind a group to ``unit`` (or to a new team under it)."""
    grants = await grant_repo.grants_of(session, actor.person_id)
    return may_bind_group(grants, unit.path, unit.id or 0, new_team=new_team,
                          is_bot_admin=actor.is_bot_admin)


async def _held_elsewhere(session: AsyncSession, actor: Actor, group: GroupChat,
                          target_id: int | None) -> Unit | None:
    """The unit this group is bound to, when moving it away needs a role the actor lacks.

    Moving a bound group takes the group from its team, an organisation change like
    binding: the person needs the same right over the team the group leaves.
    """
    if group.unit_id is None or group.unit_id == target_id:
        return None
    current = await unit_repo.get_unit(session, group.unit_id)
    if current is None or await may_bind_to(session, actor, current, new_team=False):
        return None
    return current


async def _group(session: AsyncSession, chat: Chat, now: datetime) -> GroupChat:
    return await group_repo.upsert_group_chat(session, chat_id=chat.chat_id, title=chat.title,
                                              chat_type=chat.chat_type, now=now)


async def _group_language(session: AsyncSession, rt: Runtime, group: GroupChat) -> str:
    unit = await unit_repo.get_unit(session, group.unit_id) if group.unit_id else None
    return unit_language(unit, group, rt.default_language)


# ------------------------------------------------------------------ the /setup menu


async def teams_menu(rt: Runtime, actor: Actor, chat: Chat, *, page: int) -> Screen:
    """The teams this group can be bound to (its current team first), a page at a time."""
    async with rt.db.transaction() as session:
        group = await _group(session, chat, rt.clock.now())
        lang = await _group_language(session, rt, group)
        teams, workshops = await bindable_units(session, actor)
        current = await unit_repo.get_unit(session, group.unit_id) if group.unit_id else None
        held = await _held_elsewhere(session, actor, group, None)
    if held is not None:
        return Screen(False, "setup.not_yours", {"unit": held.name}, lang=lang)
    if not teams and not workshops:
        # Nothing this person may bind: say how to get there instead of an empty menu.
        return Screen(False, "setup.no_right", lang=lang)
    if current is not None:
        teams = [current, *teams]
    shown = teams[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows: list[list[tuple[str, Button | str]]] = [
        [(("✅ " if current and t.id == current.id else "") + t.name,
          SetupStep("u", t.id or 0))] for t in shown]
    nav: list[tuple[str, Button | str]] = []
    if page > 0:
        nav.append(("◀", SetupStep("p", page - 1)))
    if (page + 1) * PAGE_SIZE < len(teams):
        nav.append(("▶", SetupStep("p", page + 1)))
    if nav:
        rows.append(nav)
    last_row: list[tuple[str, Button | str]] = []
    if workshops:
        last_row.append((rt.renderer.plain("button.create_team", lang), SetupStep("new", 0)))
    last_row.append((rt.renderer.plain("button.cancel", lang), SetupCancel("x")))
    rows.append(last_row)
    if current is not None:
        return Screen(True, "setup.already_bound", {"unit": current.name}, lang=lang,
                      markup=keyboard(rows))
    return Screen(True, "setup.choose", {"chat_title": chat.title, "has_teams": bool(teams)},
                  lang=lang, markup=keyboard(rows))


async def workshops_menu(rt: Runtime, actor: Actor, lang: str, *, page: int) -> Screen:
    """The workshops a new team for this group can be created under."""
    async with rt.db.session() as session:
        _, workshops = await bindable_units(session, actor)
        any_workshop = bool(await unit_repo.units_of_kind(session, UnitKind.WORKSHOP))
    if not workshops:
        return Screen(False, "setup.no_right" if any_workshop else "setup.no_workshops",
                      lang=lang)
    shown = workshops[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows: list[list[tuple[str, Button | str]]] = [[(w.name, SetupStep("w", w.id or 0))]
                                                  for w in shown]
    nav: list[tuple[str, Button | str]] = []
    if page > 0:
        nav.append(("◀", SetupStep("new", page - 1)))
    if (page + 1) * PAGE_SIZE < len(workshops):
        nav.append(("▶", SetupStep("new", page + 1)))
    if nav:
        rows.append(nav)
    rows.append([(rt.renderer.plain("button.cancel", lang), SetupCancel("x"))])
    return Screen(True, "setup.choose_workshop", lang=lang, markup=keyboard(rows))


# ------------------------------------------------------------------ binding


async def bind(rt: Runtime, actor: Actor, chat: Chat, unit_id: int, *, new_team: bool,
               lang: str) -> Screen:
    """Bind the group to a team (``new_team`` False) or to a new team under a workshop.

    Refusals: ``callback.stale`` (no such unit of that kind), ``setup.no_right_here``,
    ``setup.not_yours`` (the group's current team is not the actor's to take),
    ``setup.team_taken`` (another group has the team).
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        target = await unit_repo.get_unit(session, unit_id)
        wanted = UnitKind.WORKSHOP if new_team else UnitKind.TEAM
        if target is None or target.kind != wanted.value:
            return Screen(False, "callback.stale", lang=lang)
        if not await may_bind_to(session, actor, target, new_team=new_team):
            return Screen(False, "setup.no_right_here", lang=lang)
        group = await _group(session, chat, now)
        held = await _held_elsewhere(session, actor, group, None if new_team else target.id)
        if held is not None:
            return Screen(False, "setup.not_yours", {"unit": held.name}, lang=lang)
        if not new_team:
            holder = await group_repo.chat_of_unit(session, target.id or 0)
            if holder is not None and holder.id != group.id:
                return Screen(False, "setup.team_taken", lang=lang)
        else:
            target = await _new_team(session, target, chat, now)
        await group_repo.bind_chat(session, group, target, now=now)
        path = " › ".join(u.name for u in await unit_repo.ancestors(session, target))
        name = target.name
    return Screen(True, "setup.bound", {"unit": name, "path": path}, lang=lang,
                  markup=language_buttons("g", rt.renderer, lang))


async def bind_with_code(rt: Runtime, actor: Actor, chat: Chat, text: str) -> Screen:
    """Bind the group with a one-time invitation code (``/setup CODE``, ``/start CODE``).

    The edge has checked that the actor is a named admin of the group. The code is
    spent by a conditional update in the same transaction as the binding, so it binds
    one group once; a refused binding (the team is taken) leaves it unspent. Whoever
    created the code is told (through the outbox) which group it brought in.
    """
    now = rt.clock.now()
    code = invites.normalise(text)
    queued = 0
    async with rt.db.transaction() as session:
        group = await _group(session, chat, now)
        lang = await _group_language(session, rt, group)
        invite = await invite_repo.find(session, code) if code else None
        refusal = ("invite.unknown" if invite is None
                   else "invite.used" if invite.used_at is not None
                   else "invite.expired" if invite.expires_at <= now else None)
        unit = await unit_repo.get_unit(session, invite.unit_id) if invite else None
        if refusal is None and (invite is None or unit is None):
            refusal = "invite.unknown"
        if refusal is None and invite is not None and not invite.new_team:
            holder = await group_repo.chat_of_unit(session, invite.unit_id)
            if holder is not None and holder.id != group.id:
                refusal = "setup.team_taken"
        held = None
        if refusal is None and invite is not None:
            held = await _held_elsewhere(session, actor, group,
                                         None if invite.new_team else invite.unit_id)
            refusal = "setup.not_yours" if held is not None else None
        if refusal is None and invite is not None and not await invite_repo.spend(
                session, invite, person_id=actor.person_id, chat_id=chat.chat_id, now=now):
            refusal = "invite.used"  # another group used it a moment ago
        if refusal is not None or invite is None or unit is None:
            return Screen(False, refusal or "invite.unknown",
                          {"unit": held.name if held else ""}, lang=lang)
        target = await _new_team(session, unit, chat, now) if invite.new_team else unit
        await group_repo.bind_chat(session, group, target, now=now)
        path = " › ".join(u.name for u in await unit_repo.ancestors(session, target))
        queued = await _tell_inviter(session, rt, invite.created_by, target.name, chat.title,
                                     actor.name)
        name = target.name
    if queued:
        rt.wake()
    return Screen(True, "setup.bound", {"unit": name, "path": path}, queued, lang=lang,
                  markup=language_buttons("g", rt.renderer, lang))


async def _new_team(session: AsyncSession, workshop: Unit, chat: Chat, now: datetime) -> Unit:
    """A team for this group under ``workshop``, named after the group."""
    return await unit_repo.create_unit(
        session, key=await _free_team_key(session, chat.chat_id), kind=UnitKind.TEAM,
        name=(chat.title or "Team")[:100], parent=workshop, now=now)


async def _free_team_key(session: AsyncSession, chat_id: int) -> str:
    """A unit key for a team created in chat, unique even if the name repeats."""
    base = re.sub(r"[^a-z0-9-]", "", f"team-{abs(chat_id)}")
    key, n = base, 1
    while await unit_repo.get_unit_by_key(session, key) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


async def _tell_inviter(session: AsyncSession, rt: Runtime, person_id: int, unit: str,
                        chat_title: str, used_by: str) -> int:
    """Let whoever created the code know which group it brought in; rows queued."""
    inviter = await session.get(Person, person_id)
    if inviter is None or not inviter.started or inviter.blocked:
        return 0
    html = rt.renderer.html("invite.used_notice", inviter.language or rt.default_language,
                            unit=unit, chat_title=chat_title, who=used_by)
    await outbox_repo.enqueue_text(session, chat_id=inviter.telegram_id, html=html,
                                   now=rt.clock.now(), purpose="invite.used",
                                   person_id=inviter.id)
    return 1


# ------------------------------------------------------------------ invitation codes


async def invite_menu(rt: Runtime, actor: Actor) -> Screen:
    """The units ``actor`` may invite a group to, as buttons (or why there are none)."""
    lang = actor.language
    async with rt.db.session() as session:
        teams, workshops = await bindable_units(session, actor)
    choices: list[tuple[str, Button | str]] = [
        (rt.renderer.plain("invite.new_team_button", lang, unit=w.name),
         InvitePick("w", w.id or 0)) for w in workshops]
    choices += [(t.name, InvitePick("t", t.id or 0)) for t in teams]
    if not choices:
        return Screen(False, "invite.not_allowed_any", lang=lang)
    return Screen(True, "invite.choose", {"more": len(choices) > MAX_INVITE_CHOICES},
                  lang=lang, markup=keyboard([[c] for c in choices[:MAX_INVITE_CHOICES]]))


async def invite_by_key(rt: Runtime, actor: Actor, key: str, *, valid_for: timedelta,
                        bot_username: str | None) -> Screen:
    """``/invite KEY``: a code for the team (or a new team under the workshop) ``key``."""
    async with rt.db.transaction() as session:
        unit = await unit_repo.get_unit_by_key(session, key)
        if unit is None or unit.kind not in (UnitKind.TEAM.value, UnitKind.WORKSHOP.value):
            return Screen(False, "invite.unknown_unit" if unit is None else "invite.bad_unit",
                          {"key": key}, lang=actor.language)
        return await _issue(session, rt, actor, unit,
                            new_team=unit.kind == UnitKind.WORKSHOP.value,
                            valid_for=valid_for, bot_username=bot_username)


async def invite_for(rt: Runtime, actor: Actor, pick: InvitePick, *, valid_for: timedelta,
                     bot_username: str | None) -> Screen:
    """A unit was picked from the /invite buttons: its code (``callback.stale`` if gone)."""
    async with rt.db.transaction() as session:
        unit = await unit_repo.get_unit(session, pick.unit_id)
        wanted = UnitKind.TEAM if pick.kind == "t" else UnitKind.WORKSHOP
        if unit is None or unit.kind != wanted.value:
            return Screen(False, "callback.stale", lang=actor.language)
        return await _issue(session, rt, actor, unit, new_team=pick.kind == "w",
                            valid_for=valid_for, bot_username=bot_username)


async def _issue(session: AsyncSession, rt: Runtime, actor: Actor, unit: Unit, *,
                 new_team: bool, valid_for: timedelta, bot_username: str | None) -> Screen:
    """Create a code for ``unit``, or say why not."""
    lang = actor.language
    if not await may_bind_to(session, actor, unit, new_team=new_team):
        return Screen(False, "invite.not_allowed", {"unit": unit.name}, lang=lang)
    if not new_team and await group_repo.chat_of_unit(session, unit.id or 0) is not None:
        return Screen(False, "invite.team_bound", {"unit": unit.name}, lang=lang)
    now = rt.clock.now()
    code = invites.new_code()
    expires_at = now + valid_for
    await invite_repo.create(session, code=code, unit_id=unit.id or 0, new_team=new_team,
                             created_by=actor.person_id, now=now, expires_at=expires_at)
    link = f"https://t.me/{bot_username}?startgroup={code}"
    return Screen(True, "invite.created",
                  {"unit": unit.name, "new_team": new_team, "code": code, "link": link,
                   "expires_at": expires_at, "tz": unit.timezone}, lang=lang)
