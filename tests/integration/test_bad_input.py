"""Absurd dates, durations and ids typed or forged by users: a reason, never a crash."""

from __future__ import annotations

from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import hazards, report, setup_plant
from tests.integration.test_shifts import stored_shifts

CRASHED = "出了问题"  # error.generic: what the user saw when a handler raised


async def test_export_with_dates_out_of_range_says_why(bot: BotUnderTest) -> None:
    _, people, _ = await setup_plant(bot)
    leader = people["Leader Li"]
    d = bot.driver
    private = d.private_chat(leader)
    for command, reason in (("/export 2026-01-01 9999-12-31", "9999-12-31 不在"),
                            ("/export 9999-12-31 9999-12-31", "9999-12-31 不在"),
                            ("/export 0001-01-01", "0001-01-01 不在"),
                            ("/export 2026-02-30", "没有 2026-02-30 这一天"),
                            ("/export 2026-11-30 2026-11-01", "开始日期晚于结束日期"),
                            ("/export ２０２６-01-01", "不是日期")):
        leader.send(private, command)
        await bot.settle()
        answer = d.private_messages(leader)[-1].text or ""
        assert CRASHED not in answer and reason in answer, (command, answer)
        assert "/export 2026-11-01 2026-11-30" in answer
    leader.send(private, "/export 2026-11-01 2026-11-30")
    await bot.settle()
    assert d.private_messages(leader)[-1].document is not None


async def test_absurd_five_in_place_deadlines_are_asked_again(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 2026-11-23
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    leader.click(card, "受理")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "填写五落实")
    await bot.settle()
    for answer in ("我", "断电挂牌", "无"):
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    assert "4/5" in last_text(group)
    for answer, reason in (("99999999999d", "最多"), ("9999-12-31", "最多"),
                           ("0001-01-01", "须晚于现在"), ("2026-11-01", "须晚于现在"),
                           ("2026-02-30", "没有 2026-02-30 这一天")):
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
        asked = group.bot_messages()[-1]
        assert CRASHED not in (asked.text or "") and reason in (asked.text or ""), (answer, asked)
        # asked again, by reply, so the conversation goes on with privacy mode on
        assert (asked.reply_markup or {}).get("force_reply") is True
    for answer, expect in (("2026-11-30", "5/5"), ("默认", "五落实已登记")):
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
        assert expect in last_text(group), (answer, last_text(group))
    [hazard] = await hazards(bot)
    assert hazard.deadline is not None and hazard.deadline.isoformat().startswith("2026-11-30")


async def test_a_huge_briefing_lead_is_refused_and_the_leader_may_retry(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    leader = people["Leader Li"]
    leader.send(group, "/shifts")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "修改班次")
    await bot.settle()
    for lead in ("99999999999d", "2d"):
        leader.send(group, f"早班 08:00-16:00\n提前 {lead}", reply_to=group.bot_messages()[-1])
        await bot.settle()
        answer = last_text(group)
        assert CRASHED not in answer and "班次没有修改" in answer and "最多" in answer, answer
        assert await stored_shifts(bot) is None
    leader.send(group, "早班 08:00-16:00\n节假日 9999-12-31", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "班次没有修改" in last_text(group) and "2000-01-01" in last_text(group)
    leader.send(group, "早班 08:00-16:00\n提前 1h", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "班次已保存" in last_text(group)


async def test_forged_callbacks_with_huge_ids_are_refused(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    forged = ["hz:show:" + "9" * 56, "hz:ack:" + "9" * 57, "hz:show:-1", "hz:show:0",
              "hz:show:2147483648", "sh:edit:" + "9" * 56, "hov:acc:" + "9" * 56,
              "pm:in:" + "9" * 58, "doc:ack:" + "9" * 56,
              "setup:p:" + "9" * 56, "setup:u:" + "9" * 56, "hz:show:١", "hz:show:1e3"]
    for data in forged:
        assert len(data.encode()) <= 64
        cq = leader.click_data(card, data)
        await bot.settle()
        answered = d.callback_answer(cq)
        assert answered is not None, (data, "the button must be answered")
        answer = answered.get("text") or ""
        assert CRASHED not in answer and CRASHED not in last_text(group), (data, answer)
        if data.startswith("hz:") and data != "hz:show:0":  # 0 is a number: "not found"
            assert "这个按钮已失效" in answer, (data, answer)
