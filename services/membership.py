"""Group membership events: people joining and leaving, the bot added, removed, migrated.

The edge turns Telegram's updates into these plain calls; what a person looks like
on Telegram (name, username, language code) comes in as a :class:`Member`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from domain.org import Role, path_ids
from domain.reach import unit_language
from services import cards
from services.base import Outcome, Runtime
from services.binding import Chat, Screen
from services.group_commit import GroupCommit
from storage import grants as grant_repo
from storage import groups as group_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import units as unit_repo
from storage.models import Person

TOLD_WHEN_REMOVED = (Role.TEAM_LEADER, Role.SAFETY_OFFICER, Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class Member:
    """A human as Telegram describes them."""

    telegram_id: int
    name: str
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Sighting:
    """Someone seen in a group (any group update): the group, and the human if any."""

    chat: Chat
    member: Member | None


async def record_sightings(rt: Runtime, sightings: Sequence[Sighting],
                           return_after: timedelta = cards.RETURN_AFTER) -> list[None]:
    """Record groups and their members as seen, in one transaction (writes only
    what is new or changed). A member back after ``return_after`` unseen (复岗) is
    briefed on their cards again."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        groups = await group_repo.learn_group_chats(
            session, [(s.chat.chat_id, s.chat.title, s.chat.chat_type) for s in sightings], now)
        members = [s for s in sightings if s.member is not None]
        people = await people_repo.learn_people(session, [
            (m.telegram_id, m.name, m.username, m.language_code)
            for m in (s.member for s in members) if m is not None], now)
        pairs = [(groups[s.chat.chat_id].id or 0, people[s.member.telegram_id].id or 0)
                 for s in members if s.member is not None]
        # Read before recording: recording moves last_seen to now.
        back = await group_repo.unseen_since(session, pairs, now - return_after)
        await group_repo.record_presence(session, pairs, now)
        queued = 0
        by_id = {p.id: p for p in people.values()}
        for group in groups.values():
            arrived: list[tuple[Person, cards.Reason]] = [
                (by_id[person_id], "return") for group_id, person_id in back
                if group_id == group.id and person_id in by_id]
            if arrived:
                queued += await cards.arrivals(session, rt, group, arrived, now)
    if queued:
        rt.wake()
    return [None] * len(sightings)


class MemberSightings:
    """Learns who is in which group from every group update, writing only on change.

    What was recorded is remembered in memory, so a worker's tenth message (or a
    whole shift's taps) costs no database work; a sighting is written again when
    the person's name, username or language changed, after ``REFRESH`` (so
    ``last_seen`` stays roughly true), and after :meth:`forget` (they left, the
    group moved). The sightings that do need writing share transactions.
    """

    REFRESH = timedelta(hours=1)
    KEPT = 200_000  # about 20 MB; the oldest are written again when seen again

    def __init__(self, rt: Runtime, return_after: timedelta = cards.RETURN_AFTER) -> None:
        self._rt = rt
        self._commit: GroupCommit[Sighting, None] = GroupCommit(
            lambda batch: record_sightings(rt, batch, return_after))
        self._recorded: OrderedDict[tuple[int, int], tuple[Sighting, datetime]] = OrderedDict()

    async def saw(self, sighting: Sighting) -> None:
        """Record a sighting unless the same was recorded within ``REFRESH``."""
        if self._is_news(sighting):
            await self._commit.submit(sighting)
            self._remember(sighting)

    def saw_in_passing(self, sighting: Sighting) -> None:
        """:meth:`saw`, written behind the caller's back: for a button press, whose
        answer must not wait (its own action learns the clicker where it matters)."""
        if self._is_news(sighting):
            self._commit.submit_nowait(sighting).add_done_callback(
                lambda done: None if done.cancelled() or done.exception()
                else self._remember(sighting))

    async def close(self) -> None:
        """Store the sightings still queued (at shutdown)."""
        await self._commit.close()

    def _key(self, sighting: Sighting) -> tuple[int, int]:
        return (sighting.chat.chat_id,
                sighting.member.telegram_id if sighting.member is not None else 0)

    def _is_news(self, sighting: Sighting) -> bool:
        known = self._recorded.get(self._key(sighting))
        return known is None or known[0] != sighting \
            or self._rt.clock.now() - known[1] >= self.REFRESH

    def _remember(self, sighting: Sighting) -> None:
        key = self._key(sighting)
        self._recorded[key] = (sighting, self._rt.clock.now())
        self._recorded.move_to_end(key)
        if len(self._recorded) > self.KEPT:
            self._recorded.popitem(last=False)

    def forget(self, chat_id: int, telegram_id: int | None = None) -> None:
        """Write the next sighting in this group (of this person, or of anyone)."""
        if telegram_id is not None:
            self._recorded.pop((chat_id, telegram_id), None)
            return
        for key in [k for k in self._recorded if k[0] == chat_id]:
            del self._recorded[key]


async def members_changed(rt: Runtime, chat: Chat, members: Sequence[Member], *,
                          present: bool, known_groups_only: bool = False,
                          bot_username: str = "",
                          return_after: timedelta = cards.RETURN_AFTER) -> Outcome:
    """Note that people joined (``present``) or left a group.

    A join also records the group; a leave (``known_groups_only``) is ignored for a
    group the bot never knew. Joining a team group (入职), or coming back after
    ``return_after`` unseen (复岗), opens a risk-card briefing round.
    """
    now = rt.clock.now()
    changed = 0
    arrived: list[tuple[Person, cards.Reason]] = []
    async with rt.db.transaction() as session:
        if known_groups_only:
            group = await group_repo.get_group_chat(session, chat.chat_id)
            if group is None:
                return Outcome.refused("group.unknown")
        else:
            group = await group_repo.upsert_group_chat(
                session, chat_id=chat.chat_id, title=chat.title, chat_type=chat.chat_type,
                now=now)
        for member in members:
            person = await people_repo.upsert_person(
                session, telegram_id=member.telegram_id, name=member.name,
                username=member.username, language_code=member.language_code, now=now)
            before = await group_repo.membership_of(session, group.id or 0, person.id or 0)
            # Read before recording: the row is the same object record_membership changes.
            was_in, last_seen = (before.active, before.last_seen) if before else (False, now)
            changed += await group_repo.record_membership(session, chat=group, person=person,
                                                          active=present, now=now)
            if not present:
                continue
            if not was_in:
                arrived.append((person, "join"))
            elif now - last_seen >= return_after:
                arrived.append((person, "return"))
        queued = await cards.arrivals(session, rt, group, arrived, now, bot_username) \
            if arrived else 0
    if queued:
        rt.wake()
    return Outcome.done("group.members", changed=changed, queued=queued)


async def bot_added(rt: Runtime, chat: Chat) -> Screen:
    """The bot joined a group: the greeting to post, in the group's language.

    ``group.greeting`` for an unbound group, ``group.rejoined`` where the bot had
    really been before, ``group.arrived`` for a group the org file bound in advance.
    """
    async with rt.db.transaction() as session:
        known = await group_repo.get_group_chat(session, chat.chat_id)
        # Back only where the bot really was: removed from the group, or it had learned
        # members there. A group the org file bound before the bot ever came is new to it.
        was_here = known is not None and (
            not known.active or await group_repo.has_had_members(session, known.id or 0))
        group = await group_repo.upsert_group_chat(
            session, chat_id=chat.chat_id, title=chat.title, chat_type=chat.chat_type,
            now=rt.clock.now())
        unit = await unit_repo.get_unit(session, group.unit_id) if group.unit_id else None
        path = (" › ".join(u.name for u in await unit_repo.ancestors(session, unit))
                if unit else "")
        lang = unit_language(unit, group, rt.default_language)
    if unit is None:
        return Screen(True, "group.greeting", lang=lang)
    if was_here:
        return Screen(True, "group.rejoined", {"unit": unit.name}, lang=lang)
    return Screen(True, "group.arrived", {"unit": unit.name, "path": path}, lang=lang)


async def bot_removed(rt: Runtime, chat_id: int, *, reason: str, stamp: int) -> Outcome:
    """Stop posting in a group and tell the people responsible for its unit (queued).

    ``stamp`` identifies the removal, so a redelivered update tells nobody twice.
    """
    now = rt.clock.now()
    queued = 0
    async with rt.db.transaction() as session:
        group = await group_repo.get_group_chat(session, chat_id)
        if group is None or not await group_repo.deactivate_chat(session, group, reason=reason,
                                                                 now=now):
            return Outcome.refused("group.unknown")
        unit = await unit_repo.get_unit(session, group.unit_id) if group.unit_id else None
        if unit is None:
            return Outcome.done("group.removed")
        holders = await grant_repo.role_holders(session, path_ids(unit.path),
                                                list(TOLD_WHEN_REMOVED))
        told: set[int] = set()
        for person, grant in holders:
            # A team leader of another team below is not this group's business.
            if person.id in told or (grant.role == Role.TEAM_LEADER.value
                                     and grant.unit_id != unit.id):
                continue
            told.add(person.id or 0)
            html = rt.renderer.html("group.removed_notice",
                                    person.language or rt.default_language,
                                    unit=unit.name, chat_title=group.title)
            await outbox_repo.enqueue_text(
                session, chat_id=person.telegram_id, html=html, now=now,
                purpose="group.removed", person_id=person.id,
                dedupe_key=f"group-removed:{group.id}:{stamp}:{person.id}")
            queued += 1
    rt.wake()
    return Outcome.done("group.removed", queued=queued)


async def group_migrated(rt: Runtime, *, old_chat_id: int, new_chat_id: int) -> Outcome:
    """A group became a supergroup: its binding, language and members follow the new id.

    Telegram announces it twice, in the old chat and in the new one, and the two are
    handled at once (two chats). Where transactions really run side by side
    (PostgreSQL), the new chat's row may be committed while this one renames the old
    row to the same id: the rename meets the unique chat id, and the second attempt
    finds both rows and merges them.
    """
    for attempt in (1, 2):
        try:
            async with rt.db.transaction() as session:
                await group_repo.migrate_chat(session, old_chat_id=old_chat_id,
                                              new_chat_id=new_chat_id, now=rt.clock.now())
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        break
    return Outcome.done("group.migrated")
