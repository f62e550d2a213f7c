"""Scenarios of a team group's life: added, bound, migrated, kicked, languages, roles."""

from __future__ import annotations

from sqlmodel import select

from domain.org import Role, UnitKind
from storage import org as org_repo
from storage import people as people_repo
from storage.models import OutboxMessage
from tests.integration.conftest import BotUnderTest


async def make_org(bot: BotUnderTest) -> dict[str, int]:
    """Enterprise → workshop → two teams, a manager and a workshop safety officer."""
    now = bot.clock.now()
    async with bot.services.db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                         name="示例化工", parent=None, now=now)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="合成车间",
                                        parent=ent, now=now)
        a = await org_repo.create_unit(s, key="team-a", kind=UnitKind.TEAM, name="合成甲班",
                                       parent=ws, now=now)
        b = await org_repo.create_unit(s, key="team-b", kind=UnitKind.TEAM, name="合成乙班",
                                       parent=ws, now=now)
        return {"acme": ent.id or 0, "ws": ws.id or 0, "a": a.id or 0, "b": b.id or 0}


async def grant(bot: BotUnderTest, user: object, unit_id: int, role: Role) -> None:
    async with bot.services.db.transaction() as s:
        person = await people_repo.upsert_person(
            s, telegram_id=user.id, name=user.name,  # type: ignore[attr-defined]
            username=user.user.username,  # type: ignore[attr-defined]
            language_code=None, now=bot.clock.now())
        unit = await org_repo.get_unit(s, unit_id)
        assert unit is not None
        await org_repo.grant_role(s, person=person, unit=unit, role=role, now=bot.clock.now())


async def bound_unit_of(bot: BotUnderTest, chat_id: int) -> int | None:
    async with bot.services.db.session() as s:
        chat = await org_repo.get_group_chat(s, chat_id)
        return chat.unit_id if chat else None


async def bind(bot: BotUnderTest, group: object, admin: object, team: str = "合成甲班") -> None:
    """What a group admin does: add the bot, /setup, tap the team."""
    group.add_bot(by=admin)  # type: ignore[attr-defined]
    admin.send(group, "/setup")  # type: ignore[attr-defined]
    await bot.settle()
    admin.click(group.bot_messages()[-1], team)  # type: ignore[attr-defined]
    await bot.settle()


def last_text(chat: object) -> str:
    # The daily quiz poll (10:00 in every team group) is not a text: skipped here.
    messages = [m for m in chat.bot_messages()  # type: ignore[attr-defined]
                if not m.deleted and "poll" not in m.extra]
    assert messages, "the bot posted nothing in this chat"
    return messages[-1].text or ""


async def test_bot_added_greets_and_only_a_real_admin_can_bind(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin, worker = d.user("Admin Li", language_code="zh"), d.user("Worker Wu")
    await grant(bot, admin, ids["ws"], Role.SAFETY_OFFICER)  # binding needs a role too
    group = d.group("合成甲班群", members=[admin, worker], admins=[admin])
    group.add_bot(by=admin)
    await bot.settle()
    assert "/setup" in last_text(group)

    worker.send(group, "/setup")
    await bot.settle()
    assert "只有本群的管理员" in last_text(group)

    group.send_as_anonymous_admin("/setup")
    await bot.settle()
    assert "匿名管理员" in last_text(group)
    assert await bound_unit_of(bot, group.id) is None

    admin.send(group, "/setup@SafetyTestBot")
    await bot.settle()
    menu = group.bot_messages()[-1]
    assert ["合成甲班"] in menu.buttons and ["合成乙班"] in menu.buttons

    # A worker pressing the admin's button is refused, and nothing is bound.
    cq = worker.click(menu, "合成甲班")
    await bot.settle()
    assert d.callback_answer(cq) is not None
    assert await bound_unit_of(bot, group.id) is None

    admin.click(menu, "合成甲班")
    await bot.settle()
    assert await bound_unit_of(bot, group.id) == ids["a"]
    assert "合成甲班" in last_text(group)
    assert "示例化工 › 合成车间 › 合成甲班" in last_text(group)

    # Choosing English switches the group's language.
    admin.click(group.bot_messages()[-1], "English")
    await bot.settle()
    assert last_text(group) == "This group now uses English."
    worker.send(group, "/team")
    await bot.settle()
    assert "Members (" in last_text(group) and "Worker Wu" in last_text(group)


async def test_forged_callback_for_a_team_bound_elsewhere_is_refused(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin = d.user("Admin")
    await grant(bot, admin, ids["ws"], Role.SAFETY_OFFICER)
    first, second = (d.group(name, members=[admin], admins=[admin]) for name in ("甲", "乙"))
    for group in (first, second):
        group.add_bot(by=admin)
        admin.send(group, "/setup")
    await bot.settle()
    admin.click(first.bot_messages()[-1], "合成甲班")
    await bot.settle()
    cq = admin.click_data(second.bot_messages()[-1], f"setup:u:{ids['a']}")
    await bot.settle()
    answer = d.callback_answer(cq)
    assert answer is not None and "另一个群" in (answer.get("text") or "")
    assert await bound_unit_of(bot, second.id) is None
    for data in ("setup:u:999999", "setup:u:abc", "setup:zzz", f"setup:u:{ids['ws']}"):
        cq = admin.click_data(second.bot_messages()[-1], data)
        await bot.settle()
        assert d.callback_answer(cq) is not None  # answered, never left spinning
    assert await bound_unit_of(bot, second.id) is None
    assert not [e for e in d.errors if e.error_code >= 500]


async def test_new_team_created_under_a_workshop(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin = d.user("Admin")
    await grant(bot, admin, ids["ws"], Role.SAFETY_OFFICER)
    group = d.group("Maintenance <crew> & co", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    admin.send(group, "/setup")
    await bot.settle()
    admin.click(group.bot_messages()[-1], "➕ 新建班组")
    await bot.settle()
    admin.click(group.bot_messages()[-1], "合成车间")
    await bot.settle()
    unit_id = await bound_unit_of(bot, group.id)
    assert unit_id is not None
    async with bot.services.db.session() as s:
        unit = await org_repo.get_unit(s, unit_id)
        assert unit is not None and unit.parent_id == ids["ws"] and unit.kind == "team"
        assert unit.name == "Maintenance <crew> & co"
    assert "Maintenance <crew> & co" in last_text(group)  # escaped in HTML, intact for people


async def test_migration_to_supergroup_keeps_the_binding(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin = d.user("Admin")
    await grant(bot, admin, ids["a"], Role.TEAM_LEADER)
    group = d.group("甲班", members=[admin], admins=[admin])
    await bind(bot, group, admin)
    old_id = group.id
    new_id = group.migrate_to_supergroup()
    await bot.settle()
    assert await bound_unit_of(bot, new_id) == ids["a"]
    admin.send(d.chat(new_id), "/team")
    await bot.settle()
    assert "合成甲班" in last_text(d.chat(new_id))
    # A notification queued for the old id follows the group to the new one.
    async with bot.services.db.transaction() as s:
        from storage import outbox as outbox_repo

        chat = await org_repo.get_group_chat(s, new_id)
        assert chat is not None
        await outbox_repo.enqueue_text(s, chat_id=old_id, html="迁移后的通知", now=bot.clock.now(),
                                       purpose="test")
    await bot.drain_outbox()
    await bot.drain_outbox()
    assert last_text(d.chat(new_id)) == "迁移后的通知"


async def test_kicked_bot_goes_quiet_and_the_responsible_are_told(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin, leader, manager = d.user("Admin"), d.user("Leader"), d.user("Manager")
    manager.start_bot()
    leader.start_bot()
    await bot.settle()
    await grant(bot, manager, ids["acme"], Role.MANAGER)
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    group = d.group("甲班", members=[admin, leader], admins=[admin, leader])
    await bind(bot, group, leader)
    posted = len(group.bot_messages())

    group.kick_bot(by=admin)
    await bot.settle()
    for person in (manager, leader):
        assert "移出" in d.private_messages(person)[-1].text
    async with bot.services.db.transaction() as s:
        chat = await org_repo.get_group_chat(s, group.id)
        assert chat is not None and not chat.active
        from storage import outbox as outbox_repo

        await outbox_repo.enqueue_text(s, chat_id=group.id, html="不该发出", now=bot.clock.now(),
                                       purpose="test")
    await bot.drain_outbox()
    assert len(group.bot_messages()) == posted
    async with bot.services.db.session() as s:
        row = (await s.exec(select(OutboxMessage).where(OutboxMessage.purpose == "test"))).one()
        assert row.status == "failed" and "removed" in (row.last_error or "")


async def test_language_per_person_in_private_chat(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice", language_code="en")
    alice.start_bot()
    await bot.settle()
    assert d.private_messages(alice)[-1].text.startswith("Hello, Alice")
    alice.send(d.private_chat(alice), "/language zh")
    await bot.settle()
    assert d.private_messages(alice)[-1].text == "已为你切换为中文。"
    alice.send(d.private_chat(alice), "/help")
    await bot.settle()
    assert "常用命令" in d.private_messages(alice)[-1].text
    assert {c["command"] for c in d.commands(scope_type="all_private_chats",
                                             language_code="en")} >= {"start", "language"}
    zh_admin = d.commands(scope_type="all_chat_administrators", language_code="zh")
    assert any(c["command"] == "setup" and c["description"] == "把本群绑定到班组" for c in zh_admin)


async def test_markup_in_names_is_shown_intact(bot: BotUnderTest) -> None:
    d = bot.driver
    tom = d.user("<b>Tom & Jerry</b>", language_code="en")
    group = d.group("Team", members=[tom], admins=[tom])
    group.add_bot(by=tom)
    tom.send(group, "/whoami")
    await bot.settle()
    assert "<b>Tom & Jerry</b>" in last_text(group)
    assert not d.errors


async def test_roles_by_reply_and_mention_with_permissions(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin, leader = d.user("Admin"), d.user("Leader Wang", username="wangjg")
    worker, other = d.user("Worker Wu", username="wu"), d.user("Outsider")
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    group = d.group("甲班", members=[admin, leader, worker], admins=[admin, leader])
    await bind(bot, group, leader)

    hello = worker.send(group, "大家好")
    worker.send(group, "/role 班组长 @wangjg")  # a worker cannot give roles
    await bot.settle()
    assert "你不能" in last_text(group)

    leader.send(group, "/role 班组长", reply_to=hello)
    await bot.settle()
    assert "Worker Wu" in last_text(group) and "班组长" in last_text(group)
    leader.send(group, "/role 班组长", reply_to=hello)
    await bot.settle()
    assert "已经是" in last_text(group)

    leader.send(group, "/role 安全员 @wu")  # above the leader's own rank
    await bot.settle()
    assert "你不能" in last_text(group)

    leader.send(group, "/role worker @nobody")
    await bot.settle()
    assert "我还不认识 @nobody" in last_text(group)

    leader.send(group, "/role boss @wu")
    await bot.settle()
    assert "不认识角色" in last_text(group)

    leader.send(group, "/role revoke 班组长 @wu")
    await bot.settle()
    assert "已收回" in last_text(group)

    other.send(d.private_chat(other), "/role worker @wu team-b")
    await bot.settle()
    assert "你不能" in d.private_messages(other)[-1].text

    anon_target = group.send_as_anonymous_admin("hi")
    leader.send(group, "/role worker", reply_to=anon_target)
    await bot.settle()
    assert "匿名管理员" in last_text(group)

    worker.send(group, "/whoami")
    await bot.settle()
    assert "在 合成甲班 中视为员工" in last_text(group)


async def test_a_redelivered_update_is_handled_once(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    await bot.settle()
    alice.send(group, "/help")
    await bot.settle()
    count = len(group.bot_messages())
    d.redeliver_last_update()
    await bot.settle()
    assert len(group.bot_messages()) == count


async def test_handler_errors_reach_the_user_as_one_sentence(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice", language_code="en")
    alice.start_bot()
    await bot.settle()
    # Break the database under the bot: the handler fails, the user gets one sentence.
    assert bot.db is not None
    async with bot.db.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(text("DROP TABLE role_grant"))
    alice.send(d.private_chat(alice), "/whoami")
    await bot.settle()
    reply = d.private_messages(alice)[-1].text
    assert reply.startswith("Sorry, something went wrong") and "Traceback" not in reply



async def test_members_are_learned_from_joins_leaves_and_messages(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin, joiner, talker = d.user("Admin"), d.user("Joiner"), d.user("Talker")
    await grant(bot, admin, ids["a"], Role.TEAM_LEADER)
    group = d.supergroup("甲班", members=[admin, talker], admins=[admin])
    group.add_bot(by=admin, as_admin=True)  # as admin the bot also gets chat_member updates
    admin.send(group, "/setup")
    await bot.settle()
    admin.click(group.bot_messages()[-1], "合成甲班")
    talker.send(group, "早上好")
    group.add_member(joiner, by=admin)
    await bot.settle()
    admin.send(group, "/team")
    await bot.settle()
    roster = last_text(group)
    assert "Joiner" in roster and "Talker" in roster and "成员（3）" in roster
    group.remove_member(joiner)
    await bot.settle()
    admin.send(group, "/team")
    await bot.settle()
    assert "Joiner" not in last_text(group) and "成员（2）" in last_text(group)


async def test_a_restart_mid_setup_loses_nothing(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    admin = d.user("Admin")
    await grant(bot, admin, ids["a"], Role.TEAM_LEADER)
    group = d.group("甲班", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    admin.send(group, "/setup")
    await bot.settle()
    menu = group.bot_messages()[-1]
    await bot.restart()
    admin.click(menu, "合成甲班")  # the button of the message sent before the restart
    await bot.settle()
    assert await bound_unit_of(bot, group.id) == ids["a"]
    greetings = [m for m in group.bot_messages() if "/setup" in (m.text or "")]
    assert len(greetings) == 1  # nothing was handled twice across the restart


ORG_FILE = """version: 1
units:
  - key: acme
    kind: enterprise
    name: 示例化工
    children:
      - key: ws
        kind: workshop
        name: 合成车间
        children:
          - key: team-a
            kind: team
            name: 合成甲班
            chat_id: {chat_id}
"""


async def test_first_arrival_in_a_group_the_org_file_bound_is_a_greeting_not_a_return(
        bot: BotUnderTest) -> None:
    from services.orgfile import parse_org
    from storage.orgsync import import_org

    d = bot.driver
    admin = d.user("Admin Li")
    group = d.group("甲班群", members=[admin], admins=[admin])
    async with bot.services.db.transaction() as s:
        await import_org(s, parse_org(ORG_FILE.format(chat_id=group.id), "org.yaml"),
                         now=bot.clock.now())
    group.add_bot(by=admin)
    await bot.settle()
    greeting = last_text(group)
    assert greeting.startswith("大家好，我是班组安全助手")
    assert "本群是 合成甲班（示例化工 › 合成车间 › 合成甲班）的班组群" in greeting
    assert "回来" not in greeting

    # Removed, then added again: now the bot really is back.
    group.kick_bot(by=admin)
    await bot.settle()
    group.add_bot(by=admin)
    await bot.settle()
    assert last_text(group) == "我回来了。本群仍绑定在 合成甲班。"


async def test_back_in_a_group_where_it_had_been_active_even_if_the_removal_was_missed(
        bot: BotUnderTest) -> None:
    from services.orgfile import parse_org
    from storage.orgsync import import_org

    d = bot.driver
    admin = d.user("Admin Li")
    group = d.group("甲班群", members=[admin], admins=[admin])
    async with bot.services.db.transaction() as s:
        await import_org(s, parse_org(ORG_FILE.format(chat_id=group.id), "org.yaml"),
                         now=bot.clock.now())
    group.add_bot(by=admin)
    await bot.settle()
    admin.send(group, "/whoami")  # the bot learns a member here
    await bot.settle()
    group.chat.statuses[d.bot.user.id] = "left"  # removed while the bot never heard of it
    group.add_bot(by=admin)
    await bot.settle()
    assert last_text(group) == "我回来了。本群仍绑定在 合成甲班。"
