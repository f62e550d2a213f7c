"""班前会: the briefing before each shift, check-in, holding it, and what follows."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from sqlmodel import select

from storage import org as org_repo
from storage.models import Attendance
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import read_sheet, report, setup_plant
from tgserver import TelegramTestServer

DAY_SHIFT = {"briefing_before": "15m", "shifts": [
    {"name": "早班", "start": "09:00", "end": "17:00",
     "days": ["mon", "tue", "wed", "thu", "fri"]}]}


async def give_schedule(bot: BotUnderTest, key: str) -> None:
    async with bot.services.db.transaction() as s:
        unit = await org_repo.get_unit_by_key(s, key)
        assert unit is not None
        unit.extra_json = json.dumps({"shifts": DAY_SHIFT}, ensure_ascii=False)
        s.add(unit)


def briefings(group) -> list:  # type: ignore[no-untyped-def]
    return [m for m in group.bot_messages() if (m.text or "").startswith(("📋", "✅ 班前会"))]


async def test_briefing_check_in_held_escalation_and_summary(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    worker, leader, officer = people["Worker Wu"], people["Leader Li"], people["Officer Zhao"]
    d = bot.driver
    await give_schedule(bot, "team-a")
    await report(bot, worker, group, description=None)

    bot.clock.advance(timedelta(minutes=14))  # 08:44
    await bot.run_sweeps()
    assert briefings(group) == []
    bot.clock.advance(timedelta(minutes=1))  # 08:45: fifteen minutes before 09:00
    await bot.run_sweeps()
    await bot.run_sweeps()  # once per team and shift
    [briefing] = briefings(group)
    assert "早班" in briefing.text and "YH-20261123-0001" in briefing.text
    assert "今日提示" in briefing.text and briefing.buttons == [["签到", "会已开"]]

    cq = worker.click(briefing, "签到")
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已签到", "show_alert": False}
    assert "已签到（1）：Worker Wu" in briefing.text  # the roll call, edited in place
    cq = worker.click(briefing, "签到")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "你已经签到过了"
    for someone in (worker, people["Officer Zhao"]):  # a worker; the workshop's officer
        cq = someone.click(briefing, "会已开")
        await bot.settle()
        assert "只有本班组的班组长" in (d.callback_answer(cq) or {}).get("text", "")
    leader.click(briefing, "会已开")
    await bot.settle()
    assert "班前会已开" in briefing.text and "Leader Li 主持" in briefing.text
    assert "签到（1）：Worker Wu" in briefing.text and briefing.buttons == []
    async with bot.services.db.session() as s:
        assert len((await s.exec(select(Attendance))).all()) == 1

    # 17:00: the shift ends; the leader is asked to sum up and can start the handover.
    bot.clock.advance(timedelta(hours=8, minutes=15))
    await bot.run_sweeps()
    prompt = group.bot_messages()[-1]
    assert "班后总结" in prompt.text and prompt.buttons == [["开始交接班", "上报隐患"]]
    leader.click(prompt, "开始交接班")
    await bot.settle()
    ask = group.bot_messages()[-1]
    assert "交接班 1/5" in ask.text and ask.text.startswith("Leader Li ")
    leader.send(group, "/cancel")
    await bot.settle()
    assert last_text(group) == "已取消交接班，没有发布任何内容。"
    worker.click(prompt, "上报隐患")  # a hazard found during the shift, by anyone
    await bot.settle()
    ask = group.bot_messages()[-1]
    mentions = [e for e in ask.entities if e["type"] == "text_mention"]
    assert "照片" in ask.text and [e["user"]["id"] for e in mentions] == [worker.id]  # once
    worker.send(group, "/cancel")
    await bot.settle()
    assert last_text(group) == "已取消隐患上报。"

    # Tuesday: the bot is down at 08:45 and back at 08:55 — within the grace window.
    await bot.stop()
    bot.clock.advance(timedelta(hours=15, minutes=55))  # Tuesday 08:55
    await bot.start()
    await bot.run_sweeps()
    assert len(briefings(group)) == 2
    # Nobody holds Tuesday's meeting: 30 minutes after the shift started, the workshop hears.
    bot.clock.advance(timedelta(minutes=35))  # 09:30
    await bot.run_sweeps()
    assert not [m for m in d.private_messages(officer) if "班前会仍未确认" in m.text]
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_sweeps()
    await bot.run_sweeps()
    assert len([m for m in d.private_messages(officer) if "班前会仍未确认" in m.text]) == 1

    # the attendance record is in the ledger export (班前会签到): held Monday, not Tuesday
    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    monday, tuesday = read_sheet(bot.server.world.files[sent.document["file_id"]].content,
                                 "班前会签到")
    assert monday["班次"] == "早班" and monday["班组"] == "合成甲班"
    assert monday["签到人数"] == 1 and monday["签到人员"] == "Worker Wu"
    assert monday["主持人"] == "Leader Li" and monday["开会确认"] and not monday["上报车间"]
    assert tuesday["签到人数"] == 0 and not tuesday["开会确认"] and tuesday["上报车间"]


async def set_shifts(bot: BotUnderTest, key: str, shifts: dict[str, object]) -> None:
    """What /shifts → Edit stores, done directly."""
    async with bot.services.db.transaction() as s:
        unit = await org_repo.get_unit_by_key(s, key)
        assert unit is not None
        unit.extra_json = json.dumps({"shifts": shifts}, ensure_ascii=False)
        s.add(unit)


def not_held_alerts(bot: BotUnderTest, officer) -> list:  # type: ignore[no-untyped-def]
    return [m for m in bot.driver.private_messages(officer) if "班前会仍未确认" in m.text]


async def test_a_schedule_changed_after_the_briefing_is_followed(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 2026-11-23 08:30 in Shanghai
    officer = people["Officer Zhao"]
    await give_schedule(bot, "team-a")  # 早班 09:00-17:00
    bot.clock.advance(timedelta(minutes=15))  # 08:45: the briefing
    await bot.run_sweeps()
    assert len(briefings(group)) == 1
    # 08:50: the leader moves today's shift to 10:00-18:00.
    await set_shifts(bot, "team-a", {**DAY_SHIFT, "shifts": [
        {"name": "早班", "start": "10:00", "end": "18:00"}]})
    bot.clock.advance(timedelta(minutes=50))  # 09:35: late for 09:00, not for 10:00
    await bot.run_sweeps()
    assert not not_held_alerts(bot, officer) and len(briefings(group)) == 1
    bot.clock.advance(timedelta(hours=1))  # 10:35: now it is late
    await bot.run_sweeps()
    assert len(not_held_alerts(bot, officer)) == 1 and "10:00" in not_held_alerts(
        bot, officer)[0].text
    bot.clock.advance(timedelta(hours=6, minutes=30))  # 17:05: the shift runs until 18:00
    await bot.run_sweeps()
    assert "班后总结" not in last_text(group)
    bot.clock.advance(timedelta(hours=1))  # 18:05
    await bot.run_sweeps()
    assert "班后总结" in last_text(group)

    # Tuesday 09:45: the briefing; 09:50 the day is declared a holiday.
    bot.clock.advance(timedelta(hours=15, minutes=40))
    await bot.run_sweeps()
    assert len(briefings(group)) == 2
    await set_shifts(bot, "team-a", {**DAY_SHIFT, "holidays": ["2026-11-24"], "shifts": [
        {"name": "早班", "start": "10:00", "end": "18:00"}]})
    bot.clock.advance(timedelta(hours=9))  # long past the start and the end
    await bot.run_sweeps()
    assert len(not_held_alerts(bot, officer)) == 1  # Monday's only
    assert "班后总结" not in last_text(group)
    async with bot.services.db.session() as s:
        from storage.models import PreShiftMeeting

        tuesday = (await s.exec(select(PreShiftMeeting).order_by(
            PreShiftMeeting.id.desc()))).first()  # type: ignore[union-attr]
    assert tuesday is not None and tuesday.cancelled_at is not None


async def test_times_are_shown_in_the_schedules_time_zone(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # 08:30 in Shanghai is 09:30 in Tokyo
    await set_shifts(bot, "team-a", {"timezone": "Asia/Tokyo", "briefing_before": "15m",
                                     "shifts": [{"name": "早班", "start": "10:00",
                                                 "end": "18:00"}]})
    people["Leader Li"].send(group, "/shifts")
    await bot.settle()
    assert "10:00" in last_text(group)  # the next shift, in Tokyo time
    bot.clock.advance(timedelta(minutes=15))  # 09:45 in Tokyo: the briefing for 10:00
    await bot.run_sweeps()
    [briefing] = briefings(group)
    assert "10:00" in briefing.text.splitlines()[0]
    bot.clock.advance(timedelta(minutes=46))  # 10:31 in Tokyo: not held
    await bot.run_sweeps()
    [alert] = not_held_alerts(bot, people["Officer Zhao"])
    assert "10:00" in alert.text


async def test_a_workshop_nobody_can_reach_passes_the_notice_up(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    async with bot.services.db.transaction() as s:  # the workshop's only officer blocked us
        from storage import people as people_repo

        person = await people_repo.get_person(s, officer.id)
        assert person is not None
        person.blocked = True
        s.add(person)
    await give_schedule(bot, "team-a")
    bot.clock.advance(timedelta(minutes=15))  # 08:45: the briefing
    await bot.run_sweeps()
    assert len(briefings(group)) == 1
    bot.clock.advance(timedelta(minutes=46))  # 09:31: not held
    await bot.run_sweeps()
    assert not not_held_alerts(bot, officer)
    assert len(not_held_alerts(bot, manager)) == 1  # the enterprise hears instead


async def test_shifts_shows_the_schedule_and_the_next_shift(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    worker.send(group, "/shifts")
    await bot.settle()
    assert "还没有班次安排" in last_text(group)
    await give_schedule(bot, "team-a")
    worker.send(group, "/shifts")
    await bot.settle()
    text = last_text(group)
    assert "早班 09:00–17:00" in text and "周一、二、三、四、五" in text
    assert "下一班：早班" in text and "提前 15m" in text


async def test_a_briefing_missed_beyond_the_grace_window_is_not_sent_late(
        bot: BotUnderTest) -> None:
    _, _people, group = await setup_plant(bot)
    await give_schedule(bot, "team-a")
    await bot.stop()
    bot.clock.advance(timedelta(hours=1, minutes=20))  # 09:50: briefing time was 08:45
    await bot.start()
    await bot.run_sweeps()
    assert briefings(group) == []


async def test_the_briefing_lists_the_teams_risk_cards(server: TelegramTestServer,
                                                       tmp_path: Path) -> None:
    cards = tmp_path / "cards.yaml"
    cards.write_text(yaml.safe_dump({"cards": [
        {"id": "fitter", "units": ["ws"], "level": "general",
         "post": {"zh": "检修<钳工>"}, "factors": {"zh": ["设备意外启动"]},
         "accidents": {"zh": ["机械伤害", "物体打击"]},
         "measures": {"zh": ["断电挂牌上锁", "泄压排空", "第三条不在简报里"]},
         "report": {"zh": "报告班组长"}},
        {"id": "operator", "units": ["team-a"], "level": "significant",
         "post": {"zh": "反应釜操作工"}, "factors": {"zh": ["超温超压"]},
         "accidents": {"zh": ["爆炸"]}, "measures": {"zh": ["核对联锁"]},
         "report": {"zh": "报告中控室"}},
        {"id": "elsewhere", "units": ["team-b"], "level": "major",
         "post": {"zh": "别的班组的岗位"}, "factors": {"zh": ["x"]},
         "accidents": {"zh": ["x"]}, "measures": {"zh": ["x"]}, "report": {"zh": "x"}},
    ]}, allow_unicode=True), encoding="utf-8")
    bot = BotUnderTest(server, tmp_path, risk_cards_file=cards)
    await bot.start()
    try:
        _, _people, group = await setup_plant(bot)
        await give_schedule(bot, "team-a")
        bot.clock.advance(timedelta(minutes=15))  # 08:45
        await bot.run_sweeps()
        [briefing] = briefings(group)
        text = briefing.text
        assert "主要风险" in text
        # the team's own card and its workshop's, highest level first; not team B's
        assert text.index("反应釜操作工（较大风险）：可能导致爆炸；核对联锁") < \
            text.index("检修<钳工>（一般风险）：可能导致机械伤害、物体打击；断电挂牌上锁；泄压排空")
        assert "第三条不在简报里" not in text and "别的班组的岗位" not in text
    finally:
        await bot.stop()


async def run_frequent_sweeps(bot: BotUnderTest) -> None:
    """What the job queue runs within one roll-call window (ten seconds): the sweeps that
    repeat at least that often, then the outbox."""
    for sweep in bot.services.timetable.sweeps:
        if sweep.every <= timedelta(seconds=10):
            await sweep.run(bot.clock.now())
    await bot.drain_outbox()


async def test_a_check_in_held_back_by_the_throttle_is_shown_when_the_window_ends(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    await give_schedule(bot, "team-a")
    bot.clock.advance(timedelta(minutes=15))  # 08:45
    await bot.run_sweeps()
    [briefing] = briefings(group)

    worker.click(briefing, "签到")
    await bot.settle()
    assert "已签到（1）：Worker Wu" in briefing.text
    bot.clock.advance(timedelta(seconds=2))
    cq = leader.click(briefing, "签到")  # within the window: recorded, shown later
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已签到", "show_alert": False}
    assert "已签到（1）：Worker Wu" in briefing.text and briefing.edits == 1
    bot.clock.advance(timedelta(seconds=5))
    await run_frequent_sweeps(bot)  # 7 s after the first edit: still throttled
    assert briefing.edits == 1
    bot.clock.advance(timedelta(seconds=4))
    await run_frequent_sweeps(bot)
    assert "已签到（2）：Worker Wu、Leader Li" in briefing.text
    assert briefing.buttons == [["签到", "会已开"]] and briefing.edits == 2
    await run_frequent_sweeps(bot)  # nothing new: no more edits
    assert briefing.edits == 2

    leader.click(briefing, "会已开")
    await bot.settle()
    assert "班前会已开" in briefing.text and "签到（2）" in briefing.text
    assert briefing.buttons == []
    # a press on the old buttons (a client that had not refreshed) says who closed it
    cq = worker.click_data(briefing, "pm:in:1")
    await bot.settle()
    assert "班前会已由 Leader Li 于" in (d.callback_answer(cq) or {}).get("text", "")
    assert "08:4" in (d.callback_answer(cq) or {}).get("text", "")

