"""Who can be told at a unit: the policy behind every notice a sweep or a service sends.

Works on anything shaped like the stored rows (people, units, group chats), so the
rule stays free of the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

Recipients = dict[int, tuple[str, int | None]]  # chat id -> (language, person row id)


class Reachee(Protocol):
    """A role holder as far as reaching them goes."""

    @property
    def id(self) -> int | None: ...
    @property
    def telegram_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def started(self) -> bool: ...
    @property
    def blocked(self) -> bool: ...


class Speaks(Protocol):
    """A unit: only its language matters here."""

    @property
    def language(self) -> str | None: ...


class Group(Protocol):
    """A group chat bound to a unit."""

    @property
    def chat_id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def language(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def inactive_reason(self) -> str | None: ...


def unit_language(unit: Speaks | None, chat: Group | None, default: str) -> str:
    """The language to speak in a unit's group: the chat's choice, the unit's, the default."""
    if chat is not None and chat.language:
        return chat.language
    if unit is not None and unit.language:
        return unit.language
    return default


def reachable(holders: Iterable[Reachee], unit: Speaks, group: Group | None,
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
