"""Bring the database in line with an org file, and write the database back as one.

Import is idempotent: units are matched by key, people by Telegram id, roles
by (person, unit, role); importing the same file twice changes nothing. Units,
people, roles and a team's shift schedule missing from the file are kept (they
may have been created in chat); a schedule in the file replaces the stored one.
The caller's transaction makes an import all-or-nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import Role, UnitKind, child_path
from domain.orgfile import OrgSpec, PersonSpec, RoleSpec, UnitSpec, iter_units
from storage import org as org_repo
from storage import people as people_repo
from storage.models import GroupChat, Person, RoleGrant, Unit


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
    """Create or update units, chat bindings, people, admins and roles from ``spec``."""
    report = ImportReport()
    units: dict[str, Unit] = {}
    for unit_spec, parent_spec in iter_units(spec):
        parent = units[parent_spec.key] if parent_spec is not None else None
        unit = await _upsert_unit(session, unit_spec, parent, now, report)
        units[unit_spec.key] = unit
        if unit_spec.chat_id is not None:
            await _bind_chat(session, unit, unit_spec.chat_id, now, report)
    people: dict[int, Person] = {}
    for person_spec in spec.people:
        people[person_spec.telegram_id] = await _upsert_person(session, person_spec, now, report)
    for telegram_id in spec.admins:
        person = people.get(telegram_id) or await _ensure_person(session, telegram_id, now,
                                                                  report)
        if not person.is_admin:
            person.is_admin, person.updated_at = True, now
            session.add(person)
            report.count(report.updated, "admins")
    for person_spec in spec.people:
        for role_spec in person_spec.roles:
            unit = units[role_spec.unit]  # parse_org checked that the unit is in the file
            if await org_repo.grant_role(session, person=people[person_spec.telegram_id],
                                         unit=unit, role=Role(role_spec.role), now=now,
                                         source="org"):
                report.count(report.created, "roles")
    await session.flush()
    return report


async def _upsert_unit(session: AsyncSession, spec: UnitSpec, parent: Unit | None,
                       now: datetime, report: ImportReport) -> Unit:
    unit = await org_repo.get_unit_by_key(session, spec.key)
    stored = json.loads(unit.extra_json) if unit is not None and unit.extra_json else {}
    # A section the file leaves out is kept, like units missing from the file: a
    # schedule a leader set in chat must not vanish, silencing the team's briefings,
    # because someone re-imported a file written before it.
    sections = {**{k: v for k, v in stored.items() if k not in spec.extra}, **spec.extra}
    extra = json.dumps(sections, ensure_ascii=False, sort_keys=True) if sections else None
    if unit is None:
        unit = await org_repo.create_unit(session, key=spec.key, kind=UnitKind(spec.kind),
                                          name=spec.name, parent=parent, now=now,
                                          language=spec.language, timezone=spec.timezone)
        unit.extra_json = extra
        session.add(unit)
        report.count(report.created, "units")
        return unit
    # Sections compared as data: the same schedule may have been written differently.
    if (unit.kind, unit.name, unit.language, unit.timezone, stored) != \
            (spec.kind, spec.name, spec.language, spec.timezone, sections):
        unit.kind, unit.name, unit.language, unit.timezone = \
            spec.kind, spec.name, spec.language, spec.timezone
        unit.extra_json = extra
        session.add(unit)
        report.count(report.updated, "units")
    parent_id = parent.id if parent else None
    if unit.parent_id != parent_id:
        await _move(session, unit, parent)
        report.count(report.updated, "units moved")
    return unit


async def _move(session: AsyncSession, unit: Unit, parent: Unit | None) -> None:
    """Re-hang a unit and rewrite the paths of everything below it."""
    old_prefix = unit.path
    new_prefix = child_path(parent.path if parent else None, unit.id or 0)
    for node in await org_repo.subtree(session, unit):
        node.path = new_prefix + node.path[len(old_prefix):]
        session.add(node)
    unit.parent_id = parent.id if parent else None
    session.add(unit)


async def _bind_chat(session: AsyncSession, unit: Unit, chat_id: int, now: datetime,
                     report: ImportReport) -> None:
    current = await org_repo.chat_of_unit(session, unit.id or 0)
    if current is not None and current.chat_id == chat_id:
        return
    if current is not None:  # the file moves the unit to another group
        current.unit_id, current.updated_at = None, now
        session.add(current)
        await session.flush()
    chat = await org_repo.get_group_chat(session, chat_id)
    if chat is None:
        chat = GroupChat(chat_id=chat_id, title=unit.name,
                         chat_type="supergroup" if str(chat_id).startswith("-100") else "group",
                         active=True, added_at=now, updated_at=now)
    chat.unit_id, chat.updated_at = unit.id, now
    session.add(chat)
    await session.flush()
    report.count(report.updated, "chat bindings")


async def _upsert_person(session: AsyncSession, spec: PersonSpec, now: datetime,
                         report: ImportReport) -> Person:
    person = await people_repo.get_person(session, spec.telegram_id)
    username = spec.username.lower() if spec.username else None
    if person is None:
        person = Person(telegram_id=spec.telegram_id, name=spec.name, username=username,
                        language=spec.language, post=spec.post, created_at=now, updated_at=now)
        session.add(person)
        await session.flush()
        report.count(report.created, "people")
        return person
    if (person.name, person.username, person.language) != (spec.name, username, spec.language):
        person.name, person.username, person.language = spec.name, username, spec.language
        person.updated_at = now
        session.add(person)
        report.count(report.updated, "people")
    if spec.post is not None and person.post != spec.post:
        # A changed post (转岗) asks for a briefing on the new cards (services start it).
        person.post, person.updated_at = spec.post, now
        session.add(person)
        report.count(report.updated, "posts")
        report.new_posts.append(person.id or 0)
    return person


async def _ensure_person(session: AsyncSession, telegram_id: int, now: datetime,
                         report: ImportReport) -> Person:
    person = await people_repo.get_person(session, telegram_id)
    if person is None:
        person = Person(telegram_id=telegram_id, name=f"admin {telegram_id}", created_at=now,
                        updated_at=now)
        session.add(person)
        await session.flush()
        report.count(report.created, "people")
    return person


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
