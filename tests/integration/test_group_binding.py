"""Who may attach a group to the organisation: a group admin with a role over the unit,
or a group admin with a one-time invitation code (/invite)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from domain.org import Role
from storage import org as org_repo
from storage import people as people_repo
from storage.models import GroupInvite, Unit
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import bound_unit_of, grant, last_text, make_org


async def unit_keys(bot: BotUnderTest) -> set[str]:
    async with bot.services.db.session() as s:
        return {u.key for u in (await s.exec(select(Unit))).all()}


async def make_bot_admin(bot: BotUnderTest, user: object) -> None:
    async with bot.services.db.transaction() as s:
        person = await people_repo.upsert_person(
            s, telegram_id=user.id, name=user.name,  # type: ignore[attr-defined]
            username=None, language_code=None, now=bot.clock.now())
        person.is_admin = True
        s.add(person)


async def invite(bot: BotUnderTest, who: object, *args: str, click: str | None = None) -> str:
    """``/invite`` in a private chat (pressing ``click`` if given); the code it showed."""
    d = bot.driver
    chat = d.private_chat(who)  # type: ignore[arg-type]
    who.send(chat, " ".join(("/invite", *args)))  # type: ignore[attr-defined]
    await bot.settle()
    if click is not None:
        who.click(d.private_messages(who)[-1], click)  # type: ignore[attr-defined, arg-type]
        await bot.settle()
    text = d.private_messages(who)[-1].text or ""  # type: ignore[arg-type]
    found = re.search(r"https://t\.me/SafetyTestBot\?startgroup=([0-9A-Z]+)", text)
    assert found, text
    assert f"/setup {found.group(1)}" in text
    return found.group(1)


async def test_a_group_admin_without_a_role_cannot_attach_a_group(bot: BotUnderTest) -> None:
    """The issue's scenario: no role anywhere, admin of his own group, /setup → new team
    under an existing workshop. Refused at every step; nothing is bound or created."""
    ids = await make_org(bot)
    d = bot.driver
    rogue = d.user("Rogue")
    group = d.group("Rogue chat", members=[rogue], admins=[rogue])
    group.add_bot(by=rogue)
    rogue.send(group, "/setup")
    await bot.settle()
    refusal = group.bot_messages()[-1]
    assert refusal.buttons == [], "a person with no role was offered units to bind to"
    assert "没有可以绑定本群的角色" in (refusal.text or "") and "/invite" in (refusal.text or "")
    before = await unit_keys(bot)
    # The buttons he would have pressed, forged: the new-team menu, a workshop, a team.
    for data in ("setup:new:0", f"setup:w:{ids['ws']}", f"setup:u:{ids['a']}",
                 f"setup:u:{ids['b']}"):
        cq = rogue.click_data(refusal, data)
        await bot.settle()
        assert d.callback_answer(cq) is not None
    assert await bound_unit_of(bot, group.id) is None
    assert await unit_keys(bot) == before  # no "Rogue chat" team under the workshop
    assert not [e for e in d.errors if e.error_code >= 500]


async def test_officers_managers_and_bot_admins_bind_group_admins_only(
        bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    officer, manager, root = d.user("Officer Zhao"), d.user("Manager Qian"), d.user("Root")
    await grant(bot, officer, ids["ws"], Role.SAFETY_OFFICER)
    await grant(bot, manager, ids["acme"], Role.MANAGER)
    await make_bot_admin(bot, root)

    g1 = d.group("甲", members=[officer], admins=[officer])
    g1.add_bot(by=officer)
    officer.send(g1, "/setup")
    await bot.settle()
    officer.click(g1.bot_messages()[-1], "合成甲班")
    await bot.settle()
    assert await bound_unit_of(bot, g1.id) == ids["a"]

    g2 = d.group("检修班", members=[manager], admins=[manager])
    g2.add_bot(by=manager)
    manager.send(g2, "/setup")
    await bot.settle()
    manager.click(g2.bot_messages()[-1], "➕ 新建班组")
    await bot.settle()
    manager.click(g2.bot_messages()[-1], "合成车间")
    await bot.settle()
    async with bot.services.db.session() as s:
        unit_id = await bound_unit_of(bot, g2.id)
        unit = await org_repo.get_unit(s, unit_id or 0)
        assert unit is not None and unit.parent_id == ids["ws"] and unit.name == "检修班"

    # A bot admin who is not an admin of the group does not control it: refused.
    owner = d.user("Owner")
    g3 = d.group("乙", members=[owner, root], admins=[owner])
    g3.add_bot(by=owner)
    root.send(g3, "/setup")
    await bot.settle()
    assert "只有本群的管理员" in last_text(g3)
    g4 = d.group("乙班", members=[root], admins=[root])
    g4.add_bot(by=root)
    root.send(g4, "/setup")
    await bot.settle()
    root.click(g4.bot_messages()[-1], "合成乙班")
    await bot.settle()
    assert await bound_unit_of(bot, g4.id) == ids["b"]
    assert await bound_unit_of(bot, g3.id) is None


async def test_a_team_leader_binds_his_own_team_and_no_other(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    leader = d.user("Leader Li")
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    group = d.group("甲班", members=[leader], admins=[leader])
    group.add_bot(by=leader)
    leader.send(group, "/setup")
    await bot.settle()
    menu = group.bot_messages()[-1]
    assert menu.buttons == [["合成甲班"], ["取消"]]  # not team B, no new team
    before = await unit_keys(bot)
    for data in (f"setup:u:{ids['b']}", f"setup:w:{ids['ws']}"):
        cq = leader.click_data(menu, data)
        await bot.settle()
        answer = d.callback_answer(cq) or {}
        assert answer.get("show_alert") and "无权" in (answer.get("text") or "")
    assert await bound_unit_of(bot, group.id) is None
    assert await unit_keys(bot) == before
    leader.click(menu, "合成甲班")
    await bot.settle()
    assert await bound_unit_of(bot, group.id) == ids["a"]

    # Team B's leader, also an admin of this group, cannot take it from team A: not from
    # the menu, not with forged buttons, not with an invitation for his team.
    other = d.user("Leader Sun")
    await grant(bot, other, ids["b"], Role.TEAM_LEADER)
    group.add_member(other)
    group.chat.statuses[other.id] = "administrator"
    other.send(group, "/setup")
    await bot.settle()
    assert "只有有权为该班组绑定群的人" in last_text(group) and "合成甲班" in last_text(group)
    cq = other.click_data(menu, f"setup:u:{ids['b']}")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert")
    code = await invite(bot, other, "team-b")
    other.send(group, f"/setup {code}")
    await bot.settle()
    assert "只有有权为该班组绑定群的人" in last_text(group)
    assert await bound_unit_of(bot, group.id) == ids["a"]
    async with bot.services.db.session() as s:
        assert (await s.exec(select(GroupInvite))).one().used_at is None  # not spent


async def test_an_invitation_binds_one_group_once(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    officer = d.user("Officer Zhao")
    await grant(bot, officer, ids["ws"], Role.SAFETY_OFFICER)
    officer.start_bot()
    await bot.settle()
    code = await invite(bot, officer, click="合成乙班")
    async with bot.services.db.session() as s:
        stored = (await s.exec(select(GroupInvite))).one()
        assert code not in stored.code_digest  # only a digest is kept

    # An admin of the team's group, with no role anywhere, adds the bot through the link.
    outsider = d.user("Outsider Sun")
    group = d.group("乙班群", members=[outsider], admins=[outsider])
    group.add_bot_via_link(outsider, code)
    await bot.settle()
    assert await bound_unit_of(bot, group.id) == ids["b"]
    assert "合成乙班" in last_text(group) and "示例化工 › 合成车间 › 合成乙班" in last_text(group)
    assert "乙班群" in d.private_messages(officer)[-1].text  # the inviter hears who used it

    # Used once: another group with the same code is refused, in its own words.
    other = d.user("Other")
    second = d.group("另一个群", members=[other], admins=[other])
    second.add_bot(by=other)
    other.send(second, f"/setup {code.lower()}")
    await bot.settle()
    assert "已被使用" in last_text(second)
    assert await bound_unit_of(bot, second.id) is None

    # A code for "a new team in the workshop": a member who is not a group admin and an
    # anonymous admin are refused and do not spend it; the group's admin then uses it.
    new_team_code = await invite(bot, officer, "ws")
    worker = d.user("Worker Ma")
    second.add_member(worker)
    worker.send(second, f"/setup {new_team_code}")
    await bot.settle()
    assert "只有本群的管理员" in last_text(second)
    second.send_as_anonymous_admin(f"/setup {new_team_code}")
    await bot.settle()
    assert "匿名管理员" in last_text(second)
    assert await bound_unit_of(bot, second.id) is None
    other.send(second, f"/setup {new_team_code}")
    await bot.settle()
    async with bot.services.db.session() as s:
        unit = await org_repo.get_unit(s, await bound_unit_of(bot, second.id) or 0)
        assert unit is not None and unit.parent_id == ids["ws"] and unit.name == "另一个群"


async def test_expired_and_forged_codes_are_refused(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    leader = d.user("Leader Li")
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    code = await invite(bot, leader, "team-a")  # a leader invites to his own team
    admin = d.user("Admin", language_code="en")
    group = d.group("甲班", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    await bot.settle()
    bot.clock.advance(timedelta(hours=24, seconds=1))  # INVITE_VALID_FOR is 24h by default
    admin.send(group, f"/setup {code}")
    await bot.settle()
    assert "邀请码已过期" in last_text(group)
    for forged in ("ABCDEFGHJKMN", "<b>x</b>", "x" * 300, "0" * 12, code[:-1]):
        admin.send(group, f"/setup {forged}")
        await bot.settle()
        assert "邀请码无效" in last_text(group), forged
    group.add_bot_via_link(admin, "NOTACODE")
    await bot.settle()
    assert "邀请码无效" in last_text(group)
    assert await bound_unit_of(bot, group.id) is None


async def test_who_may_create_invitations(bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    worker, leader = d.user("Worker Wu"), d.user("Leader Li")
    await grant(bot, worker, ids["a"], Role.WORKER)
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    worker.send(d.private_chat(worker), "/invite")
    await bot.settle()
    assert "没有可以邀请群的角色" in d.private_messages(worker)[-1].text
    worker.send(d.private_chat(worker), "/invite team-a")
    await bot.settle()
    assert "无权邀请" in d.private_messages(worker)[-1].text
    cq = worker.click_data(d.private_messages(worker)[-1], f"inv:t:{ids['a']}")
    await bot.settle()
    assert d.callback_answer(cq) is not None
    assert "无权邀请" in d.private_messages(worker)[-1].text

    # A team leader: his own team only, and no new teams in the workshop.
    leader.send(d.private_chat(leader), "/invite")
    await bot.settle()
    assert d.private_messages(leader)[-1].buttons == [["合成甲班"]]
    for key in ("team-b", "ws"):
        leader.send(d.private_chat(leader), f"/invite {key}")
        await bot.settle()
        assert "无权邀请" in d.private_messages(leader)[-1].text
    leader.send(d.private_chat(leader), "/invite acme")
    await bot.settle()
    assert "群只能绑定到班组" in d.private_messages(leader)[-1].text
    leader.send(d.private_chat(leader), "/invite nowhere")
    await bot.settle()
    assert "没有代码为" in d.private_messages(leader)[-1].text

    group = d.group("甲班", members=[leader], admins=[leader])
    group.add_bot(by=leader)
    leader.send(group, "/invite")
    await bot.settle()
    assert "私聊" in last_text(group)
    async with bot.services.db.session() as s:
        assert (await s.exec(select(GroupInvite))).all() == []
