"""Languages: a person's own (private chat) and a group's (its admins and leaders)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.language import SUPPORTED_LANGUAGES, negotiate
from domain.org import Role, UnitKind, has_role_over
from domain.reach import unit_language
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import grants as grant_repo
from storage import groups as group_repo
from storage import org as org_repo
from storage import people as people_repo
from storage import units as unit_repo
from storage.models import Person, Unit

Scope = Literal["g", "p"]
Code = Literal["zh", "en"]
CODES: tuple[Code, ...] = ("zh", "en")  # SUPPORTED_LANGUAGES, as button values


@dataclass(frozen=True)
class LanguagePick(Button, prefix="lang"):
    """``lang:g:en`` sets the group's language, ``lang:p:zh`` one's own."""

    scope: Scope
    code: Code


async def answer_language(session: AsyncSession, *, group_chat_id: int | None,
                          telegram_id: int | None, language_code: str | None,
                          default: str) -> str:
    """The language to answer in, inside the caller's session.

    In a group (``group_chat_id``): the group's own choice, its unit's, the default.
    In a private chat: the person's choice, else their Telegram language where
    supported, else the default.
    """
    if group_chat_id is not None:
        group = await group_repo.get_group_chat(session, group_chat_id)
        unit = await unit_repo.get_unit(session, group.unit_id) \
            if group is not None and group.unit_id else None
        return unit_language(unit, group, default)
    if telegram_id is None:
        return default
    person = await people_repo.get_person(session, telegram_id)
    if person is not None and person.language:
        return person.language
    return negotiate(language_code, default)


def language_buttons(scope: Scope, renderer: Renderer, lang: str) -> dict[str, Any]:
    """Buttons to pick a language for the group ("g") or for oneself ("p")."""
    return keyboard([[(renderer.plain(f"button.lang_{code}", lang), LanguagePick(scope, code))
                      for code in CODES]])


async def may_set_group_language(rt: Runtime, actor: Actor, chat_id: int) -> bool:
    """Whether the actor's roles let them set this group's language: bot admins, and
    team leaders (or above) over the group's team. Group admins may too: the edge
    asks Telegram about that, only when this says no."""
    if actor.is_bot_admin:
        return True
    async with rt.db.session() as session:
        group = await group_repo.get_group_chat(session, chat_id)
        unit = (await unit_repo.get_unit(session, group.unit_id)
                if group is not None and group.unit_id else None)
        if unit is None:
            return False
        grants = await grant_repo.grants_of(session, actor.person_id)
    return has_role_over(grants, unit.path, Role.TEAM_LEADER)


async def set_group_language(rt: Runtime, *, chat_id: int, title: str, chat_type: str,
                             code: str) -> Outcome:
    """Speak ``code`` in this group from now on (the caller checked the right to)."""
    if code not in SUPPORTED_LANGUAGES:
        return Outcome.refused("callback.stale")
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        group = await group_repo.upsert_group_chat(session, chat_id=chat_id, title=title,
                                                   chat_type=chat_type, now=now)
        group.language, group.updated_at = code, now
        session.add(group)
    return Outcome.done("language.set_group")


async def set_own_language(rt: Runtime, actor: Actor, code: str) -> Outcome:
    """Speak ``code`` to the actor in private from now on."""
    if code not in SUPPORTED_LANGUAGES:
        return Outcome.refused("callback.stale")
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        person = await session.get(Person, actor.person_id)
        if person is not None:
            person.language, person.updated_at = code, now
            session.add(person)
    return Outcome.done("language.set_private")


async def home_team(session: AsyncSession, person_id: int) -> Unit | None:
    """The team a person reports from: the team of their first bound group, else a team
    they hold a role in (a leader who never spoke in the group), else None."""
    for group in await org_repo.groups_of_person(session, person_id):
        unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        if unit is not None and unit.kind == UnitKind.TEAM:
            return unit
    for _, unit in await org_repo.role_rows_of(session, person_id):
        if unit.kind == UnitKind.TEAM:
            return unit
    return None
