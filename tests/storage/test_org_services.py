"""The organisation's services called without Telegram: bind, invite, roles, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from content.render import Renderer
from domain.clock import ManualClock
from domain.language import SUPPORTED_LANGUAGES
from domain.org import Role
from services import binding, membership, people, roles
from services.base import Actor, Runtime
from services.binding import Chat
from services.ledger import export_for
from services.org import export_file, import_file
from services.people import CODES
from storage import grants as grant_repo
from storage import groups as group_repo
from storage import people as people_repo
from storage import units as unit_repo
from storage.db import Database
from storage.models import Person

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml"
GROUP = Chat(chat_id=-1001, title="合成甲班群", chat_type="supergroup")
OTHER = Chat(chat_id=-1002, title="另一个群", chat_type="supergroup")


async def _runtime(db: Database) -> Runtime:
    rt = Runtime(db=db, renderer=Renderer(default_language="zh"), clock=ManualClock(T0))
    await import_file(rt, EXAMPLE.read_text(encoding="utf-8"), "org.yaml")
    return rt


async def _actor(rt: Runtime, telegram_id: int, name: str = "someone", *,
                 started: bool = False, username: str | None = None) -> Actor:
    async with rt.db.transaction() as s:
        person = await people_repo.upsert_person(s, telegram_id=telegram_id, name=name,
                                                 username=username, language_code=None, now=T0)
        person.started = started
        s.add(person)
    return Actor(person_id=person.id or 0, telegram_id=telegram_id, name=person.name,
                 language="zh")


async def _team(rt: Runtime, key: str) -> int:
    async with rt.db.session() as s:
        unit = await unit_repo.get_unit_by_key(s, key)
    assert unit is not None and unit.id is not None
    return unit.id


async def _bound_to(rt: Runtime, chat_id: int) -> int | None:
    async with rt.db.session() as s:
        group = await group_repo.get_group_chat(s, chat_id)
    return group.unit_id if group is not None else None


async def test_binding_needs_a_role_over_the_team(db: Database) -> None:
    rt = await _runtime(db)
    team_a = await _team(rt, "team-synthesis-a")
    worker = await _actor(rt, 300001, "吴工")
    refused = await binding.bind(rt, worker, GROUP, team_a, new_team=False, lang="zh")
    assert (refused.ok, refused.key) == (False, "setup.no_right_here")
    assert await _bound_to(rt, GROUP.chat_id) is None
    menu = await binding.teams_menu(rt, worker, GROUP, page=0)
    assert (menu.ok, menu.key) == (False, "setup.no_right")

    leader = await _actor(rt, 200001, "王建国")
    menu = await binding.teams_menu(rt, leader, GROUP, page=0)
    assert menu.ok and menu.markup is not None
    assert [row[0]["callback_data"] for row in menu.markup["inline_keyboard"][:-1]] == [
        f"setup:u:{team_a}"]
    done = await binding.bind(rt, leader, GROUP, team_a, new_team=False, lang="zh")
    assert (done.ok, done.key) == (True, "setup.bound")
    assert done.values["path"] == "示例化工有限公司 › 合成车间 › 合成甲班"
    assert await _bound_to(rt, GROUP.chat_id) == team_a
    # Another group cannot take a team that has one.
    taken = await binding.bind(rt, leader, OTHER, team_a, new_team=False, lang="zh")
    assert taken.key == "setup.team_taken"


async def test_an_invitation_code_binds_one_group_once(db: Database) -> None:
    rt = await _runtime(db)
    manager = await _actor(rt, 200003, "赵厂长", started=True)
    stranger = await _actor(rt, 300002, "群主")
    unknown = await binding.bind_with_code(rt, stranger, GROUP, "NOPE-NOPE")
    assert (unknown.ok, unknown.key) == (False, "invite.unknown")
    refused = await binding.invite_by_key(rt, stranger, "team-synthesis-b",
                                          valid_for=timedelta(hours=24), bot_username="bot")
    assert refused.key == "invite.not_allowed"
    issued = await binding.invite_by_key(rt, manager, "team-synthesis-b",
                                         valid_for=timedelta(hours=24), bot_username="bot")
    assert issued.ok and issued.key == "invite.created"
    code = issued.values["code"]
    assert issued.values["link"] == f"https://t.me/bot?startgroup={code}"

    done = await binding.bind_with_code(rt, stranger, GROUP, code)
    assert (done.ok, done.key, done.queued) == (True, "setup.bound", 1)
    assert await _bound_to(rt, GROUP.chat_id) == await _team(rt, "team-synthesis-b")
    again = await binding.bind_with_code(rt, stranger, OTHER, code)
    assert (again.ok, again.key) == (False, "invite.used")
    assert await _bound_to(rt, OTHER.chat_id) is None


async def test_grant_and_revoke_a_role(db: Database) -> None:
    rt = await _runtime(db)
    leader = await _actor(rt, 200001, "王建国")
    worker = await _actor(rt, 300001, "吴工", username="wu")
    granted = await roles.change_role(rt, leader, Role.WORKER, person_id=worker.person_id,
                                      unit_key="team-synthesis-a")
    assert (granted.ok, granted.key) == (True, "role.granted")
    again = await roles.change_role(rt, leader, Role.WORKER, person_id=worker.person_id,
                                    unit_key="team-synthesis-a")
    assert again.key == "role.already"
    async with rt.db.session() as s:
        assert [g.role for g in await grant_repo.grants_of(s, worker.person_id)] == [Role.WORKER]
    # Above the leader's own rank, or on a team that is not theirs: refused.
    above = await roles.change_role(rt, leader, Role.SAFETY_OFFICER,
                                    person_id=worker.person_id, unit_key="team-synthesis-a")
    assert above.key == "role.not_allowed"
    elsewhere = await roles.change_role(rt, leader, Role.WORKER, person_id=worker.person_id,
                                        unit_key="team-packing-1")
    assert elsewhere.key == "role.not_allowed"
    nobody = await roles.change_role(rt, leader, Role.WORKER, username="nobody",
                                     unit_key="team-synthesis-a")
    assert nobody.key == "role.unknown_person"
    no_unit = await roles.change_role(rt, leader, Role.WORKER, person_id=worker.person_id)
    assert no_unit.key == "role.no_unit"
    # By @username, on the team of the group the command was sent in.
    await binding.bind(rt, leader, GROUP, await _team(rt, "team-synthesis-a"),
                       new_team=False, lang="zh")
    revoked = await roles.change_role(rt, leader, Role.WORKER, revoke=True, username="wu",
                                      chat_id=GROUP.chat_id)
    assert (revoked.ok, revoked.key) == (True, "role.revoked")
    gone = await roles.change_role(rt, leader, Role.WORKER, revoke=True, username="wu",
                                   chat_id=GROUP.chat_id)
    assert (gone.ok, gone.key) == (False, "role.not_held")
    async with rt.db.session() as s:
        assert await grant_repo.grants_of(s, worker.person_id) == []


async def test_languages_of_a_person_and_of_a_group(db: Database) -> None:
    assert CODES == SUPPORTED_LANGUAGES  # the button kind offers every language
    rt = await _runtime(db)
    leader = await _actor(rt, 200001, "王建国")
    worker = await _actor(rt, 300001, "吴工")
    done = await people.set_own_language(rt, worker, "en")
    assert (done.ok, done.key) == (True, "language.set_private")
    async with rt.db.session() as s:
        person = await s.get(Person, worker.person_id)
        assert person is not None and person.language == "en"
    await binding.bind(rt, leader, GROUP, await _team(rt, "team-synthesis-a"),
                       new_team=False, lang="zh")
    assert await people.may_set_group_language(rt, leader, GROUP.chat_id)
    assert not await people.may_set_group_language(rt, worker, GROUP.chat_id)
    admin = Actor(person_id=worker.person_id, telegram_id=300001, name="吴工", language="zh",
                  is_bot_admin=True)
    assert await people.may_set_group_language(rt, admin, OTHER.chat_id)
    done = await people.set_group_language(rt, chat_id=GROUP.chat_id, title=GROUP.title,
                                           chat_type=GROUP.chat_type, code="en")
    assert done.key == "language.set_group"
    async with rt.db.session() as s:
        group = await group_repo.get_group_chat(s, GROUP.chat_id)
        assert group is not None and group.language == "en"
    assert (await people.set_own_language(rt, worker, "fr")).ok is False


async def test_members_come_and_go_and_removal_tells_the_leaders(db: Database) -> None:
    rt = await _runtime(db)
    leader = await _actor(rt, 200001, "王建国", started=True)
    await binding.bind(rt, leader, GROUP, await _team(rt, "team-synthesis-a"),
                       new_team=False, lang="zh")
    wu = membership.Member(telegram_id=300001, name="吴工")
    joined = await membership.members_changed(rt, GROUP, [wu], present=True)
    assert joined.values["changed"] == 1
    async with rt.db.session() as s:
        group = await group_repo.get_group_chat(s, GROUP.chat_id)
        assert group is not None
        assert [p.name for p in await group_repo.active_members(s, group.id or 0)] == ["吴工"]
    await membership.members_changed(rt, GROUP, [wu], present=False, known_groups_only=True)
    unknown = await membership.members_changed(rt, OTHER, [wu], present=False,
                                               known_groups_only=True)
    assert not unknown.ok and await _bound_to(rt, OTHER.chat_id) is None
    removed = await membership.bot_removed(rt, GROUP.chat_id, reason="kicked", stamp=1)
    assert removed.queued == 3  # the team leader, the workshop's officer, the manager
    twice = await membership.bot_removed(rt, GROUP.chat_id, reason="kicked", stamp=1)
    assert not twice.ok
    back = await membership.bot_added(rt, GROUP)
    assert back.key == "group.rejoined"
    await membership.group_migrated(rt, old_chat_id=GROUP.chat_id, new_chat_id=-1009)
    assert await _bound_to(rt, -1009) == await _team(rt, "team-synthesis-a")


async def test_ledger_export_needs_a_team_leader_and_the_org_file_round_trips(
        db: Database) -> None:
    rt = await _runtime(db)
    worker = await _actor(rt, 300001, "吴工")
    leader = await _actor(rt, 200001, "王建国")
    since, until = T0 - timedelta(days=30), T0 + timedelta(days=1)
    refused = await export_for(rt, worker, since=since, until=until)
    assert (refused.ok, refused.key, refused.file) == (False, "export.not_allowed", None)
    done = await export_for(rt, leader, since=since, until=until)
    assert done.ok and done.file is not None and done.file.data[:2] == b"PK"
    assert done.values["units"] == "合成甲班"
    text = await export_file(rt)
    report = await import_file(rt, text, "export.yaml")
    assert not report.changed, report.summary()
