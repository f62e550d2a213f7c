"""The org import in bulk: the same outcomes as one row at a time, at any batch size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from domain.org import Role, UnitKind
from services.orgfile import dump_org, parse_org
from storage import org as org_repo
from storage import orgsync
from storage import people as people_repo
from storage.db import Database
from storage.models import GroupChat, Person, RoleGrant, Unit
from storage.orgsync import export_org, import_org

T0 = datetime(2026, 11, 23, tzinfo=UTC)
T1 = T0 + timedelta(days=1)

ORG = """\
version: 1
admins: [100001]
units:
  - key: acme
    kind: enterprise
    name: Acme
    children:
      - key: ws-a
        kind: workshop
        name: WS A
        children:
          - {key: team-1, kind: team, name: Team 1, chat_id: -1001}
          - {key: team-2, kind: team, name: Team 2, chat_id: -1002}
      - key: ws-b
        kind: workshop
        name: WS B
        children:
          - {key: team-3, kind: team, name: Team 3, chat_id: -1003}
people:
  - {telegram_id: 201, name: Wang, username: WangJG, post: welder,
     roles: [{unit: team-1, role: team_leader}]}
  - {telegram_id: 202, name: Li, roles: [{unit: team-1, role: worker}]}
  - {telegram_id: 203, name: Zhao, language: en, roles: [{unit: team-3, role: worker}]}
  - {telegram_id: 204, name: Sun, roles: [{unit: ws-a, role: safety_officer}]}
"""


async def _import(db: Database, text: str, now: datetime = T0) -> orgsync.ImportReport:
    async with db.transaction() as s:
        return await import_org(s, parse_org(text, "org.yaml"), now=now)


async def _bindings(db: Database) -> dict[int, str | None]:
    async with db.session() as s:
        keys = {u.id: u.key for u in await org_repo.all_units(s)}
        chats = (await s.exec(select(GroupChat))).all()
    return {c.chat_id: keys.get(c.unit_id) if c.unit_id else None for c in chats}


async def _paths(db: Database) -> dict[str, str]:
    """Each unit's path written with keys instead of ids."""
    async with db.session() as s:
        units = await org_repo.all_units(s)
    keys = {str(u.id): u.key for u in units}
    return {u.key: "/".join(keys[i] for i in u.path.strip("/").split("/")) for u in units}


async def test_a_batch_size_of_one_gives_what_a_thousand_gives(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orgsync, "CHUNK", 1)
    first = await _import(db, ORG)
    assert first.created == {"units": 6, "people": 5, "roles": 4}
    assert first.updated == {"admins": 1, "chat bindings": 3}
    async with db.session() as s:
        exported = await export_org(s, timezone="Asia/Shanghai", language="zh")
    spec = parse_org(ORG, "org.yaml")
    # The admin created for the file is listed as a person; the rest reads back as written.
    assert exported.units == spec.units
    assert {p.telegram_id: p.roles for p in exported.people} == {
        **{p.telegram_id: p.roles for p in spec.people}, 100001: ()}
    assert parse_org(dump_org(exported), "again.yaml") == exported
    assert await _paths(db) == {
        "acme": "acme", "ws-a": "acme/ws-a", "ws-b": "acme/ws-b",
        "team-1": "acme/ws-a/team-1", "team-2": "acme/ws-a/team-2",
        "team-3": "acme/ws-b/team-3"}
    again = await _import(db, ORG)
    assert not again.changed, again.summary()


async def test_groups_swapped_taken_over_and_replaced(db: Database) -> None:
    await _import(db, ORG)
    async with db.transaction() as s:  # a group the bot met in chat, bound to nothing
        await org_repo.upsert_group_chat(s, chat_id=-2001, title="chat", chat_type="group",
                                         now=T0)
    text = (ORG.replace("chat_id: -1001}", "chat_id: -TMP}")
            .replace("chat_id: -1002}", "chat_id: -1001}")
            .replace("chat_id: -TMP}", "chat_id: -1002}")   # teams 1 and 2 swap groups
            .replace("chat_id: -1003}", "chat_id: -2001}"))  # team 3 takes the chat's group
    report = await _import(db, text, T1)
    assert report.updated == {"chat bindings": 3}
    assert await _bindings(db) == {-1001: "team-2", -1002: "team-1", -1003: None,
                                   -2001: "team-3"}
    async with db.session() as s:
        left = await org_repo.get_group_chat(s, -1003)
        assert left is not None and left.updated_at == T1 and left.title == "Team 3"
    # A group the file gives another unit leaves the unit it was bound to.
    text = ORG.replace("kind: workshop\n        name: WS B\n",
                       "kind: workshop\n        name: WS B\n        chat_id: -1001\n"
                       ).replace(", chat_id: -1001}", "}")
    report = await _import(db, text, T1)
    assert report.updated == {"chat bindings": 3}
    assert await _bindings(db) == {-1001: "ws-b", -1002: "team-2", -1003: "team-3",
                                   -2001: None}


async def test_a_new_group_is_created_bound_and_typed(db: Database) -> None:
    await _import(db, ORG.replace("chat_id: -1003}", "chat_id: -5}"))
    async with db.session() as s:
        group = await org_repo.get_group_chat(s, -5)
        supergroup = await org_repo.get_group_chat(s, -1001)
    assert group is not None and group.chat_type == "group" and group.active
    assert group.title == "Team 3" and group.added_at == T0
    assert supergroup is not None and supergroup.chat_type == "supergroup"


async def test_a_moved_workshop_carries_units_made_in_chat(db: Database) -> None:
    await _import(db, ORG)
    async with db.transaction() as s:  # a team created in chat under workshop A
        ws_a = await org_repo.get_unit_by_key(s, "ws-a")
        await org_repo.create_unit(s, key="team-chat", kind=UnitKind.TEAM, name="Chat team",
                                   parent=ws_a, now=T0)
    # Workshop A moves under a new enterprise; team 3 moves to workshop A.
    moved = ORG.split("units:\n")[0] + """\
units:
  - key: other
    kind: enterprise
    name: Other
    children:
      - key: ws-a
        kind: workshop
        name: WS A
        children:
          - {key: team-1, kind: team, name: Team 1, chat_id: -1001}
          - {key: team-2, kind: team, name: Team 2, chat_id: -1002}
          - {key: team-3, kind: team, name: Team 3, chat_id: -1003}
  - key: acme
    kind: enterprise
    name: Acme
    children:
      - {key: ws-b, kind: workshop, name: WS B}
people:
""" + ORG.split("people:\n")[1]
    report = await _import(db, moved, T1)
    assert report.updated == {"units moved": 2}
    assert report.created == {"units": 1}
    paths = await _paths(db)
    assert paths["ws-a"] == "other/ws-a"
    assert paths["team-chat"] == "other/ws-a/team-chat"  # not in the file, moved along
    assert paths["team-3"] == "other/ws-a/team-3"
    assert paths["ws-b"] == "acme/ws-b"
    async with db.session() as s:
        ws_a = await org_repo.get_unit_by_key(s, "ws-a")
        assert ws_a is not None
        assert sorted(u.key for u in await org_repo.subtree(s, ws_a)) == [
            "team-1", "team-2", "team-3", "team-chat", "ws-a"]
    assert not (await _import(db, moved, T1)).changed


async def test_people_changed_posts_admins_and_roles(db: Database) -> None:
    await _import(db, ORG)
    async with db.transaction() as s:  # a role given in chat, and a post set there
        li = await people_repo.get_person(s, 202)
        team_2 = await org_repo.get_unit_by_key(s, "team-2")
        assert li is not None and team_2 is not None
        await org_repo.grant_role(s, person=li, unit=team_2, role=Role.WORKER, now=T0)
        li.post = "electrician"
        s.add(li)
    text = (ORG.replace("name: Wang, username: WangJG, post: welder",
                        "name: Wang Jianguo, username: WangJG, post: electrician")
            .replace("{telegram_id: 203, name: Zhao, language: en, roles: [{unit: team-3",
                     "{telegram_id: 203, name: Zhao, language: en, roles: [{unit: team-2")
            .replace("{telegram_id: 202, name: Li, roles: [{unit: team-1, role: worker}]}",
                     "{telegram_id: 202, name: Li, roles: [{unit: team-1, role: worker}, "
                     "{unit: team-2, role: worker}]}")
            .replace("admins: [100001]", "admins: [100001, 204, 100002]"))
    report = await _import(db, text, T1)
    assert report.created == {"people": 1, "roles": 1}
    assert report.updated == {"people": 1, "posts": 1, "admins": 2}
    async with db.session() as s:
        wang = await people_repo.get_person(s, 201)
        li = await people_repo.get_person(s, 202)
        sun = await people_repo.get_person(s, 204)
        new_admin = await people_repo.get_person(s, 100002)
        assert wang is not None and li is not None and sun is not None
        assert new_admin is not None
        assert report.new_posts == [wang.id]
        assert (wang.name, wang.username, wang.post, wang.updated_at) == (
            "Wang Jianguo", "wangjg", "electrician", T1)
        assert li.post == "electrician"  # the file says nothing: the chat's post stays
        assert sun.is_admin and new_admin.is_admin and new_admin.name == "admin 100002"
        zhao = await people_repo.get_person(s, 203)
        assert zhao is not None
        grants = (await s.exec(select(RoleGrant).where(RoleGrant.person_id == zhao.id)
                               .order_by(col(RoleGrant.id)))).all()
        units = {u.id: u.key for u in await org_repo.all_units(s)}
        # Moving team: the new role is granted, the old one kept (roles are never taken).
        assert [(units[g.unit_id], g.role, g.source, g.granted_at) for g in grants] == [
            ("team-3", Role.WORKER, "org", T0), ("team-2", Role.WORKER, "org", T1)]
        li_grants = (await s.exec(select(RoleGrant).where(RoleGrant.person_id == li.id))).all()
        assert sorted((units[g.unit_id], g.source) for g in li_grants) == [
            ("team-1", "org"), ("team-2", "chat")]


async def test_pending_objects_of_the_session_are_seen(db: Database) -> None:
    async with db.transaction() as s:
        s.add(Person(telegram_id=202, name="Li", created_at=T0, updated_at=T0))
        s.add(Unit(key="acme", kind=UnitKind.ENTERPRISE, name="Old name", path="",
                   created_at=T0))
        await s.flush()
        acme = await org_repo.get_unit_by_key(s, "acme")
        assert acme is not None
        acme.path = f"/{acme.id}/"
        report = await import_org(s, parse_org(ORG, "org.yaml"), now=T0)
    assert report.created["people"] == 4 and report.created["units"] == 5
    assert report.updated["units"] == 1
    async with db.session() as s:
        people = (await s.exec(select(Person).where(Person.telegram_id == 202))).all()
        assert len(people) == 1
