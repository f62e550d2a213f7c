"""The monthly report's figures on SQLite and PostgreSQL: a small plant, one month, by hand.

November 2026 in Shanghai is [2026-10-31 16:00 UTC, 2026-11-30 16:00 UTC): the rows
just inside and just outside those bounds show the month is the enterprise's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from content.render import Renderer
from domain.clock import ManualClock
from domain.idea import IdeaState
from domain.incident import IncidentState, Injury
from domain.monthly import Month
from domain.org import Role, UnitKind
from services import monthly_report
from services.base import Actor, Runtime
from services.monthly_figures import rolled_up
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import (
    Attendance,
    Hazard,
    Idea,
    Incident,
    Inspection,
    OutboxMessage,
    PreShiftMeeting,
    PublishedDocument,
    ReadReceipt,
    TrainingRecord,
    Unit,
)

NOV = Month(2026, 11)
START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # 2026-11-01 00:00 in Shanghai
NOW = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)  # the report day, 10:00 in Shanghai


def at(days: float) -> datetime:
    """A moment ``days`` after November began in Shanghai."""
    return START + timedelta(days=days)


class Plant:
    """acme → ws1 (teams a, b), ws2 (team c); two reporters; a manager and an officer."""

    def __init__(self, units: dict[str, Unit], people: dict[str, int]) -> None:
        self.units, self.people = units, people
        self.codes = 0

    def hazard(self, team: str, severity: str, category: str, reported: datetime, *,
               reporter: str = "Wu", closed: datetime | None = None,
               deadline: datetime | None = None, rectified: datetime | None = None,
               state: str | None = None) -> Hazard:
        self.codes += 1
        unit = self.units[team].id or 0
        return Hazard(code=f"YH-{self.codes:04d}", unit_id=unit, team_unit_id=unit,
                      reporter_id=self.people[reporter],
                      state=state or ("closed" if closed else "acknowledged"),
                      severity=severity, category=category, reported_at=reported,
                      closed_at=closed, deadline=deadline, rectified_at=rectified,
                      updated_at=reported)


async def seed(db: Database) -> Plant:
    async with db.transaction() as s:
        acme = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                          name="示例化工", parent=None, now=START,
                                          timezone="Asia/Shanghai")
        ws1 = await org_repo.create_unit(s, key="ws1", kind=UnitKind.WORKSHOP, name="合成车间",
                                         parent=acme, now=START)
        ws2 = await org_repo.create_unit(s, key="ws2", kind=UnitKind.WORKSHOP, name="储运车间",
                                         parent=acme, now=START)
        units = {"acme": acme, "ws1": ws1, "ws2": ws2}
        for key, parent, name in (("a", ws1, "合成甲班"), ("b", ws1, "合成乙班"),
                                  ("c", ws2, "储运甲班")):
            units[key] = await org_repo.create_unit(s, key=key, kind=UnitKind.TEAM, name=name,
                                                    parent=parent, now=START)
        people = {}
        for telegram_id, name in ((11, "Wu"), (12, "Sun"), (13, "Manager Qian"),
                                  (14, "Leader Li")):
            person = await people_repo.upsert_person(s, telegram_id=telegram_id, name=name,
                                                     username=None, language_code="zh",
                                                     now=START)
            person.started = True
            s.add(person)
            people[name] = person.id or 0
        manager = await people_repo.get_person(s, 13)
        leader = await people_repo.get_person(s, 14)
        assert manager is not None and leader is not None
        await org_repo.grant_role(s, person=manager, unit=acme, role=Role.MANAGER, now=START)
        await org_repo.grant_role(s, person=leader, unit=units["a"], role=Role.TEAM_LEADER,
                                  now=START)
    plant = Plant(units, people)
    async with db.transaction() as s:
        rows = [
            # team a: reported in November (the first just inside the Shanghai month)
            plant.hazard("a", "major", "electrical", at(0) + timedelta(minutes=30),
                         closed=at(0) + timedelta(hours=10, minutes=30)),
            plant.hazard("a", "general", "fire", at(3), closed=at(3) + timedelta(hours=30)),
            plant.hazard("a", "general", "fire", at(4), reporter="Sun",
                         deadline=at(9), state="acknowledged"),  # overdue: never fixed
            plant.hazard("a", "general", "fire", at(5), deadline=at(11),
                         rectified=at(10), state="rectified"),  # fixed in time
            plant.hazard("a", "serious", "machinery", at(6), deadline=at(14),
                         rectified=at(15), state="rectified"),  # fixed late: overdue
            plant.hazard("a", "general", "other", at(7), deadline=at(8),
                         state="rejected"),  # rejected: never overdue
            # just outside November, and a year ago
            plant.hazard("a", "major", "fire", at(0) - timedelta(minutes=30)),
            plant.hazard("a", "general", "fire", at(-330)),
            # team b and team c
            plant.hazard("b", "serious", "chemicals", at(12), reporter="Sun"),
            plant.hazard("c", "general", "ppe", at(20), reporter="Sun"),
            plant.hazard("c", "general", "ppe", at(29.9), reporter="Sun"),
            plant.hazard("c", "general", "ppe", at(30) + timedelta(minutes=1)),  # December
        ]
        s.add_all(rows)
        await s.flush()
        a = plant.units["a"].id or 0
        for day, held, attendees in ((1, True, 3), (2, True, 2), (3, False, 0)):
            meeting = PreShiftMeeting(unit_id=a, shift_key=f"2026-11-0{day}/早班",
                                      shift_name="早班", starts_at=at(day),
                                      ends_at=at(day) + timedelta(hours=8), posted_at=at(day),
                                      held_at=at(day) if held else None)
            s.add(meeting)
            await s.flush()
            for person in list(people.values())[:attendees]:
                s.add(Attendance(meeting_id=meeting.id or 0, person_id=person,
                                 checked_in_at=at(day)))
        s.add(PreShiftMeeting(unit_id=a, shift_key="2026-11-04/早班", shift_name="早班",
                              starts_at=at(4), ends_at=at(4) + timedelta(hours=8),
                              posted_at=at(4), cancelled_at=at(3.5)))  # a holiday: not due
        document = PublishedDocument(doc_key="hot-work", version=1, published_at=at(1),
                                     texts_json=json.dumps({"zh": {"title": "动火"}}))
        s.add(document)
        await s.flush()
        for person, read in zip(people.values(), (True, True, True, False), strict=True):
            s.add(ReadReceipt(document_id=document.id or 0, unit_id=a, person_id=person,
                              required_at=at(1), read_at=at(2) if read else None))
        for index, (who, result) in enumerate((("Wu", "correct"), ("Wu", "correct"),
                                               ("Wu", "wrong"), ("Sun", "correct"))):
            s.add(TrainingRecord(person_id=people[who], unit_id=a, kind="quiz",
                                 subject=f"q{index}", result=result, at=at(index + 1)))
        s.add(TrainingRecord(person_id=people["Wu"], unit_id=a, kind="risk_card",
                             subject="welder", result="acknowledged", at=at(1)))
    return plant


def runtime(db: Database, now: datetime = NOW) -> Runtime:
    return Runtime(db=db, renderer=Renderer(), clock=ManualClock(now))


async def test_the_figures_of_an_enterprise_and_a_workshop(db: Database) -> None:
    plant = await seed(db)
    rt = runtime(db)
    report = await monthly_report.build(rt, plant.units["acme"], NOV, "zh")
    figures = report.figures
    reported = figures["hazards_reported"]
    assert reported.totals == {"general": 6, "serious": 2, "major": 1, "total": 9}
    assert reported.rows[0] == ["消防", 3, 0, 0, 3]  # the kinds, most first
    assert figures["hazards_closed"].totals["total"] == 2
    assert figures["hazards_overdue"].totals == {"general": 1, "serious": 1, "major": 0,
                                                 "total": 2}
    assert figures["time_to_close"].headline == {"hours": 20.0, "closed": 2}
    assert [row[:2] for row in figures["top_reporters"].rows] == [["Wu", 5], ["Sun", 4]]
    assert figures["meetings"].headline == {"due": 3, "held": 2, "rate": 66.7,
                                            "attendance": 2.5}
    assert figures["documents"].headline == {"required": 4, "read": 3, "rate": 75.0}
    assert figures["quizzes"].headline == {"people": 2, "answers": 4, "score": 75.0}
    trend = figures["trend"]
    assert len(trend.series["reported"]) == 12 and trend.rows[-1][0] == "2026-11"
    assert trend.series["reported"][-1] == 9 and trend.series["closed"][-1] == 2
    assert trend.series["reported"][-2] == 1  # the one half an hour before November
    assert trend.series["reported"][0] == 1  # the one eleven months before: 2025-12

    scope = await _scope(db, plant, "acme")
    by_unit = rolled_up(scope, reported)
    assert by_unit[plant.units["ws1"].id or 0]["total"] == 7
    assert by_unit[plant.units["ws2"].id or 0]["total"] == 2
    assert by_unit[plant.units["acme"].id or 0]["total"] == 9

    workshop = await monthly_report.build(rt, plant.units["ws2"], NOV, "en")
    assert workshop.figures["hazards_reported"].totals["total"] == 2
    assert workshop.figures["meetings"].headline["due"] == 0
    assert "Hazards reported: 2 (major 0, serious 0, general 2)" in workshop.summary_text


async def _scope(db: Database, plant: Plant, key: str):  # type: ignore[no-untyped-def]
    async with db.session() as s:
        return await monthly_report.scope_of(s, plant.units[key], NOV, zone="Asia/Shanghai",
                                             now=NOW)


async def test_summary_charts_and_workbook_agree(db: Database, tmp_path: Path) -> None:
    plant = await seed(db)
    rt = runtime(db)
    report = await monthly_report.build(rt, plant.units["acme"], NOV, "zh")
    assert "示例化工 2026-11 安全月报" in report.summary_text
    assert "隐患上报 9 条（重大 1、较大 2、一般 6）" in report.summary_text
    assert "超期未整改 2 条" in report.summary_text
    assert "班前会应开 3 次、已开 2 次（66.7%），平均每次签到 2.5 人" in report.summary_text
    assert "用时中位数：20.0 小时（2 条）" in report.summary_text
    assert len(report.charts) == 3 and all(c.png.startswith(b"\x89PNG") for c in report.charts)

    written = await monthly_report.write_files(rt, "acme", NOV, "zh", tmp_path / "out")
    assert sorted(p.suffix for p in written) == [".png", ".png", ".png", ".txt", ".xlsx"]
    assert (tmp_path / "out" / "summary-acme-2026-11.txt").read_text(encoding="utf-8") \
        == report.summary_text + "\n"
    book = load_workbook(tmp_path / "out" / "monthly-acme-2026-11.xlsx")
    assert book.sheetnames[:2] == ["月报摘要", "各单位"]
    units = {row[0]: row for row in book["各单位"].iter_rows(min_row=2, values_only=True)}
    assert set(units) == {"示例化工", "合成车间", "储运车间", "合成甲班", "合成乙班", "储运甲班"}
    header = next(book["各单位"].iter_rows(max_row=1, values_only=True))
    row = dict(zip(header, units["合成车间"], strict=True))
    assert (row["上报隐患"], row["关闭隐患"], row["超期隐患"]) == (7, 2, 2)
    assert (row["班前会应开"], row["已开"], row["阅读率%"], row["正确率%"]) == (3, 2, 75.0, 75.0)
    assert dict(zip(header, units["储运甲班"], strict=True))["上报隐患"] == 2


async def test_the_month_in_progress_stops_at_now(db: Database) -> None:
    plant = await seed(db)
    rt = runtime(db, now=at(6.5))  # 7 November, midday
    report = await monthly_report.build(rt, plant.units["acme"], NOV, "zh")
    assert report.figures["hazards_reported"].totals["total"] == 5
    assert "（截至" in report.summary_text


async def test_the_sweep_sends_once_per_person_and_month(db: Database) -> None:
    plant = await seed(db)
    async with db.transaction() as s:  # the report day of this enterprise: the 18th
        acme = await org_repo.get_unit_by_key(s, "acme")
        assert acme is not None
        acme.extra_json = json.dumps({"report_day": 18})
        s.add(acme)
    early = datetime(2026, 12, 18, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: not yet 09:00
    assert await monthly_report.send_due(runtime(db, early), early) == 0
    on_time = datetime(2026, 12, 18, 1, 0, tzinfo=UTC)
    assert await monthly_report.send_due(runtime(db, on_time), on_time) == 1
    assert await monthly_report.send_due(runtime(db, on_time), on_time + timedelta(hours=1)) == 0
    async with db.session() as s:
        rows = [r for r in (await s.exec(outbox_repo_select())).all()
                if r.purpose == "monthly.report"]
    manager = plant.people["Manager Qian"]
    assert {r.chat_id for r in rows} == {13} and {r.person_id for r in rows} == {manager}
    assert [r.method for r in rows] == ["sendPhoto"] * 3 + ["sendMessage", "sendDocument"]
    summary = outbox_repo.params_of(rows[3])["text"]
    assert "2026-11" in summary and "隐患上报 9 条" in summary
    assert outbox_repo.params_of(rows[4])["document"] == {"outbox_file": 4}
    async with db.transaction() as s:  # an officer appointed after this month's report
        officer = await people_repo.upsert_person(s, telegram_id=15, name="Officer Zhao",
                                                  username=None, language_code="en",
                                                  now=on_time)
        officer.started, officer.language = True, "en"
        s.add(officer)
        ws1 = await org_repo.get_unit_by_key(s, "ws1")
        assert ws1 is not None
        await org_repo.grant_role(s, person=officer, unit=ws1, role=Role.SAFETY_OFFICER,
                                  now=on_time + timedelta(days=1))
    later = on_time + timedelta(days=2)
    assert await monthly_report.send_due(runtime(db, later), later) == 0  # next month's
    next_month = datetime(2027, 1, 18, 1, 0, tzinfo=UTC)  # December's report, once each
    assert await monthly_report.send_due(runtime(db, next_month), next_month) == 2
    async with db.session() as s:
        texts = [outbox_repo.params_of(r).get("text", "") for r in
                 (await s.exec(outbox_repo_select())).all() if r.chat_id == 15]
    assert any("合成车间 safety report 2026-12" in t for t in texts)  # in their language


def outbox_repo_select():  # type: ignore[no-untyped-def]
    from sqlmodel import col, select

    return select(OutboxMessage).order_by(col(OutboxMessage.id))


async def test_stats_for_officers_and_managers_only(db: Database) -> None:
    plant = await seed(db)
    rt = runtime(db)
    leader = Actor(person_id=plant.people["Leader Li"], telegram_id=14, name="Leader Li",
                   language="zh")
    refused = await monthly_report.stats_for(rt, leader, None)
    assert not refused.ok and refused.key == "stats.not_allowed"
    manager = Actor(person_id=plant.people["Manager Qian"], telegram_id=13,
                    name="Manager Qian", language="zh")
    bad = await monthly_report.stats_for(rt, manager, "2027-01")  # not begun
    assert not bad.ok and bad.key == "stats.bad_month" and bad.values["example"] == "2026-11"
    done = await monthly_report.stats_for(rt, manager, None)
    assert done.ok and done.values == {"units": "示例化工", "month": "2026-11"}
    assert done.reports is not None
    sweep = await monthly_report.build(rt, plant.units["acme"], NOV, "zh")
    assert done.reports[0].summary_text == sweep.summary_text
    async with db.session() as s:
        queued = await outbox_repo.ids_by_key(s, [
            f"stats:{manager.person_id}:{plant.units['acme'].id}:2026-11:{NOW.isoformat()}:xlsx"])
    assert len(queued) == 1


async def test_checks_incidents_and_ideas_are_figures_too(db: Database) -> None:
    """Issue 14's other records: check completion, incidents and ideas, per unit and month."""
    plant = await seed(db)
    a, b, ws1 = (plant.units[k].id or 0 for k in ("a", "b", "ws1"))
    wu = plant.people["Wu"]
    async with db.transaction() as s:
        for unit, day, state in ((a, 1, "done"), (a, 2, "done"), (a, 3, "missed"),
                                 (b, 4, "due"), (ws1, 19, "done"),
                                 (a, -1, "missed")):  # October: not this month's
            s.add(Inspection(checklist_id="team-pre-shift", unit_id=unit, period=f"p{day}",
                             state=state, due_at=at(day), deadline_at=at(day + 0.5),
                             created_at=at(day)))
        for day, injured, injury, state in ((5, 2, Injury.MINOR, IncidentState.CLOSED),
                                            (6, 1, Injury.FATAL, IncidentState.OPEN),
                                            (31, 3, Injury.SERIOUS, IncidentState.OPEN)):
            s.add(Incident(unit_id=a, reporter_id=wu, chat_id=-1, what="x", place="y",
                           occurred_at=at(day), injured=injured, injury=injury,
                           action_taken="z", state=state, reported_at=at(day)))
        s.add_all([
            Idea(unit_id=a, proposer_id=wu, chat_id=-1, text="i1", reviewing_unit_id=a,
                 state=IdeaState.ADOPTED, submitted_at=at(-5), decided_at=at(2), points=3),
            Idea(unit_id=b, proposer_id=wu, chat_id=-1, text="i2", reviewing_unit_id=b,
                 state=IdeaState.SUBMITTED, submitted_at=at(7)),
            Idea(unit_id=b, proposer_id=wu, chat_id=-1, text="i3", reviewing_unit_id=b,
                 state=IdeaState.ADOPTED, submitted_at=at(8), decided_at=at(9), points=5)])
    report = await monthly_report.build(runtime(db), plant.units["acme"], NOV, "zh")
    checks = report.figures["checks"]
    assert checks.headline == {"due": 5, "done": 3, "missed": 1, "rate": 60.0}
    assert report.figures["incidents"].headline == {"incidents": 2, "injured": 3, "fatal": 1,
                                                    "open": 1}
    assert report.figures["ideas"].headline == {"submitted": 2, "adopted": 2, "points": 8}
    assert "检查应做 5 次、已做 3 次、漏检 1 次（完成率 60.0%）" in report.summary_text
    assert "事故 2 起，受伤 3 人，死亡事故 1 起，未结案 1 起" in report.summary_text
    assert "金点子提出 2 条、采纳 2 条，奖励积分 8 分" in report.summary_text
    scope = await _scope(db, plant, "acme")
    by_unit = rolled_up(scope, checks)
    assert by_unit[ws1]["due"] == 5 and by_unit[ws1]["done"] == 3  # its own, team a and b
    assert by_unit[plant.units["ws2"].id or 0]["due"] == 0
    workshop = await monthly_report.build(runtime(db), plant.units["ws2"], NOV, "en")
    assert "Incidents: 0" in workshop.summary_text
