"""事故快报: reported in a group by reply, absurd counts refused, every level at once,
follow-ups and the final report by role, forged and late buttons, the ledger sheet."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlmodel import select

from domain.incident import IncidentEventKind, IncidentState, Injury
from domain.org import Role, UnitKind
from services import ledger as ledger_service
from storage import org as org_repo
from storage.models import Incident, IncidentEvent, OutboxMessage
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import bind, grant, last_text

REPORT_NOW, HURT, CONTROLLED = "🚨 立即上报", "伤亡变化", "现场已控制"
NOTE, CLOSE = "补充情况", "结案报告"


async def make_plant(bot: BotUnderTest):  # type: ignore[no-untyped-def]
    """A park safety office (the authority) → enterprise → workshop → 合成甲班, its people.

    The leader and the manager and officer above pressed Start; the park's inspector
    never did (the group mentions them). The worker did not either.
    """
    now = bot.clock.now()
    async with bot.services.db.transaction() as s:
        park = await org_repo.create_unit(s, key="park", kind=UnitKind.AUTHORITY,
                                          name="化工园区安监办", parent=None, now=now)
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                         name="示例化工", parent=park, now=now)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="合成车间",
                                        parent=ent, now=now)
        team = await org_repo.create_unit(s, key="team-a", kind=UnitKind.TEAM,
                                          name="合成甲班", parent=ws, now=now)
        ids = {"park": park.id or 0, "acme": ent.id or 0, "ws": ws.id or 0,
               "a": team.id or 0}
    d = bot.driver
    people = {name: d.user(name) for name in ("Worker Wu", "Leader Li", "Officer Zhao",
                                              "Manager Qian", "Inspector Sun")}
    await grant(bot, people["Leader Li"], ids["a"], Role.TEAM_LEADER)
    await grant(bot, people["Officer Zhao"], ids["ws"], Role.SAFETY_OFFICER)
    await grant(bot, people["Manager Qian"], ids["acme"], Role.MANAGER)
    await grant(bot, people["Inspector Sun"], ids["park"], Role.SAFETY_OFFICER)
    for name in ("Leader Li", "Officer Zhao", "Manager Qian"):
        people[name].start_bot()
    group = d.group("合成甲班", members=[people["Worker Wu"], people["Leader Li"]],
                    admins=[people["Leader Li"]])
    await bind(bot, group, people["Leader Li"])
    return ids, people, group


def texts(messages) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text or m.caption or "" for m in messages if not m.deleted]


def reports(chat) -> list:  # type: ignore[no-untyped-def]
    """The announcements of an incident in a chat (the texts, not the photo)."""
    return [m for m in chat.bot_messages() if "🚨🚨 事故快报 SG-" in (m.text or "")]


async def answer(bot: BotUnderTest, person, chat, text: str) -> None:  # type: ignore[no-untyped-def]
    """Reply to the bot's latest message in the chat, as privacy mode needs in a group."""
    person.send(chat, text, reply_to=chat.bot_messages()[-1])
    await bot.settle()


async def incidents(bot: BotUnderTest) -> list[Incident]:
    async with bot.services.db.session() as s:
        return list((await s.exec(select(Incident))).all())


async def test_reported_followed_up_and_closed_reaching_every_level_at_once(
        bot: BotUnderTest) -> None:
    _, people, group = await make_plant(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager, inspector = (people["Officer Zhao"], people["Manager Qian"],
                                   people["Inspector Sun"])
    private_before = {p.name: len(d.private_messages(p)) for p in (officer, manager)}

    worker.send(group, "/incident")  # anyone in the team
    await bot.settle()
    assert "发生了什么" in last_text(group)
    await answer(bot, worker, group, "3号反应釜出料管法兰泄漏，一名操作工被蒸汽烫伤")
    await answer(bot, worker, group, "合成车间二楼")
    await answer(bot, worker, group, "25:99")  # not a time: asked again
    assert "不能使用" in last_text(group)
    await answer(bot, worker, group, "08:10")
    for absurd, why in (("5000", "不合常理"), ("-2", "负数"), ("很多", "不是一个数字")):
        await answer(bot, worker, group, absurd)
        assert why in last_text(group) and "什么都没有发出" in last_text(group)
    # Refused clearly, and nothing was sent or stored.
    assert await incidents(bot) == []
    assert {p.name: len(d.private_messages(p)) for p in (officer, manager)} == private_before
    await answer(bot, worker, group, "1")
    worker.click(group.bot_messages()[-1], "轻伤")
    await bot.settle()
    await answer(bot, worker, group, "已关闭进料阀，伤员送厂医务室冲洗")
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    confirm = group.bot_messages()[-1]
    assert "请核对事故快报" in confirm.text and "照片：有" in confirm.text
    await bot.restart()  # the report in progress is a row: nothing is lost
    worker.click(confirm, REPORT_NOW)
    await bot.settle()

    [incident] = await incidents(bot)
    assert incident.code and incident.code.startswith("SG-20261123-")
    assert (incident.injured, incident.injury, incident.state) == (1, Injury.MINOR,
                                                                    IncidentState.OPEN)
    assert incident.occurred_at == bot.clock.now() - timedelta(minutes=20)
    [posted] = reports(group)
    assert "🚨🚨" in posted.text and "1 人受伤（轻伤）" in posted.text
    assert "合成车间二楼" in posted.text and "Worker Wu" in posted.text
    assert posted.buttons == [[HURT, CONTROLLED], [NOTE, CLOSE]]
    assert any(m.photo and incident.code in (m.caption or "") for m in group.bot_messages())
    # The park's inspector never pressed Start: mentioned in the team group instead.
    assert "Inspector Sun" in posted.text and any(
        e["type"] == "text_mention" and e["user"]["id"] == inspector.id for e in posted.entities)
    for above in (officer, manager):  # privately, at once: no delay level
        [told] = reports(d.private_chat(above))
        assert incident.code in told.text and "被蒸汽烫伤" in told.text
        assert told.buttons == [[HURT, CONTROLLED], [NOTE, CLOSE]]
    [sent] = [t for t in texts(group.bot_messages()) if "已发出" in t]
    assert "合成车间、示例化工、化工园区安监办" in sent

    # A worker may not follow up.
    cq = worker.click(posted, CONTROLLED)
    await bot.settle()
    assert "只有本班组的班组长" in (d.callback_answer(cq) or {}).get("text", "")

    # The leader: the casualty count changed.
    leader.click(posted, HURT)
    await bot.settle()
    assert "目前记录 1 人受伤" in last_text(group)
    await answer(bot, leader, group, "2001")  # absurd here too
    assert "不合常理" in last_text(group)
    await answer(bot, leader, group, "2")
    leader.click(group.bot_messages()[-1], "重伤")
    await bot.settle()
    for chat in (group, d.private_chat(officer), d.private_chat(manager)):
        update = [t for t in texts(chat.bot_messages()) if "事故续报" in t]
        assert update and "伤亡情况有变化" in update[-1] and "2 人受伤（重伤）" in update[-1]

    # The workshop's officer, privately: under control. The manager a moment later: told.
    officer_report = reports(d.private_chat(officer))[0]
    cq = officer.click(officer_report, CONTROLLED)
    await bot.settle()
    assert "已通报各级" in (d.callback_answer(cq) or {}).get("text", "")
    cq = manager.click(reports(d.private_chat(manager))[0], CONTROLLED)
    await bot.settle()
    assert "Officer Zhao 已于" in (d.callback_answer(cq) or {}).get("text", "")
    assert len([t for t in texts(group.bot_messages()) if "现场已得到控制" in t]) == 1

    # A note by the manager, then the officer's final report in private.
    manager.click(reports(d.private_chat(manager))[0], NOTE)
    await bot.settle()
    await answer(bot, manager, d.private_chat(manager), "伤员已转市医院，无生命危险")
    assert any("补充情况：伤员已转市医院" in t for t in texts(group.bot_messages()))
    officer.click(officer_report, CLOSE)
    await bot.settle()
    ask = d.private_chat(officer)
    await answer(bot, officer, ask, "法兰垫片老化，未按周期更换")
    await answer(bot, officer, ask, "全面排查同类法兰，垫片纳入月度检查")
    await answer(bot, officer, ask, "检修计划必须落实到台账")
    assert "已结案" in texts(ask.bot_messages())[-1]

    [incident] = await incidents(bot)
    assert incident.state == IncidentState.CLOSED and incident.cause == "法兰垫片老化，未按周期更换"
    for chat in (group, d.private_chat(officer), d.private_chat(manager)):
        [final] = [m for m in chat.bot_messages() if "事故结案报告" in (m.text or "")]
        assert "全面排查同类法兰" in final.text and final.buttons == []
        for line in ("Worker Wu：首报", "Leader Li：伤亡变化", "Officer Zhao：现场已控制",
                     "Manager Qian：补充情况"):
            assert line in final.text
        # Every earlier announcement lost its buttons.
        assert all(m.buttons == [] for m in chat.bot_messages() if "SG-" in (m.text or ""))

    # Late, forged and unknown buttons are answered, never left spinning.
    cq = leader.click_data(posted, f"inc:note:{incident.id}")
    await bot.settle()
    assert "已由 Officer Zhao 于" in (d.callback_answer(cq) or {}).get("text", "")
    for forged in ("inc:ctrl:99999", "inc:boom:1", "icd:inj:deadly", "icd:ok"):
        cq = leader.click_data(posted, forged)
        await bot.settle()
        assert (d.callback_answer(cq) or {}).get("text"), forged

    async with bot.services.db.session() as s:
        events = (await s.exec(select(IncidentEvent).order_by(IncidentEvent.id))).all()
    assert [e.kind for e in events] == [
        IncidentEventKind.REPORTED, IncidentEventKind.CASUALTIES, IncidentEventKind.CONTROLLED,
        IncidentEventKind.NOTE, IncidentEventKind.CLOSED]
    assert all(e.actor_id and e.at for e in events)

    # The ledger has a sheet of incidents.
    ledger = await ledger_service.export_units(
        bot.services.runtime(), ["acme"], since=bot.clock.now() - timedelta(days=1),
        until=bot.clock.now() + timedelta(days=1), lang="zh")
    sheet = load_workbook(io.BytesIO(ledger.data))["事故台账"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1] == incident.code and rows[1][4] == "合成甲班"
    assert "法兰垫片老化" in " ".join(str(v) for v in rows[1]) and len(rows) == 2
    assert ledger.incidents == 1


async def test_private_report_with_defaults_and_a_cancel_that_sends_nothing(
        bot: BotUnderTest) -> None:
    _, people, group = await make_plant(bot)
    d = bot.driver
    leader, officer = people["Leader Li"], people["Officer Zhao"]
    leader.send(group, "到")  # the bot learns that the leader is in the team group
    await bot.settle()
    chat = d.private_chat(leader)
    before = len(d.private_messages(officer))
    group_before = len(group.bot_messages())

    leader.send(chat, "/incident")
    await bot.settle()
    assert "合成甲班" in texts(chat.bot_messages())[-1]
    await answer(bot, leader, chat, "叉车倒车撞到货架")
    await answer(bot, leader, chat, "成品库")
    leader.click(chat.bot_messages()[-1], "刚刚发生")
    await bot.settle()
    await answer(bot, leader, chat, "1001人")
    assert "不合常理" in texts(chat.bot_messages())[-1]
    leader.send(chat, "/cancel")
    await bot.settle()
    assert "没有发出任何内容" in texts(chat.bot_messages())[-1]
    assert await incidents(bot) == [] and len(d.private_messages(officer)) == before
    assert len(group.bot_messages()) == group_before

    leader.send(chat, "/incident")
    await bot.settle()
    await answer(bot, leader, chat, "叉车倒车撞到货架")
    leader.send_location(chat, 31.23, 121.47, reply_to=chat.bot_messages()[-1])
    await bot.settle()
    leader.click(chat.bot_messages()[-1], "刚刚发生")
    await bot.settle()
    await answer(bot, leader, chat, "０")  # full-width zero: nobody hurt, no degree asked
    assert "应急措施" in texts(chat.bot_messages())[-1]
    await answer(bot, leader, chat, "设置警戒线，清点货物")
    leader.click(chat.bot_messages()[-1], "跳过")
    await bot.settle()
    confirm = chat.bot_messages()[-1]
    cq = leader.click(confirm, REPORT_NOW)
    await bot.settle()
    cq2 = leader.click_data(confirm, "icd:ok")  # pressed twice: one report
    await bot.settle()
    assert "已经提交或取消" in (d.callback_answer(cq2) or {}).get("text", "")
    assert d.callback_answer(cq) is not None

    [incident] = await incidents(bot)
    assert incident.injured == 0 and incident.injury == Injury.NONE
    assert incident.occurred_at == bot.clock.now() and incident.place == "31.23000, 121.47000"
    [posted] = reports(group)
    assert "无人员受伤" in posted.text and "Leader Li" in posted.text
    assert not any(m.photo for m in group.bot_messages())
    assert len(reports(d.private_chat(officer))) == 1
    async with bot.services.db.session() as s:
        sent = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "incident.reported"))).all()
    # The team group, the officer and the manager; the inspector is mentioned in the group.
    assert len(sent) == 3
