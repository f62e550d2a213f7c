"""Issue 4's "done when": a document, a briefing, a meeting and two handovers, over four days.

Run once with the bot up throughout and once restarted between every step: the
same messages, each exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.org import Role
from tests.integration.conftest import BotUnderTest
from tests.integration.test_documents import HOT_WORK, plant_with_two_teams, publish_from_library
from tests.integration.test_documents import roll_call as roll_call_of
from tests.integration.test_groups import grant, last_text
from tests.integration.test_handover import ANSWERS, hand_over
from tests.integration.test_hazards import report
from tests.integration.test_meetings import briefings, give_schedule


@pytest.mark.parametrize("restarts", [False, True], ids=["running", "restarted-each-step"])
async def test_a_document_a_briefing_a_meeting_and_two_handovers(bot: BotUnderTest,
                                                                 restarts: bool) -> None:
    async def step() -> None:
        if restarts:
            await bot.restart()

    async def later(delta: timedelta) -> None:
        bot.clock.advance(delta)
        await step()
        await bot.run_sweeps()
        await bot.run_sweeps()  # a second sweep must change nothing

    def count(chat: Any, text: str) -> int:
        return sum(text in (m.text or "") for m in chat)

    ids, people, group_a, group_b = await plant_with_two_teams(bot)  # Monday 08:30, Shanghai
    d = bot.driver
    manager, officer = people["Manager Qian"], people["Officer Zhao"]
    wu, li, zhou = people["Worker Wu"], people["Leader Li"], people["Worker Zhou"]
    ding = d.user("Leader Ding")
    await grant(bot, ding, ids["a"], Role.TEAM_LEADER)
    group_a.add_member(ding)
    li.start_bot()
    await give_schedule(bot, "team-a")  # 早班 09:00–17:00, briefing 15 minutes before
    await report(bot, wu, group_a, description=None)  # an open hazard: YH-20261123-0001
    await step()

    # A document is published to the workshop; both teams get it.
    await publish_from_library(bot, manager, HOT_WORK, ["　合成车间"])
    await step()
    assert "已阅 0/3" in roll_call_of(group_a).text and "已阅 0/2" in roll_call_of(group_b).text

    # Members acknowledge.
    for person, group in ((wu, group_a), (li, group_a), (ding, group_a),
                          (people["Worker Ma"], group_b), (people["Leader Sun"], group_b)):
        person.click(roll_call_of(group), "已阅并理解")
        await bot.settle()
    await later(timedelta(seconds=11))
    assert "已阅 3/3 ✅ 全员已阅" in roll_call_of(group_a).text
    assert "已阅 2/2 ✅ 全员已阅" in roll_call_of(group_b).text

    # A late member joins team A and is asked to read it, by mention (no Start).
    group_a.add_member(zhou)
    await bot.settle()
    await later(timedelta(minutes=1))
    assert count(group_a.bot_messages(), "Worker Zhou，合成甲班 有一份需要你阅读的文件") == 1
    await later(timedelta(seconds=11))
    assert "已阅 3/4" in roll_call_of(group_a).text

    # Tuesday 08:31: the reminder round — Zhou mentioned again, the leader gets the list.
    await later(timedelta(hours=23, minutes=59))
    assert count(group_a.bot_messages(), "以下同事还没有确认《动火作业安全管理规定》") == 1
    assert count(d.private_messages(li), "未确认：Worker Zhou") == 1

    # Tuesday 08:45: the briefing lists the unread document and the open hazard.
    await later(timedelta(minutes=15))
    [briefing] = briefings(group_a)  # Monday's fell long before: never sent late
    assert "未读文件：《动火作业安全管理规定》1 人未读" in briefing.text
    assert "YH-20261123-0001" in briefing.text

    # Workers check in; the leader closes the meeting.
    for person in (wu, zhou):
        person.click(briefing, "签到")
        await bot.settle()
    await step()
    li.click(briefing, "会已开")
    await bot.settle()
    assert "班前会已开" in briefing.text and "Worker Wu、Worker Zhou" in briefing.text

    # 17:00: the shift ends; the outgoing leader hands over to Ding, who accepts.
    await later(timedelta(hours=8, minutes=15))
    prompt = group_a.bot_messages()[-1]
    assert "班后总结" in prompt.text
    li.click(prompt, "开始交接班")
    await bot.settle()
    for index, answer in enumerate(ANSWERS):
        li.send(group_a, answer, reply_to=group_a.bot_messages()[-1])
        await bot.settle()
        if index == 2:
            await step()  # a restart in the middle of the handover loses nothing
    li.click(group_a.bot_messages()[-1], "Leader Ding")
    await bot.settle()
    posted = group_a.bot_messages()[-1]
    assert "接班：Leader Ding" in posted.text
    await step()
    ding.click(posted, "接班确认")
    await bot.settle()
    assert "Leader Ding 已于" in last_text(group_a)

    # Another handover is left unaccepted: reminder at 30 minutes, workshop at two hours.
    await hand_over(bot, li, group_a, ANSWERS, "任一班组长")
    await later(timedelta(minutes=30))
    assert count(group_a.bot_messages(), "还没有人确认接班") == 1
    await later(timedelta(hours=1, minutes=30))
    assert count(d.private_messages(officer), "超过 2h 仍无人接班确认") == 1

    # Thursday 08:31, the due date: Zhou never confirmed; the workshop gets the name, once.
    await later(timedelta(days=1, hours=13, minutes=31))
    overdue = [m.text for m in d.private_messages(officer) if "到期，仍有" in m.text]
    assert len(overdue) == 1 and "合成甲班" in overdue[0] and "Worker Zhou" in overdue[0]
    assert not [m for m in d.private_messages(officer) if "合成乙班" in m.text]
