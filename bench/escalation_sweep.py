"""Benchmark: an escalation sweep costs what is due, not what is stored.

Target (hazard issue): with 1,000,000 hazards in SQLite of which 1,000 are due,
one sweep finishes in ≤ 1 s, and sweep time at 1,000,000 stored ÷ at 10,000
stored (same 1,000 due) ≤ 2.

    .venv/bin/python bench/escalation_sweep.py            # 10,000 and 1,000,000
    .venv/bin/python bench/escalation_sweep.py --big 200000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _org import enterprise_and_workshop, team

from content.render import Renderer
from domain.org import Role
from scheduler.escalation import escalation_sweep
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DUE = 1000


async def build(path: Path, total: int) -> Database:
    """A database with an org, an officer and a manager, and ``total`` hazards."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    async with db.transaction() as s:
        ent, ws = await enterprise_and_workshop(s, NOW)
        teams = [await team(s, ws, i, NOW) for i in range(50)]
        for telegram_id, unit, role in ((1, ws, Role.SAFETY_OFFICER), (2, ent, Role.MANAGER)):
            person = await people_repo.upsert_person(s, telegram_id=telegram_id, name="P",
                                                     username=None, language_code=None, now=NOW)
            person.started = True
            await org_repo.grant_role(s, person=person, unit=unit, role=role, now=NOW)
        reporter = await people_repo.upsert_person(s, telegram_id=3, name="R", username=None,
                                                   language_code=None, now=NOW)
        team_ids = [t.id for t in teams]
        reporter_id = reporter.id
    await db.dispose()
    # Bulk rows straight through sqlite3: building a million ORM objects is not the point.
    connection = sqlite3.connect(path)
    stamp = "2026-11-23 06:00:00.000000"
    later = "2026-11-30 06:00:00.000000"
    rows = []
    for n in range(total):
        due = n % (total // DUE) == 0 and n // (total // DUE) < DUE
        state = "reported" if due or n % 3 else "closed"
        nxt = stamp if due else (later if state == "reported" else None)
        rows.append((f"YH-BENCH-{n:07d}", team_ids[n % 50], team_ids[n % 50], reporter_id,
                     state, ("general", "serious", "major")[(n // 7) % 3], "electrical",
                     "somewhere", stamp, "ack", stamp, -1, nxt, 1, stamp))
    connection.executemany(
        "INSERT INTO hazard (code, unit_id, team_unit_id, reporter_id, state, severity, "
        "category, location_text, reported_at, watch, watch_deadline, alerted_level, "
        "next_escalation_at, version, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    connection.commit()
    connection.close()
    return Database(f"sqlite+aiosqlite:///{path}")


async def sweep_seconds(total: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        db = await build(Path(folder) / "bench.db", total)
        sweep = escalation_sweep(db, Renderer(), "zh", lambda: None)
        started = time.perf_counter()
        await sweep(NOW)
        elapsed = time.perf_counter() - started
        async with db.session() as s:
            from sqlmodel import func, select

            from storage.models import OutboxMessage

            queued = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()
        await db.dispose()
    assert queued >= DUE, f"only {queued} alerts queued"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    args = parser.parse_args()
    small = asyncio.run(sweep_seconds(args.small))
    big = asyncio.run(sweep_seconds(args.big))
    print(f"sweep with {DUE} due of {args.small:,} stored: {small:.3f} s")
    print(f"sweep with {DUE} due of {args.big:,} stored: {big:.3f} s (target ≤ 1 s)")
    print(f"ratio big/small: {big / small:.2f} (target ≤ 2)")


if __name__ == "__main__":
    main()
