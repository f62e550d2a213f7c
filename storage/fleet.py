"""Which of the deployment's bots speaks in each group and reaches each person.

``bot_id`` empty means the main bot: every row written before there were several
tokens keeps being served by it. See ``services/fleet.py`` for the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import GroupChat, Person


async def group_for_update(session: AsyncSession, chat_id: int) -> GroupChat | None:
    """A group's row, locked until the transaction ends (PostgreSQL; SQLite has one
    writer anyway): two bots added to one group at once decide one after the other."""
    result = await session.exec(
        select(GroupChat).where(GroupChat.chat_id == chat_id).with_for_update())
    return result.first()


async def speaker_of_group(session: AsyncSession, chat_id: int) -> tuple[int | None, bool] | None:
    """``(bot_id, active)`` of a group, or None for a group never seen."""
    result = await session.exec(select(GroupChat.bot_id, GroupChat.active)
                                .where(GroupChat.chat_id == chat_id))
    row = result.first()
    return None if row is None else (row[0], bool(row[1]))


async def set_speaker(session: AsyncSession, group: GroupChat, bot_id: int, *,
                      now: datetime) -> None:
    """Make ``bot_id`` the bot that speaks in ``group``."""
    group.bot_id, group.updated_at = bot_id, now
    session.add(group)


async def group_loads(session: AsyncSession) -> dict[int | None, int]:
    """How many active groups each bot speaks in (None: the main bot's unmarked ones)."""
    result = await session.exec(
        select(GroupChat.bot_id, func.count()).where(GroupChat.active == True)  # noqa: E712
        .group_by(col(GroupChat.bot_id)))
    return {bot_id: int(count) for bot_id, count in result.all()}


async def senders_of(session: AsyncSession, chat_ids: Iterable[int]) -> dict[int, int | None]:
    """The bot recorded for each chat: a group's speaker, a private chat's person's bot.

    Chats missing from the answer (or None) go through the main bot.
    """
    wanted = sorted(set(chat_ids))
    groups, people = [c for c in wanted if c < 0], [c for c in wanted if c > 0]
    senders: dict[int, int | None] = {}
    for start in range(0, len(groups), 500):  # bound the IN list
        result = await session.exec(select(GroupChat.chat_id, GroupChat.bot_id).where(
            col(GroupChat.chat_id).in_(groups[start:start + 500]),
            col(GroupChat.bot_id).is_not(None)))
        senders.update((chat_id, bot_id) for chat_id, bot_id in result.all())
    for start in range(0, len(people), 500):
        result = await session.exec(select(Person.telegram_id, Person.bot_id).where(
            col(Person.telegram_id).in_(people[start:start + 500]),
            col(Person.bot_id).is_not(None)))
        senders.update((telegram_id, bot_id) for telegram_id, bot_id in result.all())
    return senders


async def set_reach(session: AsyncSession, person: Person, bot_id: int, *,
                    now: datetime) -> None:
    """Write to ``person`` through ``bot_id`` from now on."""
    person.bot_id, person.updated_at = bot_id, now
    session.add(person)
