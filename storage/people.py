"""People: who the bot has met, their language and whether it may write to them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Person


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
    person = await get_person(session, telegram_id)
    username = username.lower() if username else None
    if person is None:
        person = Person(telegram_id=telegram_id, name=name, username=username,
                        language_code=language_code, created_at=now, updated_at=now)
        session.add(person)
        await session.flush()
        return person
    if (person.name, person.username) != (name, username) or (
        language_code and person.language_code != language_code
    ):
        person.name = name
        person.username = username
        person.language_code = language_code or person.language_code
        person.updated_at = now
        session.add(person)
    return person
