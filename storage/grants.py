"""Roles granted on units, and where to tell the holders of a role."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import Grant, Role
from domain.reach import Recipients, reachable
from storage.groups import chat_of_unit
from storage.models import Person, RoleGrant, Unit
from storage.units import get_unit

log = logging.getLogger(__name__)

async def grant_role(
    session: AsyncSession,
    *,
    person: Person,
    unit: Unit,
    role: Role,
    now: datetime,
    source: str = "chat",
    granted_by: Person | None = None,
) -> bool:
    """Give ``role`` on ``unit``. Returns False if the person already had it."""
    existing = await session.exec(select(RoleGrant).where(
        RoleGrant.person_id == person.id, RoleGrant.unit_id == unit.id,
        RoleGrant.role == role.value))
    if existing.first() is not None:
        return False
    session.add(RoleGrant(person_id=person.id or 0, unit_id=unit.id or 0, role=role,
                          source=source, granted_by=granted_by.id if granted_by else None,
                          granted_at=now))
    await session.flush()
    return True


async def revoke_role(session: AsyncSession, *, person: Person, unit: Unit, role: Role) -> bool:
    """Take ``role`` on ``unit`` away. Returns False if the person did not have it."""
    existing = (await session.exec(select(RoleGrant).where(
        RoleGrant.person_id == person.id, RoleGrant.unit_id == unit.id,
        RoleGrant.role == role.value))).first()
    if existing is None:
        return False
    await session.delete(existing)
    return True


async def grants_of(session: AsyncSession, person_id: int) -> list[Grant]:
    """A person's roles as plain domain values, with each unit's path."""
    result = await session.exec(
        select(RoleGrant, Unit).join(Unit, col(Unit.id) == RoleGrant.unit_id)
        .where(RoleGrant.person_id == person_id)
    )
    return [Grant(role=Role(g.role), unit_id=u.id or 0, unit_path=u.path) for g, u in result.all()]


async def role_rows_of(session: AsyncSession, person_id: int) -> list[tuple[RoleGrant, Unit]]:
    """A person's role grants with their units, in tree order."""
    result = await session.exec(
        select(RoleGrant, Unit).join(Unit, col(Unit.id) == RoleGrant.unit_id)
        .where(RoleGrant.person_id == person_id).order_by(col(Unit.path), RoleGrant.role)
    )
    return [(g, u) for g, u in result.all()]


async def role_holders(
    session: AsyncSession, unit_ids: Sequence[int], roles: Iterable[Role]
) -> list[tuple[Person, RoleGrant]]:
    """Who holds any of ``roles`` directly on any of ``unit_ids``."""
    if not unit_ids:
        return []
    result = await session.exec(
        select(Person, RoleGrant).join(RoleGrant, col(RoleGrant.person_id) == Person.id)
        .where(col(RoleGrant.unit_id).in_(list(unit_ids)),
               col(RoleGrant.role).in_([r.value for r in roles]))
        .order_by(col(RoleGrant.unit_id), col(RoleGrant.role), col(Person.name))
    )
    return [(p, g) for p, g in result.all()]



async def parent_recipients(session: AsyncSession, unit: Unit, roles: Sequence[Role],
                            default_language: str) -> tuple[Unit | None, Recipients]:
    """The unit above ``unit`` (a team's workshop) and where to tell its ``roles``."""
    parent = await get_unit(session, unit.parent_id) if unit.parent_id else None
    if parent is None:
        return None, {}
    holders = [person for person, _ in await role_holders(session, [parent.id or 0], roles)]
    chats, _ = reachable(holders, parent, await chat_of_unit(session, parent.id or 0),
                         default_language)
    return parent, chats


async def nearest_recipients_above(session: AsyncSession, unit: Unit, roles: Sequence[Role],
                                   default_language: str) -> tuple[Unit | None, Recipients]:
    """Like :func:`parent_recipients`, going further up while nobody can be told.

    A workshop whose officers never pressed Start and that has no group would
    swallow a "meeting not held" or "handover not accepted": the enterprise hears
    instead. Returns (None, {}) only when nobody above can be told at all.
    """
    current: Unit | None = unit
    while current is not None:
        above, chats = await parent_recipients(session, current, roles, default_language)
        if chats:
            return above, chats
        current = above
    # Worth an operator's attention: a notice meant for people above reaches nobody.
    log.warning("nobody above unit %s can be told (roles %s): no Start, blocked, no group",
                unit.key, ", ".join(r.value for r in roles))
    return None, {}


