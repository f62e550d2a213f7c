"""Several bot tokens: which bot speaks in each group and which reaches each person.

One token's flood budget (30 messages a second) caps how fast thousands of groups
get their reminders; the deployment may list more tokens
(``TELEGRAM_EXTRA_BOT_TOKENS``), and the budget grows with them. A message to a chat
can only go through a bot that is in it, so:

- A group is spoken in by one bot: the one that was added to it (its "I was added"
  update says so). When two of ours are in one group, the other stays silent: it
  drops the group's messages, which Telegram gives both. Between two bots added to a
  group not yet bound to a unit, the less loaded (fewer active groups) keeps it; a
  bound group stays with its bot, whose messages (roll calls, buttons) only it can
  edit, unless that bot was removed: then the first of ours heard from there takes
  it over.
- A person is written to privately through the bot they last wrote to privately
  (pressing Start included); the main bot by default.
- ``/invite`` links name the least loaded bot, so new groups spread over the fleet.

The outbox sender reads the same records when it sends (``storage/fleet.py``). An
empty record means the main bot: with one token nothing is written at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from services.base import Runtime
from services.binding import Chat
from services.membership import Member
from storage import fleet as fleet_repo
from storage import groups as group_repo
from storage import people as people_repo


@dataclass(frozen=True)
class Fleet:
    """The deployment's bots by Telegram id: the main one first."""

    main: int
    extra: tuple[int, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        """Every bot, the main one first."""
        return (self.main, *(bot for bot in self.extra if bot != self.main))

    @property
    def several(self) -> bool:
        """Whether there is more than one bot (with one, nothing here does anything)."""
        return len(self.ids) > 1

    def sender(self, recorded: int | None) -> int:
        """The bot that sends to a chat with this record (unknown ids: the main bot)."""
        return recorded if recorded in self.ids else self.main


@dataclass
class FleetDesk:
    """The fleet's decisions, and what was decided kept in memory.

    Every group update asks :meth:`speaks_in`; the answer is read from the database
    once per group and process, then kept (only this process changes it: the
    active instance handles every update).
    """

    rt: Runtime
    fleet: Fleet
    # Filled in by the wiring once each bot said who it is (for invite links).
    usernames: dict[int, str] = field(default_factory=dict)
    _speakers: dict[int, tuple[int, bool]] = field(default_factory=dict)
    _reach: dict[int, int] = field(default_factory=dict)

    async def joined(self, chat: Chat, bot_id: int) -> bool:
        """``bot_id`` was added to a group; whether it is the one to speak there now."""
        return await self._decide(chat, bot_id, added=True)

    async def speaks_in(self, chat: Chat, bot_id: int) -> bool:
        """Whether ``bot_id`` handles this group's messages (False: another of ours does)."""
        if not self.fleet.several:
            return True
        known = self._speakers.get(chat.chat_id)
        if known is not None and known[1]:
            return known[0] == bot_id
        return await self._decide(chat, bot_id, added=False)

    async def left(self, chat_id: int, bot_id: int) -> bool:
        """``bot_id`` was removed from a group; whether it was the one speaking there
        (only then is the group lost, and its people told)."""
        if not self.fleet.several:
            return True
        self._speakers.pop(chat_id, None)
        async with self.rt.db.session() as session:
            known = await fleet_repo.speaker_of_group(session, chat_id)
        return known is None or self._holder(known[0]) == bot_id

    def forget(self, chat_id: int) -> None:
        """Read this group's speaker again next time (it moved or was migrated)."""
        self._speakers.pop(chat_id, None)

    async def wrote_privately(self, member: Member, bot_id: int) -> None:
        """Someone wrote to ``bot_id`` in a private chat: it reaches them from now on."""
        if not self.fleet.several or self._reach.get(member.telegram_id) == bot_id:
            return
        now = self.rt.clock.now()
        async with self.rt.db.transaction() as session:
            person = await people_repo.get_person(session, member.telegram_id)
            if person is None and bot_id != self.fleet.main:
                person = await people_repo.upsert_person(
                    session, telegram_id=member.telegram_id, name=member.name,
                    username=member.username, language_code=member.language_code, now=now)
            if person is not None and (person.bot_id or self.fleet.main) != bot_id:
                await fleet_repo.set_reach(session, person, bot_id, now=now)
        self._reach[member.telegram_id] = bot_id

    async def least_loaded(self) -> int:
        """The bot speaking in the fewest active groups (the main one on a tie)."""
        if not self.fleet.several:
            return self.fleet.main
        async with self.rt.db.session() as session:
            loads = await fleet_repo.group_loads(session)
        return min(self.fleet.ids, key=lambda bot: self._load(loads, bot))

    # ------------------------------------------------------------ internals

    def _holder(self, recorded: int | None) -> int:
        return recorded if recorded is not None else self.fleet.main

    def _load(self, loads: dict[int | None, int], bot_id: int) -> int:
        return loads.get(bot_id, 0) + (loads.get(None, 0) if bot_id == self.fleet.main else 0)

    async def _decide(self, chat: Chat, bot_id: int, *, added: bool) -> bool:
        """Who speaks in the group, decided under the group's row lock."""
        if not self.fleet.several:
            return True
        now = self.rt.clock.now()
        async with self.rt.db.transaction() as session:
            group = await fleet_repo.group_for_update(session, chat.chat_id)
            if group is None:
                # Never seen: the bot hearing from it is in it. Created here so a second
                # bot deciding at the same moment finds it (and waits for this lock).
                group = await group_repo.upsert_group_chat(
                    session, chat_id=chat.chat_id, title=chat.title, chat_type=chat.chat_type,
                    now=now)
                group = await fleet_repo.group_for_update(session, chat.chat_id) or group
                if group.bot_id is None:
                    await fleet_repo.set_speaker(session, group, bot_id, now=now)
            holder = self._holder(group.bot_id)
            if holder != bot_id:
                gone = not group.active or holder not in self.fleet.ids
                if gone or (added and group.unit_id is None
                            and await self._less_loaded(session, bot_id, holder)):
                    await fleet_repo.set_speaker(session, group, bot_id, now=now)
                    holder = bot_id
            self._speakers[chat.chat_id] = (holder, group.active or holder == bot_id)
        return holder == bot_id

    async def _less_loaded(self, session: AsyncSession, bot_id: int, holder: int) -> bool:
        """Whether ``bot_id`` has fewer groups than ``holder`` has besides this one."""
        loads = await fleet_repo.group_loads(session)
        return self._load(loads, bot_id) < self._load(loads, holder) - 1
