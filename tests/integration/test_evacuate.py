"""停工撤人: /evacuate, "I am safe", the live roll call, the levels above, who is missing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from storage.models import Evacuation, TrainingRecord
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import setup_plant

SAFE, END = "✅ 我已安全撤离", "结束撤离（班组长）"


def alerts(group) -> list:  # type: ignore[no-untyped-def]
    return [m for m in group.bot_messages() if "停工撤人！" in (m.text or "")]


async def test_evacuate_roll_call_levels_above_and_missing(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    sun, ma, zhou = d.user("Worker Sun"), d.user("Worker Ma"), d.user("Worker Zhou")
    for someone in (sun, ma, zhou):
        group.add_member(someone)
    leader.start_bot()
    for someone in (worker, leader, sun, ma, zhou):  # the bot learns who is in the team
        someone.send(group, "到")
    await bot.settle()

    worker.send(group, "/evacuate 着火了")  # a worker may not
    await bot.settle()
    assert "只有本班组的班组长及以上" in last_text(group) and alerts(group) == []

    leader.send(group, "/evacuate 3号罐区氨气泄漏")
    await bot.settle()
    [alert] = alerts(group)
    assert "3号罐区氨气泄漏" in alert.text and "Leader Li" in alert.text
    assert alert.buttons == [[SAFE], [END]]
    assert "已安全撤离（0/5）：暂无" in alert.text
    for above in (officer, manager):  # told privately at once, no delay level
        [told] = [m for m in d.private_messages(above) if "停工撤人" in m.text]
        assert "合成甲班" in told.text and "3号罐区氨气泄漏" in told.text

    leader.send(group, "/evacuate 再来一次")  # one at a time per team
    await bot.settle()
    assert "已有进行中的停工撤人" in last_text(group) and "Leader Li" in last_text(group)
    assert len(alerts(group)) == 1

    cq = worker.click(alert, SAFE)
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已记录：你已安全撤离", "show_alert": False}
    assert "已安全撤离（1/5）：Worker Wu" in alert.text  # edited in place at once
    for someone in (sun, ma):
        someone.click(alert, SAFE)
        await bot.settle()
    cq = worker.click(alert, SAFE)  # pressed twice: recorded once
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "你已经报过平安了"
    outsider = d.user("Passer-by Feng")
    cq = outsider.click(alert, SAFE)
    await bot.settle()
    assert "只有本班组成员" in (d.callback_answer(cq) or {}).get("text", "")
    bot.clock.advance(timedelta(seconds=10))  # the throttle's window: the last state shows
    await bot.run_sweeps()
    assert "已安全撤离（3/5）：Worker Wu、Worker Sun、Worker Ma" in alert.text

    def missing(person) -> list:  # type: ignore[no-untyped-def]
        return [m for m in d.private_messages(person) if "仍未报平安" in m.text]

    bot.clock.advance(timedelta(minutes=9, seconds=40))  # 9:50 after the alert
    await bot.run_sweeps()
    assert missing(leader) == [] and missing(officer) == []
    bot.clock.advance(timedelta(seconds=10))  # 10 minutes
    await bot.run_sweeps()
    await bot.run_sweeps()
    for person in (leader, officer):  # the leader and the workshop, once
        [listed] = missing(person)
        assert "Leader Li" in listed.text and "Worker Zhou" in listed.text
        assert "Worker Wu" not in listed.text
    bot.clock.advance(timedelta(minutes=5))
    await bot.run_sweeps()
    assert len(missing(leader)) == 1 and len(missing(officer)) == 1

    async with bot.services.db.session() as s:
        records = (await s.exec(select(TrainingRecord).where(
            TrainingRecord.kind == "evacuation"))).all()
        [evacuation] = (await s.exec(select(Evacuation))).all()
    assert len(records) == 3 and {r.result for r in records} == {"safe"}

    cq = worker.click(alert, END)  # a worker cannot end it
    await bot.settle()
    assert "只有本班组的班组长" in (d.callback_answer(cq) or {}).get("text", "")
    leader.click(alert, END)
    await bot.settle()
    assert "撤离已由 Leader Li 结束" in alert.text and alert.buttons == []
    cq = zhou.click_data(alert, f"ev:safe:{evacuation.id}")  # the old button, too late
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "这次撤离已经结束。"
    leader.send(group, "/evacuate end")
    await bot.settle()
    assert last_text(group) == "本班组没有进行中的停工撤人。"
    leader.send(group, "/evacuate")  # a new one may start now
    await bot.settle()
    assert len(alerts(group)) == 2
