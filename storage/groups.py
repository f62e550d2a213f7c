"""Group chats the bot is in, the units they are bound to, and who is in them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import GroupChat, Membership, Person, Unit

MIGRATED = "migrated"  # the inactive_reason of a group that moved to a supergroup


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
    chats = await learn_group_chats(session, [(chat_id, title, chat_type)], now)
    return chats[chat_id]


async def inactive_chat_ids(session: AsyncSession, chat_ids: set[int]) -> set[int]:
    """Which of these chats the bot may no longer post in (removed, kicked).

    A group left behind by its move to a supergroup is not one of them: a notice
    queued for its old id is sent, and Telegram's answer (the new id) redirects it.
    """
    groups = [c for c in chat_ids if c < 0]
    if not groups:
        return set()
    result = await session.exec(select(GroupChat.chat_id).where(
        col(GroupChat.chat_id).in_(groups), GroupChat.active == False,  # noqa: E712
        col(GroupChat.inactive_reason).is_distinct_from(MIGRATED)))
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
    if old.active:  # the bot that spoke in the old group speaks on (several tokens)
        new.bot_id = old.bot_id
    new.updated_at = now
    old.unit_id, old.active, old.inactive_reason, old.updated_at = None, False, MIGRATED, now
    session.add(old)
    await session.flush()
    session.add(new)
    known = {m.person_id for m in await memberships(session, new.id or 0)}
    for member in await memberships(session, old.id or 0):
        if member.person_id not in known:
            member.group_chat_id = new.id or 0
            session.add(member)
    return new



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


async def membership_of(session: AsyncSession, group_chat_id: int,
                        person_id: int) -> Membership | None:
    """A person's membership row in a group, if they were ever seen there."""
    result = await session.exec(select(Membership).where(
        Membership.group_chat_id == group_chat_id, Membership.person_id == person_id))
    return result.first()


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


async def learn_group_chats(session: AsyncSession, seen: Sequence[tuple[int, str, str]],
                            now: datetime) -> dict[int, GroupChat]:
    """:func:`upsert_group_chat` for many ``(chat_id, title, chat_type)`` at once; the
    group rows by chat id. Writes only what is new or changed."""
    latest = {chat_id: (title, chat_type) for chat_id, title, chat_type in seen}
    known = await _groups_by_chat_ids(session, list(latest))
    missing = [chat_id for chat_id in latest if chat_id not in known]
    if missing:
        # Skipping duplicates: another transaction may record the same group now.
        await insert_skipping_duplicates(session, GroupChat, ["chat_id"], [
            {"chat_id": chat_id, "title": latest[chat_id][0], "chat_type": latest[chat_id][1],
             "unit_id": None, "language": None, "active": True, "inactive_reason": None,
             "added_at": now, "updated_at": now} for chat_id in missing])
        known.update(await _groups_by_chat_ids(session, missing))
    for chat_id, (title, chat_type) in latest.items():
        chat = known[chat_id]
        if (chat.title, chat.chat_type, chat.active) != (title, chat_type, True):
            chat.title, chat.chat_type = title, chat_type
            chat.active, chat.inactive_reason = True, None
            chat.updated_at = now
            session.add(chat)
    return known


async def _groups_by_chat_ids(session: AsyncSession,
                              chat_ids: Sequence[int]) -> dict[int, GroupChat]:
    result = await session.exec(select(GroupChat).where(col(GroupChat.chat_id).in_(chat_ids)))
    return {chat.chat_id: chat for chat in result.all()}


async def unseen_since(session: AsyncSession, pairs: Sequence[tuple[int, int]],
                       before: datetime) -> list[tuple[int, int]]:
    """Which ``(group row id, person row id)`` are active memberships last seen before
    ``before`` (someone back after a long absence)."""
    if not pairs:
        return []
    wanted = set(pairs)
    result = await session.exec(select(Membership.group_chat_id, Membership.person_id).where(
        col(Membership.group_chat_id).in_(sorted({g for g, _ in wanted})),
        col(Membership.person_id).in_(sorted({p for _, p in wanted})),
        Membership.active == True,  # noqa: E712
        col(Membership.last_seen) < before))
    return [(g, p) for g, p in result.all() if (g, p) in wanted]


async def record_presence(session: AsyncSession, pairs: Sequence[tuple[int, int]],
                          now: datetime) -> int:
    """Note that each ``(group row id, person row id)`` was seen in the group now:
    memberships created or reactivated, ``last_seen`` refreshed at most hourly.
    Returns how many memberships changed."""
    wanted = set(pairs)
    if not wanted:
        return 0
    group_ids = sorted({g for g, _ in wanted})
    person_ids = sorted({p for _, p in wanted})
    result = await session.exec(select(Membership).where(
        col(Membership.group_chat_id).in_(group_ids), col(Membership.person_id).in_(person_ids)))
    known = {(m.group_chat_id, m.person_id): m for m in result.all()}
    fresh = [pair for pair in wanted if pair not in known]
    await insert_skipping_duplicates(session, Membership, ["group_chat_id", "person_id"], [
        {"group_chat_id": g, "person_id": p, "active": True, "first_seen": now,
         "last_seen": now} for g, p in sorted(fresh)])
    changed = len(fresh)
    for member in (known[pair] for pair in wanted if pair in known):
        if not member.active or (now - member.last_seen).total_seconds() > 3600:
            changed += not member.active
            member.active, member.last_seen = True, now
            session.add(member)
    return changed
