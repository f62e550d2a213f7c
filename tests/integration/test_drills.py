"""预案演练: schedule, reminders as time moves, the roll call, findings, the record, the rules."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from bot.cli import main
from domain.drills import DrillType
from services import drills as drill_service
from storage.models import DrillLapse, TrainingRecord
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import read_sheet, setup_plant

HERE, FINDINGS = "✅ 到场签到", "📝 记录演练总结（班组长）"


def texts(chat, marker: str) -> list:  # type: ignore[no-untyped-def]
    return [m for m in chat.bot_messages() if marker in (m.text or "")]


async def test_schedule_remind_attend_record_findings(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 2026-11-23 08:30 in Shanghai
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    sun = d.user("Worker Sun")
    group.add_member(sun)
    for someone in (worker, leader, sun):
        someone.start_bot()
        someone.send(group, "到")  # the bot learns who is in the team
    await bot.settle()

    # A worker may not schedule, in private or in the group: one sentence.
    worker.send(d.private_chat(worker), "/drill")
    await bot.settle()
    assert d.private_messages(worker)[-1].text == \
        "只有班组长（本班组）、安全员和负责人（本单位及以下）可以安排应急演练。"
    worker.send(group, "/drill onsite 2026-11-24 09:00 team-a 着火")
    await bot.settle()
    assert "可以安排应急演练" in last_text(group)

    # The leader schedules step by step in a private chat (one team: no unit question).
    chat = d.private_chat(leader)
    leader.send(chat, "/drill")
    await bot.settle()
    menu = d.private_messages(leader)[-1]
    assert menu.buttons == [["现场处置演练"], ["专项应急演练"], ["综合应急演练"], ["取消"]]
    leader.click(menu, "现场处置演练")
    await bot.settle()
    assert "演练时间" in d.private_messages(leader)[-1].text
    leader.send(chat, "2026-11-23 08:00", reply_to=d.private_messages(leader)[-1])
    await bot.settle()
    assert d.private_messages(leader)[-1].text == "演练时间必须在将来。"
    leader.send(chat, "2026-11-24 09:00 90m", reply_to=d.private_messages(leader)[-1])
    await bot.settle()
    leader.send(chat, "3号罐区氨气泄漏，一人中毒倒地", reply_to=d.private_messages(leader)[-1])
    await bot.settle()
    preview = d.private_messages(leader)[-1]
    assert "类型：现场处置演练" in preview.text and "约 90 分钟" in preview.text
    assert "参加：合成甲班" in preview.text
    leader.click(preview, "✅ 确认安排")
    await bot.settle()
    assert d.private_messages(leader)[-1].text.startswith("✅ 演练 #1 已安排：现场处置演练")
    [announce] = texts(group, "应急演练通知")
    assert "3号罐区氨气泄漏" in announce.text and "2026" in announce.text
    cq = leader.click(preview, "✅ 确认安排")  # pressed twice: one drill
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "这个按钮已失效，请重新发送命令。"
    assert len(texts(group, "应急演练通知")) == 1

    # Reminders: the day before and an hour before, each once.
    bot.clock.advance(timedelta(minutes=29))  # 08:59 the day before
    await bot.run_sweeps()
    assert texts(group, "演练提醒") == []
    bot.clock.advance(timedelta(minutes=1))  # 09:00: one day before
    await bot.run_sweeps()
    await bot.run_sweeps()
    assert len(texts(group, "演练提醒")) == 1
    bot.clock.advance(timedelta(hours=23))  # 08:00 on the day: an hour before
    await bot.run_sweeps()
    assert len(texts(group, "演练提醒")) == 2
    assert texts(group, "演练开始") == []

    # The start: a post with the buttons; taps build the roll call in place.
    bot.clock.advance(timedelta(hours=1))
    await bot.run_sweeps()
    [post] = texts(group, "演练开始")
    assert post.buttons == [[HERE], [FINDINGS]] and "已到场（0/3）：暂无" in post.text
    cq = worker.click(post, HERE)
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已签到：本次演练已记入你的培训档案",
                                     "show_alert": False}
    assert "已到场（1/3）：Worker Wu" in post.text
    cq = worker.click(post, HERE)  # twice: once
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "你已经签到过了"
    sun.click(post, HERE)
    await bot.settle()
    stranger = d.user("Passer-by Feng")
    cq = stranger.click(post, HERE)
    await bot.settle()
    assert "只有参加本次演练的班组成员" in d.callback_answer(cq)["text"]
    cq = worker.click_data(post, "dr:here:999")  # forged: no such drill
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "这个按钮已失效，请重新发送命令。"
    cq = worker.click_data(post, "dr:here:abc")  # not even a button of ours
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "这个按钮已失效，请重新发送命令。"
    cq = worker.click(post, FINDINGS)  # a worker does not record findings
    await bot.settle()
    assert "只有安排演练的人" in d.callback_answer(cq)["text"]
    bot.clock.advance(timedelta(seconds=10))  # the throttle's window: the last state shows
    await bot.run_sweeps()
    assert "已到场（2/3）：Worker Wu、Worker Sun" in post.text

    # Afterwards the leader records the findings by reply in the group; the drill closes.
    bot.clock.advance(timedelta(minutes=90))
    await bot.run_sweeps()
    leader.click(post, FINDINGS)
    await bot.settle()
    assert "（1/3）" in last_text(group)
    for answer in ("疏散路线清楚，3分钟集合完毕", "对讲机电量不足", "每班检查对讲机电量"):
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    [findings] = texts(group, "演练总结")
    assert "到场 2 人，缺席 1 人" in findings.text and "每班检查对讲机电量" in findings.text
    assert "演练已结束，总结由 Leader Li 记录" in post.text and post.buttons == []
    cq = leader.click_data(post, "dr:here:1")  # the old button, too late
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "这次演练已经结束并记录了总结。"

    # The record: attended and absent rows, in /myrecord and the team's XLSX.
    async with bot.services.db.session() as s:
        rows = (await s.exec(select(TrainingRecord).where(
            TrainingRecord.kind == "drill"))).all()
    assert sorted(r.result for r in rows) == ["absent", "attended", "attended"]
    worker.send(d.private_chat(worker), "/myrecord")
    await bot.settle()
    record = d.private_messages(worker)[-1].text
    assert "应急演练：现场处置演练 #1 · 3号罐区氨气泄漏" in record and "已参加" in record
    leader.send(chat, "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    sheet = read_sheet(bot.server.world.files[sent.document["file_id"]].content, "安全培训档案")
    drills = {(r["姓名"], r["结果"]) for r in sheet if r["类别"] == "应急演练"}
    assert drills == {("Worker Wu", "已参加"), ("Worker Sun", "已参加"), ("Leader Li", "缺席")}

    # /drills in the group: the drill, and when the next on-site drill is due.
    worker.send(group, "/drills")
    await bot.settle()
    listed = last_text(group)
    assert "上次 2026-11-24，须在 2027-05-24 前完成" in listed
    assert "#1 现场处置演练" in listed and "已总结" in listed


async def test_one_line_schedule_cli_and_rights(bot: BotUnderTest,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _, people, group = await setup_plant(bot)
    d = bot.driver
    leader, officer = people["Leader Li"], people["Officer Zhao"]
    leader.start_bot()
    # A team leader schedules in one line for their own team, not for the other one.
    leader.send(d.private_chat(leader), "/drill 现场处置 2026-11-25 14:00 team-b 火灾")
    await bot.settle()
    assert d.private_messages(leader)[-1].text == \
        "你不能为 合成乙班 安排演练：只能安排你负责的单位。"
    leader.send(d.private_chat(leader), "/drill 演习 2026-11-25 14:00 team-a 火灾")
    await bot.settle()
    assert "演练类型请写" in d.private_messages(leader)[-2].text
    assert d.private_messages(leader)[-1].text.startswith("用法：/drill")
    # The workshop's officer schedules a special drill for the whole workshop.
    officer.send(d.private_chat(officer), "/drill 专项 2026-11-25 14:00 2h ws 液氨泄漏专项演练")
    await bot.settle()
    done = d.private_messages(officer)[-1].text
    assert done.startswith("✅ 演练 #1 已安排：专项应急演练") and "合成甲班、合成乙班" in done
    assert "以下班组还没有绑定群" in done and "合成乙班" in done.split("绑定群")[1]
    assert len(texts(group, "应急演练通知")) == 1
    # Step by step, the officer is asked which units: a tap, or keys by reply.
    chat = d.private_chat(officer)
    officer.send(chat, "/drill")
    await bot.settle()
    officer.click(d.private_messages(officer)[-1], "综合应急演练")
    await bot.settle()
    units = d.private_messages(officer)[-1]
    assert units.buttons == [["合成车间 (ws)"], ["合成甲班 (team-a)"], ["合成乙班 (team-b)"]]
    officer.send(chat, "team-a, team-x")
    await bot.settle()
    assert d.private_messages(officer)[-1].text == "没有代码为 team-x 的单位。"
    officer.send(chat, "team-a，team-b")
    await bot.settle()
    officer.send(chat, "2026-11-26 15:00 abc")  # a word that is not a duration
    await bot.settle()
    assert d.private_messages(officer)[-1].text.startswith("时间请写成")
    officer.send(chat, "2026-11-26 15:00")
    await bot.settle()
    officer.send(chat, "/cancel")
    await bot.settle()
    assert d.private_messages(officer)[-1].text == "已取消，没有保存任何修改。"
    officer.send(chat, "全厂停电")  # no conversation any more: nothing happens
    await bot.settle()
    assert d.private_messages(officer)[-1].text == "已取消，没有保存任何修改。"

    # The operator, from the command line, through the same service.
    monkeypatch.setenv("DATABASE_URL", bot.db_url)
    monkeypatch.setattr("bot.cli.clock", lambda: bot.clock)
    code = await asyncio.to_thread(main, ["drill", "schedule", "--type", "comprehensive",
                                          "--at", "2026-12-01 10:00", "--unit", "acme",
                                          "--scenario", "全厂停电综合演练"])
    assert code == 0
    await bot.drain_outbox()
    assert "全厂停电综合演练" in texts(group, "应急演练通知")[-1].text
    code = await asyncio.to_thread(main, ["drill", "schedule", "--type", "onsite", "--at",
                                          "2026-12-01 10:00", "--unit", "nowhere",
                                          "--scenario", "x"])
    assert code == 2


async def test_a_team_without_a_drill_for_six_months_escalates_once(bot: BotUnderTest) -> None:
    _, people, _ = await setup_plant(bot)  # the teams joined on 2026-11-23
    d = bot.driver
    manager, leader = people["Manager Qian"], people["Leader Li"]
    await bot.run_sweeps()

    def lapses() -> list[str]:
        return [m.text for m in d.private_messages(manager) if "应急演练逾期" in (m.text or "")]

    bot.clock.advance(timedelta(days=181))  # 2027-05-23 08:30: the due day itself
    await bot.run_sweeps()
    assert lapses() == []
    bot.clock.advance(timedelta(days=1))  # behind from 2027-05-24
    await bot.run_sweeps()
    told = lapses()
    assert len(told) == 2 and all("上次：从未，应在 2027-05-23 前完成" in t for t in told)
    assert {t.split("：")[1].split("\n")[0] for t in told} == {"合成甲班", "合成乙班"}
    assert [m for m in d.private_messages(leader) if "应急演练逾期" in m.text] == []
    bot.clock.advance(timedelta(hours=1))
    await bot.run_sweeps()
    await bot.restart()  # rebuilt from the database: still once
    bot.clock.advance(timedelta(days=1))
    await bot.run_sweeps()
    assert len(lapses()) == 2
    async with bot.services.db.session() as s:
        assert len((await s.exec(select(DrillLapse))).all()) == 2

    # Team A drills on site (findings recorded): its lapse is over and the next one is
    # six months after the drill; the enterprise's yearly rule wants a bigger drill.
    rt = bot.services.runtime()
    done = await drill_service.schedule(
        rt, None, kind=DrillType.ONSITE, starts_at=bot.clock.now() + timedelta(hours=1),
        duration=timedelta(hours=1), unit_keys=["team-a"], scenario="配电室着火")
    bot.clock.advance(timedelta(hours=3))  # 2027-05-25 12:30
    await bot.run_sweeps()
    closed = await drill_service.record_findings(rt, None, done.values["number"],
                                                 went_well="快", problems="无", measures="续")
    assert closed.ok
    bot.clock.advance(timedelta(days=182))  # 2027-11-23: the enterprise's year is over
    await bot.run_sweeps()
    assert len(lapses()) == 2  # team B was told already, team A is not behind
    bot.clock.advance(timedelta(days=1))  # 2027-11-24 (and 2027-11-25 for team A is next)
    await bot.run_sweeps()
    told = lapses()
    assert len(told) == 3 and "示例化工" in told[-1] and "综合或专项演练" in told[-1]
    bot.clock.advance(timedelta(days=2))  # team A: due 2027-11-25, behind from the 26th
    await bot.run_sweeps()
    told = lapses()
    assert len(told) == 4 and "合成甲班" in told[-1] and "上次：2027-05-25" in told[-1]
