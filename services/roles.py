"""Granting and revoking roles on units (``/role`` in chat)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import Role, may_grant
from services.base import Actor, Outcome, Runtime
from storage import grants as grant_repo
from storage import groups as group_repo
from storage import people as people_repo
from storage import units as unit_repo
from storage.models import Person, Unit


async def _unit(session: AsyncSession, key: str | None, chat_id: int | None) -> Unit | str:
    """The unit named by ``key``, else the one the group ``chat_id`` is bound to."""
    if key:
        unit = await unit_repo.get_unit_by_key(session, key)
        return unit if unit is not None else "role.unknown_unit"
    if chat_id is not None:
        group = await group_repo.get_group_chat(session, chat_id)
        unit = (await unit_repo.get_unit(session, group.unit_id)
                if group is not None and group.unit_id else None)
        if unit is not None:
            return unit
    return "role.no_unit"


async def change_role(rt: Runtime, actor: Actor, role: Role, *, revoke: bool = False,
                      person_id: int | None = None, username: str | None = None,
                      unit_key: str | None = None, chat_id: int | None = None) -> Outcome:
    """Give ``role`` to a person (by row id, or by @username), or take it back.

    The unit is ``unit_key``, else the team the group ``chat_id`` is bound to. The
    actor needs authority over the unit above the role (domain.org.may_grant).
    Outcomes: ``role.granted`` / ``role.already`` / ``role.revoked`` /
    ``role.not_held``; refusals ``role.unknown_unit``, ``role.no_unit``,
    ``role.unknown_person``, ``role.not_allowed``.
    """
    async with rt.db.transaction() as session:
        unit = await _unit(session, unit_key, chat_id)
        if isinstance(unit, str):
            return Outcome(False, unit, {"key": unit_key or ""})
        target: Person | None
        if person_id is not None:
            target = await session.get(Person, person_id)
        else:
            target = await people_repo.find_by_username(session, username or "")
        if target is None:
            return Outcome.refused("role.unknown_person", who=f"@{username}")
        grants = await grant_repo.grants_of(session, actor.person_id)
        if not may_grant(grants, unit.path, role, is_bot_admin=actor.is_bot_admin):
            return Outcome.refused("role.not_allowed", role=role.value, unit=unit.name)
        if revoke:
            changed = await grant_repo.revoke_role(session, person=target, unit=unit, role=role)
            key = "role.revoked" if changed else "role.not_held"
        else:
            granter = await session.get(Person, actor.person_id)
            changed = await grant_repo.grant_role(session, person=target, unit=unit, role=role,
                                                  now=rt.clock.now(), granted_by=granter)
            key = "role.granted" if changed else "role.already"
        return Outcome(changed, key, {"person": target.name, "person_id": target.telegram_id,
                                      "unit": unit.name, "role": role.value})
