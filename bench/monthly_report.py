"""Benchmark: the monthly report of every unit above the teams, by teams and by history.

An enterprise of N teams (ten to a workshop) with a year of history generated with
bulk inserts: at 200 teams 100,000 hazards, 70,000 pre-shift meetings (with their
check-ins), 20,000 document acknowledgements and 20,000 quiz answers; fewer teams
get the same history per team. It builds every report the report day sends (the
enterprise and each workshop: figures, three charts, the workbook) and prints the
time of the figures (the queries) and of the whole, per unit reported.

Goal: the cost follows the units reported, not the history — one aggregate query per
figure through an index that starts with the unit, never a loop over rows. So the
time per unit should stay about flat from 20 to 200 teams, and the same at 200 teams
with two years of history instead of one.

    .venv/bin/python bench/monthly_report.py [--teams 20,200] [--years 2]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from content.render import Renderer
from domain.clock import ManualClock
from domain.monthly import Month
from domain.org import UnitKind
from services import monthly_report
from services.base import Runtime
from services.monthly_figures import FIGURES, compute_all
from storage import org as org_repo
from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)  # the report day, 09:00 in Shanghai
MONTH = Month(2026, 11)
STAMP = "%Y-%m-%d %H:%M:%S.000000"
PER_TEAM = {"hazards": 500, "meetings": 350, "receipts": 100, "quiz": 100}
TEAMS_PER_WORKSHOP = 10
PEOPLE_PER_TEAM = 10
SEVERITIES = ("general", "general", "general", "serious", "major")
CATEGORIES = ("electrical", "fire", "machinery", "height", "confined", "chemicals",
              "lifting", "ppe", "housekeeping", "other")
STATES = ("closed", "closed", "closed", "acknowledged", "rectified", "rejected")


def stamp(moment: datetime) -> str:
    return moment.strftime(STAMP)


async def build_plant(path: Path, teams: int, years: int) -> None:
    """The tree through the repositories, the history straight through sqlite3."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                         name="示例化工", parent=None, now=NOW,
                                         timezone="Asia/Shanghai")
        team_ids = []
        for w in range((teams + TEAMS_PER_WORKSHOP - 1) // TEAMS_PER_WORKSHOP):
            ws = await org_repo.create_unit(s, key=f"ws{w}", kind=UnitKind.WORKSHOP,
                                            name=f"第{w + 1}车间", parent=ent, now=NOW)
            for n in range(TEAMS_PER_WORKSHOP):
                if len(team_ids) < teams:
                    unit = await org_repo.create_unit(
                        s, key=f"t{w}-{n}", kind=UnitKind.TEAM, name=f"第{w + 1}车间{n + 1}班",
                        parent=ws, now=NOW)
                    team_ids.append(unit.id or 0)
    await db.dispose()
    rng = random.Random(7)
    span = timedelta(days=365 * years)
    start = NOW - span
    connection = sqlite3.connect(path)
    now = stamp(NOW)
    connection.executemany(
        "INSERT INTO person (telegram_id, name, started, blocked, is_admin, created_at,"
        " updated_at) VALUES (?, ?, 0, 0, 0, ?, ?)",
        [(10_000 + i, f"员工{i}", now, now) for i in range(teams * PEOPLE_PER_TEAM)])
    people = [row[0] for row in connection.execute("SELECT id FROM person ORDER BY id")]

    def moment() -> datetime:
        return start + timedelta(seconds=rng.random() * span.total_seconds())

    hazards = []
    for index in range(teams * PER_TEAM["hazards"] * years):
        team = team_ids[index % teams]
        reported = moment()
        state = rng.choice(STATES)
        closed = reported + timedelta(hours=rng.randint(2, 240)) if state == "closed" else None
        deadline = reported + timedelta(days=rng.randint(1, 10))
        rectified = (deadline + timedelta(hours=rng.randint(-100, 50))
                     if state in ("closed", "rectified") else None)
        hazards.append((f"YH-{index:08d}", team, team, rng.choice(people), state,
                        rng.choice(SEVERITIES), rng.choice(CATEGORIES), stamp(reported),
                        stamp(deadline), stamp(rectified) if rectified else None,
                        stamp(closed) if closed else None, stamp(reported)))
    connection.executemany(
        "INSERT INTO hazard (code, unit_id, team_unit_id, reporter_id, state, severity,"
        " category, reported_at, deadline, rectified_at, closed_at, updated_at,"
        " alerted_level, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, -1, 1)", hazards)
    meetings = []
    for index in range(teams * PER_TEAM["meetings"] * years):
        team = team_ids[index % teams]
        starts = moment()
        held = stamp(starts) if rng.random() < 0.9 else None
        meetings.append((team, f"{index}/早班", "早班", stamp(starts),
                         stamp(starts + timedelta(hours=8)), stamp(starts), held))
    connection.executemany(
        "INSERT INTO pre_shift_meeting (unit_id, shift_key, shift_name, starts_at, ends_at,"
        " posted_at, held_at, briefing_html, language, roll_call_dirty, roll_call_edits)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, '', 'zh', 0, 0)", meetings)
    meeting_ids = [row[0] for row in connection.execute(
        "SELECT id FROM pre_shift_meeting WHERE held_at IS NOT NULL")]
    connection.executemany(
        "INSERT INTO attendance (meeting_id, person_id, checked_in_at) VALUES (?, ?, ?)",
        [(meeting, people[(meeting * 7 + k) % len(people)], now)
         for meeting in meeting_ids for k in range(3)])
    connection.execute(
        "INSERT INTO policy_document (doc_key, version, source, texts_json, audience_json,"
        " requires_ack, due_hours, published_at)"
        " VALUES ('hot-work', 1, 'library', '{}', '[]', 1, 72, ?)", (now,))
    connection.executemany(
        "INSERT INTO read_receipt (document_id, unit_id, person_id, required_at, late,"
        " read_at) VALUES (1, ?, ?, ?, 0, ?)",
        [(team_ids[i % teams], people[i % len(people)], stamp(moment()),
          now if rng.random() < 0.8 else None)
         for i in range(min(teams * PER_TEAM["receipts"], teams * PEOPLE_PER_TEAM))])
    connection.executemany(
        "INSERT INTO training_record (person_id, unit_id, kind, subject, result, at)"
        " VALUES (?, ?, 'quiz', 'q', ?, ?)",
        [(rng.choice(people), team_ids[i % teams],
          "correct" if rng.random() < 0.7 else "wrong", stamp(moment()))
         for i in range(teams * PER_TEAM["quiz"] * years)])
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()


async def time_reports(path: Path) -> tuple[int, float, float]:
    """(units reported, seconds of figures, seconds of whole reports) for every unit above
    the teams."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    rt = Runtime(db=db, renderer=Renderer(), clock=ManualClock(NOW))
    async with db.session() as s:
        units = [u for u in await org_repo.all_units(s)
                 if UnitKind(u.kind) in (UnitKind.ENTERPRISE, UnitKind.WORKSHOP)]
    await monthly_report.build(rt, units[-1], MONTH, "zh")  # warm: fonts, pages
    started = time.perf_counter()
    for unit in units:
        async with db.session() as s:
            scope = await monthly_report.scope_of(s, unit, MONTH, zone="Asia/Shanghai",
                                                  now=NOW)
            await compute_all(s, scope, monthly_report.names_in(rt.renderer, "zh"), FIGURES)
    figures = time.perf_counter() - started
    started = time.perf_counter()
    for unit in units:
        await monthly_report.build(rt, unit, MONTH, "zh")
    whole = time.perf_counter() - started
    await db.dispose()
    return len(units), figures, whole


async def measure(teams: int, years: int) -> tuple[int, float, float, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.db"
        made = time.perf_counter()
        await build_plant(path, teams, years)
        connection = sqlite3.connect(path)
        hazards = connection.execute("SELECT count(*) FROM hazard").fetchone()[0]
        meetings = connection.execute("SELECT count(*) FROM pre_shift_meeting").fetchone()[0]
        connection.close()
        print(f"  {teams} teams, {years} year(s): {hazards:,} hazards, {meetings:,} meetings "
              f"(generated in {time.perf_counter() - made:.1f} s)")
        units, figures, whole = await time_reports(path)
        return units, figures, whole, hazards


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--teams", default="20,200")
    parser.add_argument("--years", type=int, default=2, help="the history of the last run")
    args = parser.parse_args()
    sizes = [int(n) for n in args.teams.split(",")]
    rows = []
    for teams in sizes:
        rows.append((teams, 1, *await measure(teams, 1)))
    rows.append((sizes[-1], args.years, *await measure(sizes[-1], args.years)))
    print(f"{'teams':>6} {'years':>5} {'hazards':>9} {'units':>5} {'figures s':>9} "
          f"{'reports s':>9} {'ms/unit figures':>15} {'ms/unit report':>14}")
    for teams, years, units, figures, whole, hazards in rows:
        print(f"{teams:>6} {years:>5} {hazards:>9,} {units:>5} {figures:>9.2f} {whole:>9.2f} "
              f"{1000 * figures / units:>15.1f} {1000 * whole / units:>14.1f}")
    small, large, long = rows[0], rows[-2], rows[-1]
    print(f"teams ×{large[0] / small[0]:.0f}: units ×{large[2] / small[2]:.1f}, "
          f"whole reports ×{large[4] / small[4]:.1f}, per unit ×"
          f"{(large[4] / large[2]) / (small[4] / small[2]):.2f} (goal: about 1)")
    print(f"history ×{long[1]}: figures ×{long[3] / large[3]:.2f}, whole reports "
          f"×{long[4] / large[4]:.2f} (goal: about 1)")


if __name__ == "__main__":
    asyncio.run(main())
