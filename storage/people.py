"""People: who the bot has met, their language and whether it may write to them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import Membership, Person


async def get_person(session: AsyncSession, telegram_id: int) -> Person | None:
    """The person with this Telegram user id, if known."""
    result = await session.exec(select(Person).where(Person.telegram_id == telegram_id))
    return result.first()


async def find_by_username(session: AsyncSession, username: str) -> Person | None:
    """The person last seen with this @username (case-insensitive, without @)."""
    wanted = username.lstrip("@").lower()
    result = await session.exec(select(Person).where(Person.username == wanted))
    return result.first()


async def people_by_ids(session: AsyncSession, person_ids: Iterable[int]) -> list[Person]:
    """People with these row ids."""
    ids = list(set(person_ids))
    if not ids:
        return []
    result = await session.exec(select(Person).where(col(Person.id).in_(ids)))
    return list(result.all())


async def upsert_person(
    session: AsyncSession,
    *,
    telegram_id: int,
    name: str,
    username: str | None,
    language_code: str | None,
    now: datetime,
) -> Person:
    """Create or refresh a person from what Telegram says about them.

    Only writes when something changed, so learning members from every group
    message stays cheap.
    """
    people = await learn_people(session, [(telegram_id, name, username, language_code)],
                                now)
    return people[telegram_id]


Seen = tuple[int, str, str | None, str | None]  # telegram id, name, username, language code


async def learn_people(session: AsyncSession, seen: Sequence[Seen],
                       now: datetime) -> dict[int, Person]:
    """Create or refresh many people at once: ``(telegram_id, name, username,
    language_code)`` each; the people by Telegram id.

    One read for the whole batch, and writes only for the new and the changed, so
    a shift start's thousands of taps cost a statement or two per batch.
    """
    latest = {telegram_id: (name, username.lower() if username else None, code)
              for telegram_id, name, username, code in seen}
    known = await _people_by_telegram_ids(session, list(latest))
    missing = [telegram_id for telegram_id in latest if telegram_id not in known]
    if missing:
        # Skipping duplicates: another transaction may learn the same newcomer now.
        await insert_skipping_duplicates(session, Person, ["telegram_id"], [
            {"telegram_id": telegram_id, "name": latest[telegram_id][0],
             "username": latest[telegram_id][1], "language_code": latest[telegram_id][2],
             "language": None, "started": False, "blocked": False, "is_admin": False,
             "created_at": now, "updated_at": now} for telegram_id in missing])
        known.update(await _people_by_telegram_ids(session, missing))
    for telegram_id, (name, username, code) in latest.items():
        person = known[telegram_id]
        if (person.name, person.username) != (name, username) or (
                code and person.language_code != code):
            person.name, person.username = name, username
            person.language_code = code or person.language_code
            person.updated_at = now
            session.add(person)
    return known


async def _people_by_telegram_ids(session: AsyncSession,
                                  telegram_ids: Sequence[int]) -> dict[int, Person]:
    known: dict[int, Person] = {}
    for start in range(0, len(telegram_ids), 500):  # bound the IN list
        result = await session.exec(select(Person).where(
            col(Person.telegram_id).in_(telegram_ids[start:start + 500])))
        known.update((p.telegram_id, p) for p in result.all())
    return known


async def not_briefed_in(session: AsyncSession, group_chat_id: int) -> list[Person]:
    """Active members of a group with a card briefing still open, by name."""
    result = await session.exec(
        select(Person).join(Membership, col(Membership.person_id) == Person.id)
        .where(Membership.group_chat_id == group_chat_id,
               Membership.active == True,  # noqa: E712
               col(Person.briefing_reason).is_not(None))
        .order_by(col(Person.name)))
    return list(result.all())
