"""PostgreSQL query plans of the hot paths, on a production-sized database.

Builds (once; ``--rebuild`` to start again) a database the size of a county's
deployment: the org file of ``org_import.py`` (10,000 teams, 101,000 people, their
groups and roles), then with SQL: 2,000,000 outbox rows (a few thousand due),
300,000 hazards (500 due for escalation), 90 days of pre-shift meetings for every
team (1,800,000) with a week of check-ins, 900,000 handovers, 1,000,000 handled
update ids and a membership per person. Then:

1. ``EXPLAIN (ANALYZE, BUFFERS)`` of the statements docs/postgresql.md shows: the
   escalation sweep's read, the outbox claim (read and update) and the pre-shift
   meeting sweep's reads, each captured from the repository function itself (the
   SQL the bot sends, not a copy), in a transaction rolled back afterwards;
2. an audit: every timetable sweep and the outbox sender's statements run once,
   each distinct statement is explained, and any sequential scan that picks less
   than half of a table of more than 10,000 rows is listed (there should be none).

    .venv/bin/python bench/pg_plans.py               # BENCH_POSTGRES_URL or the default
    .venv/bin/python bench/pg_plans.py --rebuild
    .venv/bin/python bench/pg_plans.py --only plans  # or audit
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_pg_plans"
# 13:00 in Shanghai: the morning shift runs, no briefing or quiz is due (so the sweeps
# read what they read every minute, without a fan-out of thousands of messages).
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
BIG = 10_000  # a sequential scan of a table larger than this is a missing index
DAYS = 90

FILL = [
    # 2,000,000 sent over 90 days, 20,000 given up, then what waits: due, retrying
    # later, mid-send with a lease run out and with a live lease.
    """INSERT INTO outbox (dedupe_key, purpose, chat_id, method, payload, status, attempts,
           next_attempt_at, created_at, sent_at, telegram_message_id)
       SELECT 'bench:' || i, 'briefing', -1001000000000 - (i % 10000), 'sendMessage',
              '{"text": "x"}', CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'sent' END, 1,
              ts, ts, ts, i
       FROM generate_series(1, 2000000) AS i,
            LATERAL (SELECT $1::timestamp - interval '90 days'
                            + (i * interval '90 days' / 2000000)) AS t(ts)""",
    """INSERT INTO outbox (dedupe_key, purpose, chat_id, method, payload, status, attempts,
           next_attempt_at, created_at, lease_owner, lease_until)
       SELECT 'due:' || i, 'alert', -1001000000000 - (i % 10000), 'sendMessage',
              '{"text": "x"}',
              CASE WHEN i <= 5000 THEN 'pending' ELSE 'sending' END,
              CASE WHEN i <= 3000 THEN 0 ELSE 2 END,
              CASE WHEN i <= 3000 THEN $1::timestamp - interval '10 seconds'
                   ELSE $1::timestamp + interval '5 minutes' END,
              $1::timestamp - interval '1 minute',
              CASE WHEN i > 5000 THEN 'other-host#abc' END,
              CASE WHEN i > 5200 THEN $1::timestamp + interval '1 minute'
                   WHEN i > 5000 THEN $1::timestamp - interval '1 minute' END
       FROM generate_series(1, 5400) AS i""",
    # 300,000 hazards: most closed; 19,500 open and watched; 500 due for escalation.
    """WITH teams AS (SELECT array_agg(id ORDER BY id) AS ids FROM unit WHERE kind = 'team'),
            people AS (SELECT array_agg(id ORDER BY id) AS ids FROM person)
       INSERT INTO hazard (code, unit_id, team_unit_id, reporter_id, state, severity,
           category, reported_at, alerted_level, version, updated_at, watch,
           watch_deadline, next_escalation_at, closed_at)
       SELECT 'YH-' || i, teams.ids[1 + i % 10000], teams.ids[1 + i % 10000],
              people.ids[1 + i % 100000],
              CASE WHEN i <= 280000 THEN 'closed' ELSE 'reported' END,
              (ARRAY['general', 'serious', 'major'])[1 + i % 3], 'electrical',
              $1::timestamp - (i % 365) * interval '1 day', -1, 1, $1::timestamp,
              CASE WHEN i > 280000 THEN 'ack' END,
              CASE WHEN i > 280000 THEN $1::timestamp END,
              CASE WHEN i > 299500 THEN $1::timestamp - interval '1 minute'
                   WHEN i > 280000 THEN $1::timestamp + (i % 1000) * interval '1 minute'
              END,
              CASE WHEN i <= 280000 THEN $1::timestamp END
       FROM generate_series(1, 300000) AS i, teams, people""",
    # A morning and an afternoon shift a day for 90 days, every team; all held but
    # today's, of which one in twenty is late; every ended shift's summary asked for.
    """INSERT INTO pre_shift_meeting (unit_id, shift_key, shift_name, starts_at, ends_at,
           posted_at, held_at, summary_prompted_at, briefing_html, language,
           roll_call_dirty, roll_call_edits)
       SELECT u.id, to_char(day, 'YYYY-MM-DD') || '/' || s.name, s.name,
              day + s.starts, day + s.starts + interval '8 hours',
              day + s.starts - interval '15 minutes',
              CASE WHEN day + s.starts < $1::timestamp - interval '1 day' OR u.id % 20 <> 0
                   THEN day + s.starts + interval '5 minutes' END,
              CASE WHEN day + s.starts + interval '8 hours' <= $1::timestamp
                   THEN day + s.starts + interval '8 hours' END,
              '', 'zh', false, 0
       FROM unit AS u,
            generate_series($1::timestamp - interval '89 days' - interval '5 hours',
                            $1::timestamp - interval '5 hours', interval '1 day') AS day,
            (VALUES ('早班', interval '0 hours'), ('中班', interval '8 hours')) AS s(name, starts)
       WHERE u.kind = 'team' AND day + s.starts <= $1::timestamp""",
    # A week of check-ins: eight of the ten members of each meeting.
    """INSERT INTO attendance (meeting_id, person_id, checked_in_at)
       SELECT m.id, g.person_id, m.starts_at
       FROM pre_shift_meeting AS m
       JOIN role_grant AS g ON g.unit_id = m.unit_id
       WHERE m.starts_at > $1::timestamp - interval '7 days' AND g.person_id % 10 < 8""",
    # A handover a day per team for 90 days, settled; 100 awaiting, 20 of them due.
    """INSERT INTO handover (unit_id, chat_id, outgoing_id, equipment, work_in_progress,
           safety_notes, open_hazards, state, created_at, accepted_at, next_check_at,
           version)
       SELECT u.id, -1001000000000 - u.id, 1, '', '', '', '',
              CASE WHEN n > 100 THEN 'accepted' ELSE 'awaiting' END,
              $1::timestamp - n * interval '1 day' / 111, $1::timestamp,
              CASE WHEN n <= 20 THEN $1::timestamp - interval '1 minute'
                   WHEN n <= 100 THEN $1::timestamp + interval '20 minutes' END, 1
       FROM unit AS u, generate_series(1, 90) AS n
       WHERE u.kind = 'team'""",
    """INSERT INTO processed_update (bot_id, update_id, processed_at)
       SELECT 7000000001, i, $1::timestamp - (1000000 - i) * interval '20 milliseconds'
       FROM generate_series(1, 1000000) AS i""",
    # Everyone with a role on a team is a member of its group.
    """INSERT INTO membership (group_chat_id, person_id, active, first_seen, last_seen)
       SELECT c.id, g.person_id, true, $1::timestamp - interval '90 days',
              $1::timestamp - interval '1 hour'
       FROM role_grant AS g JOIN group_chat AS c ON c.unit_id = g.unit_id""",
]


def _pg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def build(url: str, rebuild: bool) -> None:
    """Create, migrate and fill the database unless it is filled already."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = await asyncpg.connect(_pg_dsn(url, "postgres"))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    connection = await asyncpg.connect(_pg_dsn(url))
    try:
        filled = await connection.fetchval("SELECT to_regclass('public.hazard') IS NOT NULL") \
            and await connection.fetchval("SELECT EXISTS (SELECT 1 FROM hazard)")
        if filled and not rebuild:
            print("database already filled (use --rebuild to start again)")
        else:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            await _import_org(url)
            for statement in FILL:
                started = time.perf_counter()
                status = await connection.execute(statement, NOW.replace(tzinfo=None))
                print(f"  {status} in {time.perf_counter() - started:.0f} s: "
                      f"{statement.split('INSERT INTO ')[1].split()[0]}", flush=True)
        started = time.perf_counter()
        await _migrate(url)  # migrations after the fill: a new index is built on full tables
        print(f"  migrations brought up to date in {time.perf_counter() - started:.1f} s")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _migrate(url: str) -> None:
    from storage.db import Database
    from storage.migrate import upgrade

    db = Database(url)
    await upgrade(db)
    await db.dispose()


async def _import_org(url: str) -> None:
    from org_import import write_org

    from content.render import Renderer
    from domain.clock import ManualClock
    from services.base import Runtime
    from services.org import import_file
    from storage.db import Database

    await _migrate(url)
    db = Database(url)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "org.yaml"
        write_org(path, 10_000, 10)
        started = time.perf_counter()
        report = await import_file(Runtime(db=db, renderer=Renderer(),
                                           clock=ManualClock(NOW - timedelta(days=DAYS))),
                                   path.read_text(encoding="utf-8"), "org.yaml")
    print(f"  org imported in {time.perf_counter() - started:.0f} s: {report.summary()}")
    await db.dispose()


# -- capturing what the bot sends ---------------------------------------------------------


class Recorder:
    """Keeps every statement the engine sends while recording is on."""

    def __init__(self) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any,
                 _context: Any, executemany: bool) -> None:
        if self.on:
            first = parameters[0] if executemany and parameters else parameters
            self.statements.append((statement, first))

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False


async def explain(db: Any, statement: str, parameters: Any, options: str) -> list[Any]:
    """EXPLAIN one captured statement with its parameters, rolled back afterwards."""
    async with db.engine.connect() as connection:
        transaction = await connection.begin()
        try:
            result = await connection.exec_driver_sql(f"EXPLAIN ({options}) {statement}",
                                                      tuple(parameters or ()))
            return [row[0] for row in result.all()]
        finally:
            await transaction.rollback()


# -- 1. the plans of the doc ----------------------------------------------------------------


async def plans(url: str) -> None:
    from sqlalchemy import event

    from storage import hazards as hazard_repo
    from storage import meetings as meeting_repo
    from storage import org as org_repo
    from storage import outbox as outbox_repo
    from storage.db import Database

    db = Database(url)
    recorder = Recorder()
    event.listen(db.engine.sync_engine, "before_cursor_execute", recorder)
    meeting_grace, lookback = timedelta(minutes=30), timedelta(hours=24)

    async with db.session() as session:
        team_id = await _a_team_id(session)

    async def one_team(session: Any) -> Any:
        return await meeting_repo.exists(session, team_id, "2026-11-23/早班",
                                         NOW - timedelta(hours=5))

    cases: list[tuple[str, Callable[[Any], Awaitable[Any]]]] = [
        ("escalation sweep: hazards due (storage.hazards.due_for_escalation)",
         lambda s: hazard_repo.due_for_escalation(s, NOW)),
        ("outbox claim (storage.outbox.claim_due: the read FOR UPDATE SKIP LOCKED, "
         "then the conditional update)",
         lambda s: outbox_repo.claim_due(s, now=NOW, owner="plans#1",
                                         lease=timedelta(minutes=2))),
        ("outbox: when the next row falls due (storage.outbox.next_due_at)",
         outbox_repo.next_due_at),
        ("pre-shift sweep: teams with a group (storage.units.teams_with_groups)",
         org_repo.teams_with_groups),
        ("pre-shift sweep: briefing already posted? (storage.meetings.exists, per due team)",
         one_team),
        ("pre-shift sweep: meetings not held (storage.meetings.not_held)",
         lambda s: meeting_repo.not_held(s, NOW - meeting_grace,
                                         NOW - meeting_grace - lookback)),
        ("pre-shift sweep: shifts ended without a summary "
         "(storage.meetings.ended_without_summary)",
         lambda s: meeting_repo.ended_without_summary(s, NOW, NOW - lookback)),
    ]
    for title, call in cases:
        async with db.session() as session:
            with recorder.recording() as statements:
                await call(session)
            await session.rollback()
        print(f"\n### {title}\n")
        for statement, parameters in statements:
            print("```sql")
            print(_with_values(statement, parameters))
            print("```\n```text")
            print("\n".join(await explain(db, statement, parameters, "ANALYZE, BUFFERS")))
            print("```")
    await db.dispose()


async def _a_team_id(session: Any) -> int:
    from sqlmodel import col, select

    from storage.models import Unit

    result = await session.exec(select(Unit.id).where(Unit.kind == "team", col(Unit.id) > 0)
                                .order_by(col(Unit.id)).limit(1))
    return int(result.one())


def _with_values(statement: str, parameters: Any) -> str:
    """The statement with its parameters written in, for reading (not for running)."""
    text = statement
    for index in range(len(parameters or ()), 0, -1):
        value = parameters[index - 1]
        shown = f"'{value.isoformat(sep=' ')}'" if isinstance(value, datetime) else \
            f"'{value}'" if isinstance(value, str) else str(value)
        text = text.replace(f"${index}::", f"{shown}::").replace(f"${index}", shown)
    return text


# -- 2. the audit: every sweep, every statement ------------------------------------------------


async def audit(url: str) -> int:
    """Run each sweep and the sender's statements once; list big sequential scans."""
    from sqlalchemy import event

    from content.render import Renderer
    from scheduler.documents import document_sweep
    from scheduler.escalation import escalation_sweep, idle_draft_sweep
    from scheduler.evacuations import evacuation_sweep
    from scheduler.handovers import handover_sweep
    from scheduler.housekeeping import forget_old_updates
    from scheduler.meetings import pre_shift_sweep
    from scheduler.quizzes import daily_quiz_sweep
    from scheduler.roll_calls import roll_call_sweep
    from storage import outbox as outbox_repo
    from storage.db import Database

    db = Database(url)
    recorder = Recorder()
    event.listen(db.engine.sync_engine, "before_cursor_execute", recorder)
    renderer, wake, zone = Renderer(), (lambda: None), "Asia/Shanghai"
    grace = timedelta(minutes=30)
    sweeps: dict[str, Callable[[datetime], Awaitable[None]]] = {
        "escalate-hazards": escalation_sweep(db, renderer, "zh", wake),
        "drop-idle-reports": idle_draft_sweep(db, renderer, "zh", wake),
        "pre-shift-meetings": pre_shift_sweep(db, renderer, default_language="zh",
                                              default_timezone=zone, reminder_grace=grace,
                                              meeting_grace=grace, wake=wake),
        "watch-handovers": handover_sweep(db, renderer, escalate_after=timedelta(hours=2),
                                          default_language="zh", wake=wake),
        "policy-documents": document_sweep(db, renderer, default_language="zh",
                                           reminders=(timedelta(days=1),),
                                           reminder_grace=grace, wake=wake),
        "daily-quiz": daily_quiz_sweep(db, renderer, default_language="zh",
                                       default_timezone=zone,
                                       at=datetime(2026, 1, 1, 10).time(),
                                       window=timedelta(hours=2), wake=wake),
        "evacuations": evacuation_sweep(db, renderer, default_language="zh",
                                        default_timezone=zone,
                                        missing_after=timedelta(minutes=10), wake=wake),
        "roll-calls": roll_call_sweep(db, renderer, wake=wake),
        "forget-old-updates": forget_old_updates(db),
    }

    async def sender(now: datetime) -> None:
        owner = "audit#1"
        async with db.transaction() as session:
            await outbox_repo.take_back(session, instance="audit", owner=owner)
            claimed = await outbox_repo.claim_due(session, now=now, owner=owner,
                                                  lease=timedelta(minutes=2))
        async with db.transaction() as session:
            await outbox_repo.renew_claims(session, owner=owner, until=now)
            await outbox_repo.mark_sent_many(
                session, [(row.id or 0, 1, 1) for row in claimed[:50]], owner=owner, now=now)
            for row in claimed[50:51]:
                await outbox_repo.mark_retry(session, row.id or 0, owner=owner,
                                             next_attempt_at=now, error="429", attempts=1)
        async with db.session() as session:
            await outbox_repo.next_due_at(session)

    sweeps["outbox sender"] = sender
    sizes = await _table_sizes(db)
    found: dict[str, tuple[str, str, Any]] = {}
    for name, sweep in sweeps.items():
        with recorder.recording() as statements:
            started = time.perf_counter()
            await sweep(NOW)
            took = time.perf_counter() - started
        print(f"{name}: {len(statements)} statements in {took:.2f} s")
        for statement, parameters in statements:
            verb = statement.lstrip().split(None, 1)[0].upper()
            if verb in ("SELECT", "UPDATE", "DELETE", "WITH"):
                found.setdefault(statement, (name, verb, parameters))
    problems = 0
    print(f"\n{len(found)} distinct statements; sequential scans of tables over {BIG:,} rows:")
    for statement, (name, _verb, parameters) in found.items():
        answer = (await explain(db, statement, parameters, "FORMAT JSON"))[0]
        plan = json.loads(answer) if isinstance(answer, str) else answer
        scans = list(_scans(plan[0]["Plan"]))
        # Reading most of a big table (every team, every minute) is a sequential scan
        # by right; picking a few rows out of one is a missing index.
        big = [(table, kind) for table, kind, rows in scans
               if kind == "Seq Scan" and sizes.get(table, 0) > BIG
               and rows < sizes[table] / 2]
        tables = ", ".join(f"{table} ({kind})" for table, kind, _ in scans)
        mark = "SEQ SCAN ON A BIG TABLE" if big else "ok"
        problems += bool(big)
        print(f"- [{mark}] {name}: {' '.join(statement.split())[:110]}…\n    {tables}")
    await db.dispose()
    print(f"\n{problems} statement(s) scan a big table sequentially")
    return problems


def _scans(node: dict[str, Any]) -> Iterator[tuple[str, str, float]]:
    """(table, how it is read, rows expected) of every table a plan reads."""
    if "Relation Name" in node:
        yield node["Relation Name"], node["Node Type"], node.get("Plan Rows", 0)
    for child in node.get("Plans", []):
        yield from _scans(child)


async def _table_sizes(db: Any) -> dict[str, int]:
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        result = await connection.execute(text(
            "SELECT relname, reltuples::bigint FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"))
        return {name: int(rows) for name, rows in result.all()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--only", choices=["plans", "audit"])
    args = parser.parse_args()
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    logging.basicConfig(level=logging.ERROR)  # the sweeps' warnings are not the point here
    asyncio.run(build(url, args.rebuild))
    if args.only != "audit":
        asyncio.run(plans(url))
    if args.only != "plans":
        sys.exit(1 if asyncio.run(audit(url)) else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
