"""Issue 13, done when: a team's training week as its people live it, through the test server.

A newcomer joins and is briefed on the cards of their post; the daily quiz poll;
a private quiz across a restart; a drill scheduled, attended and summed up; a stop-work
alert with its roll call; and the newcomer's /myrecord and the team's XLSX show it all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from storage.models import Person, TrainingRecord
from tests.integration.conftest import BotUnderTest
from tests.integration.test_hazards import read_sheet, setup_plant
from tests.integration.test_meetings import briefings, give_schedule
from tests.integration.test_quizzes import asked, pick, polls

NOT_BRIEFED = "尚未完成岗位风险告知"
CARD_ANSWERS = ("办理动火作业票并检测可燃气体", "检查现场并守候30分钟确认无火种", "先切断电源")
HERE, FINDINGS = "✅ 到场签到", "📝 记录演练总结（班组长）"
SAFE = "✅ 我已安全撤离"


def with_text(messages: list[Any], marker: str) -> list[Any]:
    return [m for m in messages if marker in (m.text or "")]


async def records_of(bot: BotUnderTest, username: str) -> list[TrainingRecord]:
    async with bot.services.db.session() as s:
        person = (await s.exec(select(Person).where(Person.username == username))).one()
        return list((await s.exec(select(TrainingRecord).where(
            TrainingRecord.person_id == person.id))).all())


async def test_a_newcomers_training_from_joining_to_the_teams_ledger(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 2026-11-23 08:30 in Shanghai
    d = bot.driver
    worker, leader, manager = people["Worker Wu"], people["Leader Li"], people["Manager Qian"]
    await give_schedule(bot, "team-a")  # 早班 09:00, briefing at 08:45
    for someone in (worker, leader):
        someone.start_bot()
        someone.send(group, "到")  # the bot learns who is in the team
    ning = d.user("New Ning", username="ning")
    ning.start_bot()
    ning_chat = d.private_chat(ning)
    await bot.settle()

    # 入职: the leader adds New Ning to the group; the leader hears "not briefed".
    group.add_member(ning, by=leader)
    await bot.settle()
    [told] = with_text(d.private_messages(leader), NOT_BRIEFED)
    assert "New Ning" in told.text

    # 08:45: the pre-shift briefing lists him; he checks in.
    bot.clock.advance(timedelta(minutes=15))
    await bot.run_sweeps()
    [briefing] = briefings(group)
    assert f"{NOT_BRIEFED}：New Ning" in briefing.text
    ning.click(briefing, "签到")
    await bot.settle()
    leader.click(briefing, "会已开")
    await bot.settle()

    # The leader gives him his post; the four cards arrive privately, each confirmed.
    bot.clock.advance(timedelta(minutes=1))
    leader.send(group, "/post @ning 电焊工")
    await bot.settle()
    for number in range(1, 5):
        card = d.private_messages(ning)[-1]
        assert f"第 {number}/4 张卡" in card.text
        ning.click(card, "✅ 本卡已阅读并理解")
        await bot.settle()
    # The card quiz: answered right, he is briefed; the leader hears it.
    for answer in CARD_ANSWERS:
        ning.click(d.private_messages(ning)[-1], answer)
        await bot.settle()
    assert "你已完成电焊工岗位告知" in d.private_messages(ning)[-1].text
    assert with_text(d.private_messages(leader), "New Ning 已确认全部电焊工岗位卡")

    # 10:00: the daily quiz poll; three members answer it.
    bot.clock.advance(timedelta(hours=1, minutes=14))
    await bot.run_sweeps()
    [poll_message] = polls(group)
    poll = poll_message.extra["poll"]
    right = poll["correct_option_ids"]  # all the right options (a question may have several)
    wrong = next(i for i in range(len(poll["options"])) if i not in right)
    ning.answer_poll(poll_message, right)
    worker.answer_poll(poll_message, right)
    leader.answer_poll(poll_message, [wrong])
    await bot.settle()
    async with bot.services.db.session() as s:
        polled = (await s.exec(select(TrainingRecord).where(
            TrainingRecord.kind == "quiz"))).all()
    assert sorted(r.result for r in polled) == ["correct", "correct", "wrong"]
    assert all(r.unit_id == ids["a"] for r in polled)

    # A private /quiz; the bot restarts after the second answer; he finishes.
    ning.send(ning_chat, "/quiz")
    await bot.settle()
    message = d.private_messages(ning)[-1]
    for number in range(5):
        if number == 2:
            await bot.restart()
        ning.click(message, pick(asked(message), number != 3))  # the fourth one wrong
        await bot.settle()
        message = d.private_messages(ning)[-1]
    assert "第一轮得分：4/5（80%）" in d.private_messages(ning)[-2].text
    ning.click(message, pick(asked(message), True))  # round two: the missed one, right
    await bot.settle()
    assert d.private_messages(ning)[-1].text == \
        "🏁 测验结束：第一轮 4/5（80%），第二轮答对 1/1。"

    # The leader schedules an on-site drill for Tuesday 14:00 in one line.
    leader_chat = d.private_chat(leader)
    leader.send(leader_chat, "/drill 现场处置 2026-11-24 14:00 90m team-a 2号焊接工位着火")
    await bot.settle()
    assert d.private_messages(leader)[-1].text.startswith("✅ 演练 #1 已安排：现场处置演练")
    [announce] = with_text(group.bot_messages(), "应急演练通知")
    assert "2号焊接工位着火" in announce.text

    # Reminded the day before (Monday 14:00) and an hour before (Tuesday 13:00).
    bot.clock.advance(timedelta(hours=4))  # Monday 14:00
    await bot.run_sweeps()
    assert len(with_text(group.bot_messages(), "演练提醒")) == 1

    # Tuesday 08:45: the briefing no longer lists him.
    bot.clock.advance(timedelta(hours=18, minutes=45))
    await bot.run_sweeps()
    tuesday = briefings(group)[-1]
    assert tuesday is not briefing and NOT_BRIEFED not in tuesday.text
    bot.clock.advance(timedelta(hours=4, minutes=15))  # 13:00
    await bot.run_sweeps()
    assert len(with_text(group.bot_messages(), "演练提醒")) == 2

    # 14:00: the drill starts; the three tap "I am here".
    bot.clock.advance(timedelta(hours=1))
    await bot.run_sweeps()
    [post] = with_text(group.bot_messages(), "演练开始")
    for someone in (ning, worker, leader):
        someone.click(post, HERE)
        await bot.settle()
    bot.clock.advance(timedelta(seconds=10))  # the roll call's throttle window
    await bot.run_sweeps()
    assert "已到场（3/3）" in post.text

    # 15:30: the leader records the findings by reply.
    bot.clock.advance(timedelta(minutes=90))
    await bot.run_sweeps()
    leader.click(post, FINDINGS)
    await bot.settle()
    for answer in ("2分钟内全员撤到集合点", "灭火器压力不足", "每周点检灭火器"):
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    [findings] = with_text(group.bot_messages(), "演练总结")
    assert "到场 3 人，缺席 0 人" in findings.text and "每周点检灭火器" in findings.text

    # 16:00: a real gas leak. The leader orders stop work; the team and the manager hear.
    bot.clock.advance(timedelta(minutes=30))
    leader.send(group, "/evacuate 2号工位乙炔泄漏")
    await bot.settle()
    [alert] = with_text(group.bot_messages(), "停工撤人！")
    assert "2号工位乙炔泄漏" in alert.text and "已安全撤离（0/3）：暂无" in alert.text
    [up] = with_text(d.private_messages(manager), "停工撤人")
    assert "合成甲班" in up.text and "2号工位乙炔泄漏" in up.text
    for someone in (ning, worker, leader):  # everyone taps "I am safe"
        someone.click(alert, SAFE)
        await bot.settle()
    bot.clock.advance(timedelta(seconds=10))
    await bot.run_sweeps()
    assert "已安全撤离（3/3）：New Ning、Worker Wu、Leader Li" in alert.text
    bot.clock.advance(timedelta(minutes=10))  # nobody is missing: nobody is listed
    await bot.run_sweeps()
    assert not with_text(d.private_messages(leader), "仍未报平安")

    # His record, by kind, in the database...
    rows = await records_of(bot, "ning")
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.result)
    assert sorted(by_kind["risk_card"]) == ["acknowledged"] * 4 + ["briefed"] + ["correct"] * 3
    assert sorted(by_kind["quiz"]) == ["correct"] * 6 + ["wrong"]  # 1 poll + 5 + 1 retried
    assert sum("daily poll" in (r.detail or "") for r in rows) == 1
    assert by_kind["drill"] == ["attended"] and by_kind["evacuation"] == ["safe"]
    assert all(r.unit_id == ids["a"] for r in rows)

    # ...and as he sees it with /myrecord: every kind counted, the newest in words.
    ning.send(ning_chat, "/myrecord")
    await bot.settle()
    record = d.private_messages(ning)[-1].text
    assert "共 18 条" in record  # 8 card rows, 7 quiz answers, meeting, drill, evacuation
    assert "答题 7，岗位风险卡 8，班前会 1，应急演练 1，停工撤人 1" in record
    assert "停工撤人：合成甲班 #1 · 2号工位乙炔泄漏 — 已安全撤离" in record
    assert "应急演练：现场处置演练 #1 · 2号焊接工位着火 — 已参加" in record
    assert record.count(" · 每日一题 — 正确") == 1  # the poll, by its topic
    assert record.count(" · 安全知识测验 — ") == 5 and "安全知识测验（第二轮） — 正确" in record
    assert "daily poll" not in record and "round" not in record  # words, not stored keys

    # The leader's XLSX ledger: the training sheet has all of his rows.
    leader.send(leader_chat, "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    sheet = read_sheet(bot.server.world.files[sent.document["file_id"]].content, "安全培训档案")
    his = [r for r in sheet if r["姓名"] == "New Ning"]
    kinds = {str(r["类别"]): 0 for r in his}
    for r in his:
        kinds[str(r["类别"])] += 1
    assert kinds == {"岗位风险卡": 8, "班前会": 1, "答题": 7, "应急演练": 1, "停工撤人": 1}
    assert {(r["类别"], r["结果"]) for r in his} >= {
        ("岗位风险卡", "完成告知"), ("班前会", "已签到"), ("答题", "正确"), ("答题", "错误"),
        ("应急演练", "已参加"), ("停工撤人", "已安全撤离")}
    assert sum(str(r["内容"]).endswith(" · 每日一题") for r in his) == 1
    assert sum(str(r["内容"]).endswith(" · 安全知识测验") for r in his) == 5
    assert {r["姓名"] for r in sheet} == {"New Ning", "Worker Wu", "Leader Li"}
