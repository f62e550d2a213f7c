"""交接班: handing over a shift, accepting it, and what happens when nobody does."""

from __future__ import annotations

import json
from datetime import timedelta

from domain.org import Role
from storage import org as org_repo
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import grant, last_text
from tests.integration.test_hazards import read_sheet, report, setup_plant


async def hand_over(bot: BotUnderTest, leader, group, answers, incoming: str) -> None:  # type: ignore[no-untyped-def]
    leader.send(group, "/handover")
    await bot.settle()
    for answer in answers:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    leader.click(group.bot_messages()[-1], incoming)
    await bot.settle()


ANSWERS = ["2号泵轴承有异响，已降负荷运行", "罐区巡检做到一半",
           "<b>动火作业</b>票已到期，明天重新办理",
           "确认", "无"]


async def test_hand_over_and_accept(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    incoming = d.user("Leader Sun")
    await grant(bot, incoming, ids["a"], Role.TEAM_LEADER)
    await report(bot, worker, group, description=None)

    worker.send(group, "/handover")
    await bot.settle()
    assert "只有本班组的班组长" in last_text(group)

    leader.send(group, "/handover")
    await bot.settle()
    for answer in ANSWERS[:3]:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    assert "YH-20261123-0001" in last_text(group)  # the open hazards are listed for them
    for answer in ANSWERS[3:]:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    assert group.bot_messages()[-1].buttons == [["Leader Sun"], ["任一班组长"]]
    leader.click(group.bot_messages()[-1], "Leader Sun")
    await bot.settle()
    posted = group.bot_messages()[-1]
    assert "交班：Leader Li" in posted.text and "接班：Leader Sun" in posted.text
    assert "<b>动火作业</b>票已到期" in posted.text and "YH-20261123-0001" in posted.text

    cq = leader.click(posted, "接班确认")
    await bot.settle()
    assert "不能确认自己的交接班" in (d.callback_answer(cq) or {}).get("text", "")
    cq = worker.click(posted, "接班确认")
    await bot.settle()
    assert "只有接班的班组长" in (d.callback_answer(cq) or {}).get("text", "")
    officer = people["Officer Zhao"]  # the workshop's officer is not taking over the shift
    cq = officer.click(posted, "接班确认")
    await bot.settle()
    assert "只有接班的班组长" in (d.callback_answer(cq) or {}).get("text", "")
    incoming.click(posted, "接班确认")
    await bot.settle()
    assert "Leader Sun 已于" in last_text(group) and "确认接班" in last_text(group)
    assert posted.buttons == []  # accepted: the button is gone
    cq = incoming.click_data(posted, "hov:acc:1")  # twice (an old client): nothing more
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert")
    assert "已由 Leader Sun 于" in (d.callback_answer(cq) or {}).get("text", "")

    bot.clock.advance(timedelta(hours=3))
    await bot.run_sweeps()  # accepted: no reminder, no escalation
    assert "确认接班" in last_text(group)
    worker.send(group, "/handovers")
    await bot.settle()
    assert "Leader Li → Leader Sun" in last_text(group) and "接班" in last_text(group)

    # the handover is in the ledger export (交接班记录), with who accepted it and when
    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    assert "交接班 1 次" in (sent.caption or "")
    [row] = read_sheet(bot.server.world.files[sent.document["file_id"]].content, "交接班记录")
    assert row["交班人"] == "Leader Li" and row["接班人"] == "Leader Sun"
    assert row["确认人"] == "Leader Sun" and row["状态"] == "已接班" and row["接班确认时间"]
    assert row["设备状况"] == ANSWERS[0] and row["安全注意事项"] == ANSWERS[2]
    assert "YH-20261123-0001" in str(row["未关闭隐患"]) and row["班组"] == "合成甲班"


async def test_an_unaccepted_handover_reminds_then_reaches_the_workshop(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    leader, officer = people["Leader Li"], people["Officer Zhao"]
    d = bot.driver
    await hand_over(bot, leader, group, ANSWERS, "任一班组长")
    assert "接班：任一班组长" in last_text(group)

    bot.clock.advance(timedelta(minutes=29))
    await bot.run_sweeps()
    assert "请接班人点" in last_text(group)  # nothing yet
    bot.clock.advance(timedelta(minutes=1))
    await bot.restart()  # a restart in between changes nothing
    await bot.run_sweeps()
    await bot.run_sweeps()
    reminders = [m for m in group.bot_messages() if "还没有人确认接班" in (m.text or "")]
    assert len(reminders) == 1
    assert not [m for m in d.private_messages(officer) if "🔺" in m.text]

    bot.clock.advance(timedelta(hours=1, minutes=30))  # two hours after the handover
    await bot.run_sweeps()
    await bot.run_sweeps()
    alerts = [m for m in d.private_messages(officer) if "🔺" in m.text]
    assert len(alerts) == 1 and "超过 2h 仍无人接班确认" in alerts[0].text


async def test_a_post_refused_with_429_is_retried_and_the_reminder_can_be_accepted(
        bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    leader, d = people["Leader Li"], bot.driver
    sun = d.user("Leader Sun")
    await grant(bot, sun, ids["a"], Role.TEAM_LEADER)
    leader.send(group, "/handover")
    await bot.settle()
    for answer in ANSWERS:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    bot.server.faults.add(method="sendMessage", retry_after=3, times=1)  # a busy group
    leader.click(group.bot_messages()[-1], "Leader Sun")
    await bot.settle()
    assert not [m for m in group.bot_messages() if m.buttons == [["接班确认"]]]
    bot.clock.advance(timedelta(seconds=3))  # retry_after honoured, then the post goes out
    await bot.drain_outbox()
    posts = [m for m in group.bot_messages() if m.buttons == [["接班确认"]]]
    assert len(posts) == 1 and "接班：Leader Sun" in posts[0].text

    bot.clock.advance(timedelta(minutes=30))
    await bot.run_sweeps()
    reminder = group.bot_messages()[-1]
    # One sentence to the incoming leader: the mention is not read as a second name.
    assert reminder.text.startswith("⏰ Leader Sun：Leader Li 交给你的交接班还没有确认")
    assert reminder.buttons == [["接班确认"]]
    sun.click(reminder, "接班确认")  # the reminder's button works as the post's does
    await bot.settle()
    assert "Leader Sun 已于" in last_text(group)
    # accepted: neither the post nor the reminder keeps its button
    assert posts[0].buttons == [] and reminder.buttons == []


async def test_the_schedules_leader_of_the_next_shift_is_offered_first(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30
    leader, worker = people["Leader Li"], people["Worker Wu"]
    d = bot.driver
    zhou, sun = d.user("Leader Zhou"), d.user("Leader Sun")
    for other in (zhou, sun):  # granted in this order: Sun would come second
        await grant(bot, other, ids["a"], Role.TEAM_LEADER)
    async with bot.services.db.transaction() as s:
        unit = await org_repo.get_unit_by_key(s, "team-a")
        assert unit is not None
        unit.extra_json = json.dumps({"shifts": {"shifts": [
            {"name": "夜班", "start": "00:00", "end": "09:00", "leader": leader.id},
            {"name": "早班", "start": "09:00", "end": "17:00", "leader": sun.id}]}},
            ensure_ascii=False)
        s.add(unit)

    worker.send(group, "/shifts")
    await bot.settle()
    assert "早班 09:00–17:00" in last_text(group) and "带班：Leader Sun" in last_text(group)
    leader.send(group, "/handover")  # the night shift's leader hands over to the day shift
    await bot.settle()
    for answer in ANSWERS:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    ask = group.bot_messages()[-1]
    assert "按排班，下一班（早班）由 Leader Sun 带班" in ask.text
    assert ask.buttons == [["Leader Sun"], ["Leader Zhou"], ["任一班组长"]]
    leader.click(ask, "Leader Sun")
    await bot.settle()
    assert "接班：Leader Sun" in last_text(group)


async def test_an_accepted_handover_loses_its_button_and_a_late_press_says_who_and_when(
        bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    leader, d = people["Leader Li"], bot.driver
    sun, zhou = d.user("Leader Sun"), d.user("Leader Zhou")
    for other in (sun, zhou):
        await grant(bot, other, ids["a"], Role.TEAM_LEADER)
    await hand_over(bot, leader, group, ANSWERS, "任一班组长")
    [post] = [m for m in group.bot_messages() if m.buttons == [["接班确认"]]]
    bot.clock.advance(timedelta(minutes=30))  # 09:00: the reminder, with the button too
    await bot.run_sweeps()
    reminder = group.bot_messages()[-1]
    assert "还没有人确认接班" in reminder.text and reminder.buttons == [["接班确认"]]

    bot.clock.advance(timedelta(minutes=2))  # 09:02
    sun.click(post, "接班确认")
    await bot.settle()
    assert "Leader Sun 已于" in last_text(group)
    assert post.buttons == [] and reminder.buttons == []  # both edited: no button left
    # a second leader whose client still shows the old button
    for message in (post, reminder):
        cq = zhou.click_data(message, "hov:acc:1")
        await bot.settle()
        answer = d.callback_answer(cq) or {}
        assert "已由 Leader Sun 于" in answer.get("text", "") and "09:02" in answer["text"]
        assert "失效" not in answer["text"]
    bot.clock.advance(timedelta(hours=3))
    await bot.run_sweeps()  # accepted: no reminder comes back with a button
    assert [m for m in group.bot_messages() if m.buttons == [["接班确认"]]] == []


async def test_a_reminder_still_queued_when_the_handover_is_accepted_goes_without_its_button(
        bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    leader, d = people["Leader Li"], bot.driver
    sun = d.user("Leader Sun")
    await grant(bot, sun, ids["a"], Role.TEAM_LEADER)
    await hand_over(bot, leader, group, ANSWERS, "Leader Sun")
    [post] = [m for m in group.bot_messages() if m.buttons == [["接班确认"]]]
    bot.server.faults.add(method="sendMessage", retry_after=5, times=1)  # a busy group
    bot.clock.advance(timedelta(minutes=30))
    await bot.run_sweeps()  # the reminder is queued, and waits
    assert not [m for m in group.bot_messages() if "交接班还没有" in (m.text or "")]
    sun.click(post, "接班确认")
    await bot.settle()
    bot.clock.advance(timedelta(seconds=5))
    await bot.drain_outbox()
    [reminder] = [m for m in group.bot_messages() if "交接班还没有" in (m.text or "")]
    assert reminder.buttons == [] and post.buttons == []
