"""Bring the database in line with an org file, and write the database back as one.

Import is idempotent: units are matched by key, people by Telegram id, roles
by (person, unit, role); importing the same file twice changes nothing. Units,
people, roles and a team's shift schedule missing from the file are kept (they
may have been created in chat); a schedule in the file replaces the stored one.
The caller's transaction makes an import all-or-nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy import select as rows_of
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import Role, UnitKind, child_path
from domain.orgfile import OrgSpec, PersonSpec, RoleSpec, UnitSpec, iter_units
from storage import org as org_repo
from storage.models import GroupChat, Person, RoleGrant, Unit
from storage.types import UTCDateTime


@dataclass
class ImportReport:
    """What an import changed, counted per kind of thing."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    # People (row ids) whose post the file changed: services brief them on the new cards.
    new_posts: list[int] = field(default_factory=list)

    def count(self, bucket: dict[str, int], what: str) -> None:
        """Add one to ``what`` in ``bucket``."""
        bucket[what] = bucket.get(what, 0) + 1

    @property
    def changed(self) -> bool:
        """Whether anything at all was written."""
        return bool(self.created or self.updated)

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return "organisation is up to date: nothing changed"
        parts = [f"{n} {what} created" for what, n in sorted(self.created.items())]
        parts += [f"{n} {what} updated" for what, n in sorted(self.updated.items())]
        return "imported: " + ", ".join(parts)


async def import_org(session: AsyncSession, spec: OrgSpec, *, now: datetime) -> ImportReport:
    """Create or update units, chat bindings, people, admins and roles from ``spec``.

    Written for organisations of 100,000 people: what is stored is read once into
    plain values keyed by the file's natural keys (unit key, chat id, Telegram id),
    compared in memory, and only the differences are written, many rows per Core
    statement. The session's ORM objects are not touched: read rows after the import
    in a fresh session (or expire them).
    """
    report = ImportReport()
    await session.flush()  # the caller's pending objects first: Core statements follow
    connection = await session.connection()
    unit_ids = await _sync_units(connection, spec, now, report)
    await _sync_bindings(connection, spec, unit_ids, now, report)
    await _sync_people(connection, spec, unit_ids, now, report)
    await _sync_admins(connection, spec.admins, now, report)
    return report


# Rows per statement, and ids per IN list: within SQLite's 32,766 parameters and
# small enough that one batch's rows are a few hundred kilobytes.
CHUNK = 1000
_UNIT: Table = Unit.__table__  # type: ignore[attr-defined]
_CHAT: Table = GroupChat.__table__  # type: ignore[attr-defined]
_PERSON: Table = Person.__table__  # type: ignore[attr-defined]
_GRANT: Table = RoleGrant.__table__  # type: ignore[attr-defined]

T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


@dataclass(slots=True)
class _StoredUnit:
    """A unit row as plain values, changed in memory before it is written."""

    id: int
    key: str
    kind: UnitKind
    name: str
    parent_id: int | None
    path: str
    language: str | None
    timezone: str | None
    extra_json: str | None


class _Tree:
    """Every stored unit, by key and by parent, with the ids whose row changed."""

    def __init__(self, rows: Iterable[_StoredUnit]) -> None:
        self.by_key: dict[str, _StoredUnit] = {}
        self.children: dict[int | None, dict[int, _StoredUnit]] = {}
        self.dirty: dict[int, _StoredUnit] = {}
        for row in rows:
            self.add(row)

    def add(self, row: _StoredUnit) -> None:
        self.by_key[row.key] = row
        self.children.setdefault(row.parent_id, {})[row.id] = row

    def move(self, row: _StoredUnit, parent: _StoredUnit | None) -> None:
        """Re-hang a unit and rewrite the paths of everything below it."""
        old_prefix = row.path
        new_prefix = child_path(parent.path if parent else None, row.id)
        self.children.get(row.parent_id, {}).pop(row.id, None)
        row.parent_id = parent.id if parent else None
        self.children.setdefault(row.parent_id, {})[row.id] = row
        below = [row]
        while below:
            node = below.pop()
            node.path = new_prefix + node.path[len(old_prefix):]
            self.dirty[node.id] = node
            below.extend(self.children.get(node.id, {}).values())


async def _sync_units(connection: AsyncConnection, spec: OrgSpec, now: datetime,
                      report: ImportReport) -> dict[str, int]:
    """Units of the file created, changed and re-hung; every unit's id by key."""
    columns = [_UNIT.c[name] for name in _StoredUnit.__slots__]
    tree = _Tree(_StoredUnit(*row) for row in await connection.execute(rows_of(*columns)))
    # Level by level, so a new unit's parent has its id (and path) before the unit.
    levels: list[list[tuple[UnitSpec, UnitSpec | None]]] = []
    depth: dict[str, int] = {}
    for unit_spec, parent_spec in iter_units(spec):
        depth[unit_spec.key] = depth[parent_spec.key] + 1 if parent_spec else 0
        if depth[unit_spec.key] == len(levels):
            levels.append([])
        levels[depth[unit_spec.key]].append((unit_spec, parent_spec))
    for level in levels:
        new: list[tuple[_StoredUnit, _StoredUnit | None]] = []
        for unit_spec, parent_spec in level:
            parent = tree.by_key[parent_spec.key] if parent_spec is not None else None
            extra, changed = _sections(tree.by_key.get(unit_spec.key), unit_spec)
            row = tree.by_key.get(unit_spec.key)
            if row is None:
                new.append((_StoredUnit(
                    id=0, key=unit_spec.key, kind=UnitKind(unit_spec.kind), name=unit_spec.name,
                    parent_id=parent.id if parent else None, path="",
                    language=unit_spec.language, timezone=unit_spec.timezone,
                    extra_json=extra), parent))
                report.count(report.created, "units")
                continue
            if changed:
                row.kind, row.name = UnitKind(unit_spec.kind), unit_spec.name
                row.language, row.timezone, row.extra_json = \
                    unit_spec.language, unit_spec.timezone, extra
                tree.dirty[row.id] = row
                report.count(report.updated, "units")
            if row.parent_id != (parent.id if parent else None):
                tree.move(row, parent)
                report.count(report.updated, "units moved")
        for batch in _chunks(new):
            rows = [{**_unit_values(row), "created_at": now} for row, _ in batch]
            inserted = await connection.execute(
                insert(_UNIT).returning(_UNIT.c.key, _UNIT.c.id), rows)
            ids: dict[str, int] = dict(inserted.all())
            for row, parent in batch:
                # The path holds the unit's own id: known only now, written with the rest.
                row.id = ids[row.key]
                row.path = child_path(parent.path if parent else None, row.id)
                tree.add(row)
                tree.dirty[row.id] = row
    changes = [{"b_id": row.id, **_unit_values(row)} for row in tree.dirty.values()]
    statement = update(_UNIT).where(_UNIT.c.id == bindparam("b_id")).values(
        {name: bindparam(name) for name in _UNIT_FIELDS})
    for batch_of_changes in _chunks(changes):
        await connection.execute(statement, list(batch_of_changes))
    return {key: row.id for key, row in tree.by_key.items()}


_UNIT_FIELDS = ("key", "kind", "name", "parent_id", "path", "language", "timezone",
                "extra_json")


def _unit_values(row: _StoredUnit) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _UNIT_FIELDS}


def _sections(row: _StoredUnit | None, spec: UnitSpec) -> tuple[str | None, bool]:
    """The unit's extra sections as stored after the import, and whether it changes."""
    stored = json.loads(row.extra_json) if row is not None and row.extra_json else {}
    # A section the file leaves out is kept, like units missing from the file: a
    # schedule a leader set in chat must not vanish, silencing the team's briefings,
    # because someone re-imported a file written before it.
    sections = {**{k: v for k, v in stored.items() if k not in spec.extra}, **spec.extra}
    extra = json.dumps(sections, ensure_ascii=False, sort_keys=True) if sections else None
    if row is None:
        return extra, True
    # Sections compared as data: the same schedule may have been written differently.
    return extra, (row.kind, row.name, row.language, row.timezone, stored) != \
        (spec.kind, spec.name, spec.language, spec.timezone, sections)


async def _sync_bindings(connection: AsyncConnection, spec: OrgSpec, unit_ids: dict[str, int],
                         now: datetime, report: ImportReport) -> None:
    """Bind each unit with a ``chat_id`` to that group, unbinding what it replaces.

    Worked out in memory in file order (a group named by a later unit moves to it),
    then written: the groups losing a unit first, so no moment has two groups on
    one unit.
    """
    wanted = [(unit_spec, unit_ids[unit_spec.key]) for unit_spec, _ in iter_units(spec)
              if unit_spec.chat_id is not None]
    if not wanted:
        return
    stored = (await connection.execute(
        rows_of(_CHAT.c.chat_id, _CHAT.c.id, _CHAT.c.unit_id))).all()
    unit_of = {chat_id: unit_id for chat_id, _, unit_id in stored}
    was = dict(unit_of)
    row_id = {chat_id: row for chat_id, row, _ in stored}
    chat_of = {unit_id: chat_id for chat_id, unit_id in unit_of.items() if unit_id is not None}
    new: dict[int, dict[str, Any]] = {}
    for unit_spec, unit_id in wanted:
        chat_id = unit_spec.chat_id
        assert chat_id is not None
        current = chat_of.get(unit_id)
        if current == chat_id:
            continue
        if current is not None:  # the file moves the unit to another group
            unit_of[current] = None
        if chat_id not in unit_of:
            new[chat_id] = {"chat_id": chat_id, "title": unit_spec.name,
                            "chat_type": "supergroup" if str(chat_id).startswith("-100")
                            else "group", "language": None, "active": True,
                            "inactive_reason": None, "added_at": now, "updated_at": now}
        elif unit_of[chat_id] is not None:  # the group leaves the unit it was bound to
            chat_of.pop(unit_of[chat_id] or 0, None)
        unit_of[chat_id] = unit_id
        chat_of[unit_id] = chat_id
        report.count(report.updated, "chat bindings")
    moved = [chat_id for chat_id in row_id if unit_of[chat_id] != was[chat_id]]
    unbind = update(_CHAT).where(_CHAT.c.id == bindparam("b_id")).values(
        unit_id=None, updated_at=bindparam("b_at", type_=UTCDateTime()))
    bind = update(_CHAT).where(_CHAT.c.id == bindparam("b_id")).values(
        unit_id=bindparam("b_unit"))
    for batch in _chunks(moved):
        await connection.execute(unbind, [{"b_id": row_id[c], "b_at": now} for c in batch])
    rebound = [chat_id for chat_id in moved if unit_of[chat_id] is not None]
    for batch in _chunks(rebound):
        await connection.execute(bind, [{"b_id": row_id[c], "b_unit": unit_of[c]}
                                        for c in batch])
    rows = [{**values, "unit_id": unit_of[chat_id]} for chat_id, values in new.items()]
    for batch in _chunks(rows):
        await connection.execute(insert(_CHAT), list(batch))


async def _sync_people(connection: AsyncConnection, spec: OrgSpec, unit_ids: dict[str, int],
                       now: datetime, report: ImportReport) -> dict[int, int]:
    """People of the file created or changed, and their roles granted, a batch at a time.

    Returns:
        Each person's row id by Telegram id.
    """
    person_ids: dict[int, int] = {}
    read = rows_of(_PERSON.c.telegram_id, _PERSON.c.id, _PERSON.c.name, _PERSON.c.username,
                  _PERSON.c.language, _PERSON.c.post)
    change = update(_PERSON).where(_PERSON.c.id == bindparam("b_id")).values(
        name=bindparam("b_name"), username=bindparam("b_username"),
        language=bindparam("b_language"), post=bindparam("b_post"),
        updated_at=bindparam("b_at", type_=UTCDateTime()))
    for batch in _chunks(spec.people):
        stored = {row.telegram_id: row for row in await connection.execute(
            read.where(_PERSON.c.telegram_id.in_([p.telegram_id for p in batch])))}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        for person in batch:
            username = person.username.lower() if person.username else None
            row = stored.get(person.telegram_id)
            if row is None:
                new.append({"telegram_id": person.telegram_id, "name": person.name,
                            "username": username, "language": person.language,
                            "post": person.post, "started": False, "blocked": False,
                            "is_admin": False, "created_at": now, "updated_at": now})
                report.count(report.created, "people")
                continue
            person_ids[person.telegram_id] = row.id
            values = {"b_id": row.id, "b_name": row.name, "b_username": row.username,
                      "b_language": row.language, "b_post": row.post, "b_at": now}
            if (row.name, row.username, row.language) != \
                    (person.name, username, person.language):
                values.update(b_name=person.name, b_username=username,
                              b_language=person.language)
                report.count(report.updated, "people")
                changed.append(values)
            if person.post is not None and row.post != person.post:
                # A changed post (转岗) asks for a briefing on the new cards (services
                # start it).
                values["b_post"] = person.post
                report.count(report.updated, "posts")
                report.new_posts.append(row.id)
                if not changed or changed[-1] is not values:
                    changed.append(values)
        if changed:
            await connection.execute(change, changed)
        if new:
            inserted = await connection.execute(
                insert(_PERSON).returning(_PERSON.c.telegram_id, _PERSON.c.id), new)
            person_ids.update(inserted.all())
        await _grant_roles(connection, batch, [row.id for row in stored.values()],
                           person_ids, unit_ids, now, report)
    return person_ids


async def _grant_roles(connection: AsyncConnection, people: Sequence[PersonSpec],
                       stored_ids: list[int], person_ids: dict[int, int],
                       unit_ids: dict[str, int], now: datetime, report: ImportReport) -> None:
    """The roles the file gives these people that they do not hold yet."""
    held: set[tuple[int, int, Role]] = set()
    if stored_ids:  # people created just now hold nothing yet
        held = {(person_id, unit_id, Role(role)) for person_id, unit_id, role in (
            await connection.execute(
                rows_of(_GRANT.c.person_id, _GRANT.c.unit_id, _GRANT.c.role)
                .where(_GRANT.c.person_id.in_(stored_ids))))}
    grants: list[dict[str, Any]] = []
    for person in people:
        person_id = person_ids[person.telegram_id]
        for role_spec in person.roles:
            # parse_org checked that the unit is in the file.
            grant = (person_id, unit_ids[role_spec.unit], Role(role_spec.role))
            if grant not in held:
                held.add(grant)
                grants.append({"person_id": grant[0], "unit_id": grant[1], "role": grant[2],
                               "source": "org", "granted_by": None, "granted_at": now})
                report.count(report.created, "roles")
    if grants:
        await connection.execute(insert(_GRANT), grants)


async def _sync_admins(connection: AsyncConnection, admins: Sequence[int], now: datetime,
                       report: ImportReport) -> None:
    """Bot admins of the file marked (people not in the file are created)."""
    for batch in _chunks(admins):
        stored: dict[int, bool] = dict((await connection.execute(
            rows_of(_PERSON.c.telegram_id, _PERSON.c.is_admin)
            .where(_PERSON.c.telegram_id.in_(list(batch))))).all())
        new = [{"telegram_id": telegram_id, "name": f"admin {telegram_id}", "started": False,
                "blocked": False, "is_admin": True, "created_at": now, "updated_at": now}
               for telegram_id in batch if telegram_id not in stored]
        promoted = [telegram_id for telegram_id in batch if stored.get(telegram_id) is False]
        if new:
            await connection.execute(insert(_PERSON), new)
        if promoted:
            await connection.execute(
                update(_PERSON).where(_PERSON.c.telegram_id.in_(promoted))
                .values(is_admin=True, updated_at=now))
        for _ in new:
            report.count(report.created, "people")
        for _ in [*new, *promoted]:
            report.count(report.updated, "admins")


async def export_org(session: AsyncSession, *, timezone: str, language: str) -> OrgSpec:
    """The organisation in the database as an org-file spec (round-trips through import)."""
    units = await org_repo.all_units(session)
    chats = {c.unit_id: c.chat_id for c in (await session.exec(
        select(GroupChat).where(col(GroupChat.unit_id).is_not(None)))).all()}
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)

    def build(unit: Unit) -> UnitSpec:
        extra: dict[str, Any] = json.loads(unit.extra_json) if unit.extra_json else {}
        return UnitSpec(key=unit.key, kind=UnitKind(unit.kind), name=unit.name,
                        chat_id=chats.get(unit.id), language=unit.language,
                        timezone=unit.timezone,
                        children=tuple(build(c) for c in children.get(unit.id, [])),
                        extra=extra)

    keys = {u.id: u.key for u in units}
    grants = (await session.exec(select(RoleGrant).order_by(col(RoleGrant.id)))).all()
    roles_of: dict[int, list[RoleSpec]] = {}
    for grant in grants:
        roles_of.setdefault(grant.person_id, []).append(
            RoleSpec(unit=keys[grant.unit_id], role=Role(grant.role)))
    people = (await session.exec(select(Person).order_by(col(Person.telegram_id)))).all()
    listed = [p for p in people if p.id in roles_of or p.is_admin or p.post]
    return OrgSpec(
        version=1, timezone=timezone, language=language,
        admins=tuple(p.telegram_id for p in people if p.is_admin),
        units=tuple(build(u) for u in children.get(None, [])),
        people=tuple(PersonSpec(telegram_id=p.telegram_id, name=p.name, username=p.username,
                                language=p.language, post=p.post,
                                roles=tuple(roles_of.get(p.id or 0, [])))
                     for p in listed),
    )
