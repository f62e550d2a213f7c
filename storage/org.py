"""Units, the group chats bound to them, roles and memberships."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import Grant, Role, UnitKind, child_path, path_ids
from storage.models import GroupChat, Membership, Person, RoleGrant, Unit

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- units


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    """The unit with this id."""
    return await session.get(Unit, unit_id)


async def get_unit_by_key(session: AsyncSession, key: str) -> Unit | None:
    """The unit with this org-file key."""
    result = await session.exec(select(Unit).where(Unit.key == key))
    return result.first()


async def create_unit(
    session: AsyncSession,
    *,
    key: str,
    kind: UnitKind,
    name: str,
    parent: Unit | None,
    now: datetime,
    language: str | None = None,
    timezone: str | None = None,
) -> Unit:
    """Add a unit under ``parent`` and give it its materialised path."""
    unit = Unit(key=key, kind=kind.value, name=name,
                parent_id=parent.id if parent else None, language=language,
                timezone=timezone, created_at=now)
    session.add(unit)
    await session.flush()  # the id is part of the path
    assert unit.id is not None
    unit.path = child_path(parent.path if parent else None, unit.id)
    session.add(unit)
    return unit


async def ancestors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit and every unit above it, root first."""
    ids = path_ids(unit.path)
    result = await session.exec(select(Unit).where(col(Unit.id).in_(ids)))
    by_id = {u.id: u for u in result.all()}
    return [by_id[i] for i in ids if i in by_id]


async def subtree(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit and everything below it (one prefix query on the path index)."""
    result = await session.exec(
        select(Unit).where(col(Unit.path).startswith(unit.path)).order_by(col(Unit.path))
    )
    return list(result.all())


async def units_of_kind(session: AsyncSession, kind: UnitKind) -> list[Unit]:
    """All units of one kind, in tree order."""
    result = await session.exec(
        select(Unit).where(Unit.kind == kind.value).order_by(col(Unit.path))
    )
    return list(result.all())


async def all_units(session: AsyncSession) -> list[Unit]:
    """Every unit in tree order (parents before children)."""
    result = await session.exec(select(Unit).order_by(col(Unit.path)))
    return list(result.all())


async def unbound_teams(session: AsyncSession) -> list[Unit]:
    """Teams that no group chat is bound to yet."""
    bound = select(GroupChat.unit_id).where(col(GroupChat.unit_id).is_not(None))
    result = await session.exec(
        select(Unit).where(Unit.kind == UnitKind.TEAM.value, col(Unit.id).not_in(bound))
        .order_by(col(Unit.path))
    )
    return list(result.all())


async def teams_with_groups(session: AsyncSession) -> list[tuple[Unit, GroupChat]]:
    """Every team bound to a group the bot is still in, with that group, in one query.

    Sweeps that run every minute over thousands of teams read this instead of one
    query per team.
    """
    result = await session.exec(
        select(Unit, GroupChat).join(GroupChat, col(GroupChat.unit_id) == col(Unit.id))
        .where(Unit.kind == UnitKind.TEAM.value, col(GroupChat.active).is_(True))
        .order_by(col(Unit.path)))
    return [(unit, group) for unit, group in result.all()]


def unit_language(unit: Unit | None, chat: GroupChat | None, default: str) -> str:
    """The language to speak in a unit's group: the chat's choice, the unit's, the default."""
    if chat is not None and chat.language:
        return chat.language
    if unit is not None and unit.language:
        return unit.language
    return default


# ---------------------------------------------------------------- group chats


async def get_group_chat(session: AsyncSession, chat_id: int) -> GroupChat | None:
    """The group chat with this Telegram chat id."""
    result = await session.exec(select(GroupChat).where(GroupChat.chat_id == chat_id))
    return result.first()


async def chat_of_unit(session: AsyncSession, unit_id: int) -> GroupChat | None:
    """The group chat bound to a unit, if any (active or not)."""
    result = await session.exec(select(GroupChat).where(GroupChat.unit_id == unit_id))
    return result.first()


async def upsert_group_chat(
    session: AsyncSession, *, chat_id: int, title: str, chat_type: str, now: datetime
) -> GroupChat:
    """Record that the bot is in a group (reactivating it if it had been removed)."""
    chat = await get_group_chat(session, chat_id)
    if chat is None:
        chat = GroupChat(chat_id=chat_id, title=title, chat_type=chat_type, active=True,
                         added_at=now, updated_at=now)
        session.add(chat)
        await session.flush()
        return chat
    if (chat.title, chat.chat_type, chat.active) != (title, chat_type, True):
        chat.title, chat.chat_type = title, chat_type
        chat.active, chat.inactive_reason = True, None
        chat.updated_at = now
        session.add(chat)
    return chat


async def inactive_chat_ids(session: AsyncSession, chat_ids: set[int]) -> set[int]:
    """Which of these chats the bot may no longer post in (removed, kicked)."""
    groups = [c for c in chat_ids if c < 0]
    if not groups:
        return set()
    result = await session.exec(select(GroupChat.chat_id).where(
        col(GroupChat.chat_id).in_(groups), GroupChat.active == False))  # noqa: E712
    return set(result.all())


async def deactivate_chat(
    session: AsyncSession, chat: GroupChat, *, reason: str, now: datetime
) -> bool:
    """Mark a chat as one the bot can no longer post in. Returns False if already so."""
    if not chat.active:
        return False
    chat.active, chat.inactive_reason, chat.updated_at = False, reason, now
    session.add(chat)
    return True


async def bind_chat(session: AsyncSession, chat: GroupChat, unit: Unit, *, now: datetime) -> None:
    """Bind a group to a unit, releasing whatever the group was bound to before."""
    chat.unit_id = unit.id
    chat.updated_at = now
    session.add(chat)


async def migrate_chat(
    session: AsyncSession, *, old_chat_id: int, new_chat_id: int, now: datetime
) -> GroupChat | None:
    """Carry a group's binding, language and members over to its new supergroup id.

    Safe to call twice and in either order of the two service messages Telegram
    sends (``migrate_to_chat_id`` in the old chat, ``migrate_from_chat_id`` in
    the new one).
    """
    old = await get_group_chat(session, old_chat_id)
    if old is None:
        return await get_group_chat(session, new_chat_id)
    new = await get_group_chat(session, new_chat_id)
    if new is None:
        # Reuse the row: everything pointing at it (members, binding) follows.
        old.chat_id, old.chat_type, old.updated_at = new_chat_id, "supergroup", now
        session.add(old)
        return old
    # Both rows exist (the new chat spoke first): move what the old one knew.
    new.unit_id = new.unit_id or old.unit_id
    new.language = new.language or old.language
    new.updated_at = now
    old.unit_id, old.active, old.inactive_reason, old.updated_at = None, False, "migrated", now
    session.add(old)
    await session.flush()
    session.add(new)
    known = {m.person_id for m in await memberships(session, new.id or 0)}
    for member in await memberships(session, old.id or 0):
        if member.person_id not in known:
            member.group_chat_id = new.id or 0
            session.add(member)
    return new


# ---------------------------------------------------------------- roles


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
    session.add(RoleGrant(person_id=person.id or 0, unit_id=unit.id or 0, role=role.value,
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


# ---------------------------------------------------------------- who can be told

Recipients = dict[int, tuple[str, int | None]]  # chat id -> (language, person row id)


def reachable(holders: Iterable[Person], unit: Unit, group: GroupChat | None,
              default_language: str) -> tuple[Recipients, list[str]]:
    """Where a notice for a unit can go, and who cannot be reached.

    Role holders who pressed Start and did not block the bot get it privately; the
    unit's group gets it if the bot is still there. The rest are named, so a sweep
    can record them and tell the next level instead of failing silently.
    """
    chats: Recipients = {}
    unreachable: list[str] = []
    for person in holders:
        if person.started and not person.blocked:
            chats.setdefault(person.telegram_id, (person.language or default_language,
                                                  person.id))
        else:
            unreachable.append(f"{person.name} ({'blocked' if person.blocked else 'no Start'})")
    if group is not None and group.active:
        chats.setdefault(group.chat_id, (unit_language(unit, group, default_language), None))
    elif group is not None:
        unreachable.append(f"group {group.title} ({group.inactive_reason or 'inactive'})")
    return chats, unreachable


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


# ---------------------------------------------------------------- members


async def memberships(session: AsyncSession, group_chat_id: int) -> list[Membership]:
    """Every membership row of a group chat."""
    result = await session.exec(
        select(Membership).where(Membership.group_chat_id == group_chat_id)
    )
    return list(result.all())


async def has_had_members(session: AsyncSession, group_chat_id: int) -> bool:
    """Whether anyone was ever learned as a member of a group (so the bot was there)."""
    result = await session.exec(select(Membership.id).where(
        Membership.group_chat_id == group_chat_id).limit(1))
    return result.first() is not None


async def record_membership(
    session: AsyncSession, *, chat: GroupChat, person: Person, active: bool, now: datetime
) -> bool:
    """Note that a person is (or no longer is) in a group. Returns True if that changed."""
    result = await session.exec(select(Membership).where(
        Membership.group_chat_id == chat.id, Membership.person_id == person.id))
    member = result.first()
    if member is None:
        session.add(Membership(group_chat_id=chat.id or 0, person_id=person.id or 0,
                               active=active, first_seen=now, last_seen=now))
        await session.flush()
        return True
    changed = member.active != active
    # Refresh last_seen at most hourly: members are learned from every message.
    if changed or (now - member.last_seen).total_seconds() > 3600:
        member.active, member.last_seen = active, now
        session.add(member)
    return changed


async def groups_of_person(session: AsyncSession, person_id: int) -> list[GroupChat]:
    """Active groups a person is an active member of, oldest membership first."""
    result = await session.exec(
        select(GroupChat).join(Membership, col(Membership.group_chat_id) == GroupChat.id)
        .where(Membership.person_id == person_id, Membership.active == True,  # noqa: E712
               GroupChat.active == True)  # noqa: E712
        .order_by(col(Membership.first_seen)))
    return list(result.all())


async def active_member_ids(session: AsyncSession,
                            group_chat_ids: Sequence[int]) -> dict[int, list[int]]:
    """Person ids currently in each of many groups (group row id -> person ids)."""
    members: dict[int, list[int]] = {}
    for start in range(0, len(group_chat_ids), 500):  # bound the IN list
        result = await session.exec(
            select(Membership.group_chat_id, Membership.person_id)
            .where(col(Membership.group_chat_id).in_(group_chat_ids[start:start + 500]),
                   Membership.active == True))  # noqa: E712
        for group_id, person_id in result.all():
            members.setdefault(group_id, []).append(person_id)
    return members


async def active_members(session: AsyncSession, group_chat_id: int) -> list[Person]:
    """People currently in a group, by name."""
    result = await session.exec(
        select(Person).join(Membership, col(Membership.person_id) == Person.id)
        .where(Membership.group_chat_id == group_chat_id, Membership.active == True)  # noqa: E712
        .order_by(Person.name)
    )
    return list(result.all())
