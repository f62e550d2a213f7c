"""/shifts in chat: leaders set and change the schedule; bad input changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta

from domain.org import Role
from storage import org as org_repo
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import bind, grant, last_text
from tests.integration.test_hazards import setup_plant
from tests.integration.test_meetings import briefings


async def stored_shifts(bot: BotUnderTest, key: str = "team-a") -> object:
    async with bot.services.db.session() as s:
        unit = await org_repo.get_unit_by_key(s, key)
        assert unit is not None
        return json.loads(unit.extra_json).get("shifts") if unit.extra_json else None


async def test_a_leader_sets_the_shifts_in_chat_and_briefings_follow(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver

    worker.send(group, "/shifts")
    await bot.settle()
    assert "还没有班次安排" in last_text(group) and "请班组长发送 /shifts" in last_text(group)
    assert group.bot_messages()[-1].buttons == []
    leader.send(group, "/shifts")
    await bot.settle()
    shown = group.bot_messages()[-1]
    assert "点“修改班次”即可设置" in shown.text and shown.buttons == [["修改班次"]]

    cq = worker.click(shown, "修改班次")  # workers cannot
    await bot.settle()
    assert "只有本班组的班组长" in (d.callback_answer(cq) or {}).get("text", "")
    leader.click(shown, "修改班次")
    await bot.settle()
    ask = group.bot_messages()[-1]
    assert ask.text.startswith("Leader Li 请回复本消息")
    # after a button the prompt mentions the clicker, so the selective ForceReply opens for them
    assert ask.reply_markup == {"force_reply": True, "selective": True}
    assert any(e["type"] == "text_mention" and e["offset"] == 0 and e["user"]["id"] == leader.id
               for e in ask.entities)

    # a bad schedule: the reason, in Chinese, and nothing stored; the leader may try again
    refused = (("早班 08:00-16:00 周一至周五\n中班 15:00-23:00", "早班 和 中班 的时间重叠"),
               ("早班 八点到四点", "第 1 行“早班 八点到四点”看不懂"),
               ("早班 08:00-16:00 礼拜八", "早班 的“礼拜八”不是星期几"))
    for typed, reason in refused:
        leader.send(group, typed, reply_to=group.bot_messages()[-1])
        await bot.settle()
        assert f"班次没有修改：{reason}" in last_text(group)
        assert await stored_shifts(bot) is None

    leader.send(group, "早班 08:00-16:00 周一至周五\n<b>中班</b> 16:00-24:00 周一至周五\n提前 20m",
                reply_to=group.bot_messages()[-1])
    await bot.settle()
    saved = last_text(group)
    assert "班次已保存" in saved and "班前会提前 20m" in saved
    assert "<b>中班</b> 16:00–00:00（次日）" in saved  # a name with markup is shown as text
    assert "下一班：<b>中班</b>" in saved
    stored = await stored_shifts(bot)
    assert isinstance(stored, dict) and stored["briefing_before"] == "20m"
    leader.send(group, "再来一次", reply_to=group.bot_messages()[-1])  # the edit is over
    await bot.settle()
    assert "班次已保存" in last_text(group)

    # the new schedule drives the briefing: 20 minutes before 16:00
    bot.clock.advance(timedelta(hours=7, minutes=9))  # 15:39
    await bot.run_sweeps()
    assert briefings(group) == []
    bot.clock.advance(timedelta(minutes=1))  # 15:40
    await bot.run_sweeps()
    [briefing] = briefings(group)
    assert "&lt;b&gt;中班&lt;/b&gt;" not in briefing.text and "<b>中班</b>" in briefing.text

    # renaming the shift after its briefing went out does not brief it again
    leader.send(group, "/shifts")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "修改班次")
    await bot.settle()
    leader.send(group, "早班 08:00-16:00 周一至周五\n中班 16:00-24:00 周一至周五\n提前 20m",
                reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "班次已保存" in last_text(group)
    await bot.run_sweeps()
    assert len(briefings(group)) == 1

    # another team's leader cannot edit this team, even with forged data
    other = d.user("Leader Zhou")
    await grant(bot, other, ids["b"], Role.TEAM_LEADER)
    group_b = d.group("合成乙班", members=[other], admins=[other])
    await bind(bot, group_b, other, team="合成乙班")
    cq = other.click_data(group_b.bot_messages()[-1], f"sh:edit:{ids['a']}")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert")
    assert (await stored_shifts(bot))["briefing_before"] == "20m"  # type: ignore[index]


async def test_cancel_and_idle_leave_the_shifts_unchanged(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    leader = people["Leader Li"]
    for ending in ("cancel", "idle"):
        leader.send(group, "/shifts")
        await bot.settle()
        leader.click(group.bot_messages()[-1], "修改班次")
        await bot.settle()
        if ending == "cancel":
            leader.send(group, "/cancel")
            await bot.settle()
            assert last_text(group) == "已取消，班次没有修改。"
        else:
            bot.clock.advance(timedelta(minutes=16))
            await bot.run_sweeps()
            assert "修改班次已 15 分钟无操作" in last_text(group)
        leader.send(group, "早班 08:00-16:00", reply_to=group.bot_messages()[-1])
        await bot.settle()
        assert await stored_shifts(bot) is None
