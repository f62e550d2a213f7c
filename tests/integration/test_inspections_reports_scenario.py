"""Issue 14, done when: one month of a team's life through the test server.

A daily check falls due and is answered with one item not OK, which becomes a hazard with
its photo; a weekly check is missed and escalated once; an accident is reported, followed
up and closed, reaching every level at once; an idea is adopted with points; on the report
day the manager receives the charts, the summary and the XLSX, and ``/stats`` shows the
same figures — this scenario's checks, incident and idea among them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import col, select

from domain.idea import IdeaState
from domain.incident import IncidentEventKind, IncidentState
from storage.models import (
    Hazard,
    HazardPhoto,
    Idea,
    Incident,
    IncidentEvent,
    Inspection,
    InspectionAnswer,
)
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_incidents import answer, make_plant, reports
from tests.integration.test_inspections import NOT_OK, OK, START_CHECK, checklists_with, with_text
from tests.integration.test_monthly_report import last_report, report_parts, summaries
from tgserver import TelegramTestServer

REPORT_DAY = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)  # the 20th of next month, 09:00 local


async def test_a_month_of_checks_an_incident_and_an_idea_reaches_the_monthly_report(
        server: TelegramTestServer, tmp_path: Path) -> None:
    bot = BotUnderTest(server, tmp_path,
                       checklists_dir=checklists_with(tmp_path, daily=True, weekly=True))
    await bot.start()
    try:
        await _a_month(bot)
    finally:
        await bot.stop()


async def _a_month(bot: BotUnderTest) -> None:
    # A park authority → enterprise → workshop → 合成甲班; Monday 23 November, 08:30 local.
    _, people, group = await make_plant(bot)
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager, inspector = (people["Officer Zhao"], people["Manager Qian"],
                                   people["Inspector Sun"])
    await bot.settle()
    leader_chat = d.private_chat(leader)

    def leader_sees() -> list:  # type: ignore[type-arg]
        return list(d.private_messages(leader))

    # ---- 09:00: the daily check falls due, privately to the team leader.
    bot.clock.advance(timedelta(minutes=30))
    await bot.run_sweeps()
    [notice] = with_text(leader_sees(), "日常巡检")
    assert "合成甲班" in notice.text and notice.buttons == [[START_CHECK]]
    leader.click(notice, START_CHECK)
    await bot.settle()
    leader.click(leader_sees()[-1], OK)  # 1: pump guards intact
    await bot.settle()
    leader.send(leader_chat, "0.45", reply_to=leader_sees()[-1])  # 2: within limits
    await bot.settle()
    third = leader_sees()[-1]
    assert "第 3/3 项" in third.text and "通道畅通" in third.text
    leader.click(third, NOT_OK)  # 3: walkway blocked → photo and note → a hazard
    await bot.settle()
    assert "现场照片" in leader_sees()[-1].text
    leader.send_photo(leader_chat, reply_to=leader_sees()[-1])
    await bot.settle()
    leader.send(leader_chat, "东侧通道堆放托盘", reply_to=leader_sees()[-1])
    await bot.settle()
    done = leader_sees()[-1].text
    assert "日常巡检已完成：3 项，1 项不正常" in done and "YH-20261123-0001" in done

    async with bot.services.db.session() as s:
        [hazard] = (await s.exec(select(Hazard))).all()
        [photo] = (await s.exec(select(HazardPhoto))).all()
        [daily] = (await s.exec(select(Inspection))).all()
        answers = (await s.exec(select(InspectionAnswer)
                                .order_by(col(InspectionAnswer.item_index)))).all()
    assert daily.state == "done" and [a.ok for a in answers] == [True, True, False]
    assert answers[2].hazard_id == hazard.id and hazard.code == "YH-20261123-0001"
    assert hazard.state == "reported" and hazard.location_text == "日常巡检 第 3 项"
    assert "东侧通道堆放托盘" in (hazard.description or "") and photo.hazard_id == hazard.id
    # The hazard's usual closed loop starts: its card and photo in the team group.
    [card] = with_text(group.bot_messages(), "请班组长在")
    assert "YH-20261123-0001" in card.text and card.buttons == [["受理", "驳回", "查看"]]
    assert any(m.photo and "YH-20261123-0001" in (m.caption or "")
               for m in group.bot_messages())
    leader.click(card, "受理")
    await bot.settle()
    assert "已由 Leader Li 受理" in last_text(group) and card.buttons == [["查看"]]

    # ---- 09:20: an accident, reported by a worker in the group with /incident.
    bot.clock.advance(timedelta(minutes=20))
    private_before = {p: len(d.private_messages(p)) for p in (officer, manager)}
    worker.send(group, "/incident")
    await bot.settle()
    await answer(bot, worker, group, "装车时叉车碰倒气瓶，一名装卸工腿部被砸伤")
    await answer(bot, worker, group, "成品库装车台")
    worker.click(group.bot_messages()[-1], "刚刚发生")
    await bot.settle()
    await answer(bot, worker, group, "1")
    worker.click(group.bot_messages()[-1], "轻伤")
    await bot.settle()
    await answer(bot, worker, group, "扶正气瓶并关阀，伤员送厂医务室")
    worker.click(group.bot_messages()[-1], "跳过")  # no photo
    await bot.settle()
    worker.click(group.bot_messages()[-1], "🚨 立即上报")
    await bot.settle()
    # At once, no delay level: the group, the workshop, the enterprise, the authority.
    [posted] = reports(group)
    code = posted.text.split("事故快报 ")[1].split()[0]
    assert code.startswith("SG-20261123-") and "1 人受伤（轻伤）" in posted.text
    assert any(e["type"] == "text_mention" and e["user"]["id"] == inspector.id
               for e in posted.entities)  # the park's inspector never pressed Start
    for above in (officer, manager):
        [told] = reports(d.private_chat(above))
        assert code in told.text and d.private_messages(above).index(told) >= \
            private_before[above]
    assert any("合成车间、示例化工、化工园区安监办" in (m.text or "")
               for m in with_text(group.bot_messages(), "已发出"))

    # Follow-ups: the leader changes the casualties, the officer reports it under control.
    leader.click(posted, "伤亡变化")
    await bot.settle()
    await answer(bot, leader, group, "2")
    leader.click(group.bot_messages()[-1], "轻伤")
    await bot.settle()
    assert with_text(d.private_messages(manager), "2 人受伤（轻伤）")
    officer_report = reports(d.private_chat(officer))[0]
    officer.click(officer_report, "现场已控制")
    await bot.settle()
    assert with_text(group.bot_messages(), "现场已得到控制")
    # The officer's final report closes it; everyone gets it.
    officer.click(officer_report, "结案报告")
    await bot.settle()
    officer_chat = d.private_chat(officer)
    await answer(bot, officer, officer_chat, "气瓶未固定，叉车通道与气瓶存放区未分开")
    await answer(bot, officer, officer_chat, "气瓶加装链条固定，划出叉车禁行区")
    await answer(bot, officer, officer_chat, "气瓶必须固定存放")
    for chat in (group, officer_chat, d.private_chat(manager)):
        [final] = with_text(chat.bot_messages(), "事故结案报告")
        assert code in final.text and "划出叉车禁行区" in final.text
    async with bot.services.db.session() as s:
        [incident] = (await s.exec(select(Incident))).all()
        events = (await s.exec(select(IncidentEvent).order_by(col(IncidentEvent.id)))).all()
    assert (incident.code, incident.state, incident.injured) == (code, IncidentState.CLOSED, 2)
    assert [e.kind for e in events] == [IncidentEventKind.REPORTED, IncidentEventKind.CASUALTIES,
                                        IncidentEventKind.CONTROLLED, IncidentEventKind.CLOSED]

    # ---- 10:00: an idea by the worker; the team leader adopts it with 3 points.
    bot.clock.advance(timedelta(minutes=40))
    worker.send(group, "/idea 气瓶存放点地面画定位框，倒放一眼就能看出")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "没有照片，提交")
    await bot.settle()
    [review] = [m for m in with_text(group.bot_messages(), "金点子 #1") if "提出：" in m.text]
    leader.click(review, "采纳 +3 分")
    await bot.settle()
    [adopted] = with_text(group.bot_messages(), "已被 Leader Li 采纳")
    assert "获得 3 分，累计 3 分" in adopted.text and any(
        e["type"] == "text_mention" and e["user"]["id"] == worker.id for e in adopted.entities)
    worker.send(group, "/my")
    await bot.settle()
    assert "积分 3 分" in last_text(group)
    async with bot.services.db.session() as s:
        [idea] = (await s.exec(select(Idea))).all()
    assert (idea.state, idea.points) == (IdeaState.ADOPTED, 3)

    # ---- Friday 27 November 15:00: the weekly check falls due; Li never starts it.
    bot.clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    await bot.run_sweeps()
    [weekly] = with_text(leader_sees(), "班组周检")
    assert weekly.buttons == [[START_CHECK]]
    bot.clock.advance(timedelta(hours=4))  # 19:00, the deadline
    await bot.run_sweeps()
    bot.clock.advance(timedelta(hours=1))
    await bot.run_sweeps()  # a later sweep tells nobody again
    [missed] = with_text(d.private_messages(officer), "合成甲班 的班组周检未在")
    assert "负责人：Leader Li" in missed.text
    assert with_text(d.private_messages(manager), "班组周检未在") == []  # one level up only
    async with bot.services.db.session() as s:
        checks = (await s.exec(select(Inspection).order_by(col(Inspection.id)))).all()
    assert [(c.checklist_id, c.state) for c in checks] == [("daily-round", "done"),
                                                           ("team-weekly", "missed")]

    # ---- 20 December, 09:00: the report day. The manager gets November's report.
    before = len(d.private_messages(manager))
    bot.clock.set(REPORT_DAY)
    await bot.run_sweeps()
    messages = d.private_messages(manager)[before:]
    charts, summary, workbook = report_parts(bot, messages)
    assert all(png.startswith(b"\x89PNG") for png in charts)
    assert [m.caption for m in last_report(messages)[:3]] == [
        "示例化工 隐患趋势（2025-12 至 2026-11）", "示例化工 2026-11 隐患按等级",
        "示例化工 2026-11 隐患按单位"]
    assert summary.startswith("📊 示例化工 2026-11 安全月报")
    assert "隐患上报 1 条（重大 0、较大 0、一般 1）" in summary
    assert "上报最多：Leader Li 1 条" in summary  # the check's hazard counts as his report
    # Acknowledged but never fixed: the hazard's loop went on, past its November deadline.
    assert "超期未整改 1 条（重大 0、较大 0、一般 1）" in summary
    assert any("YH-20261123-0001" in m.text and "超过整改期限" in m.text
               for m in d.private_messages(officer))
    assert "检查应做 2 次、已做 1 次、漏检 1 次（完成率 50.0%）" in summary
    assert "事故 1 起，受伤 2 人，死亡事故 0 起，未结案 0 起" in summary
    assert "金点子提出 1 条、采纳 1 条，奖励积分 3 分" in summary
    book = load_workbook(io.BytesIO(workbook))["各单位"]
    header = [c.value for c in book[1]]
    row = {header[i]: v for i, v in enumerate(next(
        r for r in book.iter_rows(min_row=2, values_only=True) if r[0] == "合成甲班"))}
    assert (row["应检"], row["已检"], row["漏检"]) == (2, 1, 1)
    assert (row["事故"], row["受伤人数"], row["未结案"]) == (1, 2, 0)
    assert (row["金点子"], row["采纳"], row["积分"]) == (1, 1, 3)

    # /stats in the manager's private chat: the same figures, on demand.
    sent = len(d.private_messages(manager))
    manager.send(d.private_chat(manager), "/stats")
    await bot.settle()
    _, on_demand, again = report_parts(bot, d.private_messages(manager)[sent:])
    assert on_demand == summary == summaries(messages)[-1].text
    again_rows = list(load_workbook(io.BytesIO(again))["各单位"].iter_rows(values_only=True))
    assert again_rows == list(book.iter_rows(values_only=True))
