"""Benchmark: one pre-shift sweep with nothing due, by teams and by stored meetings.

The sweep runs every minute over every team. It must not grow with the meeting
history (a year of three shifts a day at 2,000 teams is 2.2 million rows) and
should cost well under a second at 2,000 teams.

    .venv/bin/python bench/meeting_sweep_idle.py
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _org import briefing_sweep, enterprise_and_workshop, team

from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 11, 23, 3, 7, tzinfo=UTC)  # 11:07 in Shanghai: no briefing due
SHIFTS = {"briefing_before": "15m", "shifts": [
    {"name": "早班", "start": "08:00", "end": "16:00"},
    {"name": "中班", "start": "16:00", "end": "00:00"},
    {"name": "夜班", "start": "00:00", "end": "08:00"}],
    "holidays": ["2026-10-01", "2026-10-02", "2026-10-03"]}
STAMP = "%Y-%m-%d %H:%M:%S.000000"


async def idle_sweep_seconds(teams: int, days: int) -> float:
    """Seconds per idle sweep with ``teams`` teams and ``days`` days of held meetings."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "meetings.db"
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        async with db.transaction() as s:
            _, ws = await enterprise_and_workshop(s, NOW)
            ids = [(await team(s, ws, n, NOW, shifts=SHIFTS)).id for n in range(teams)]
        await db.dispose()
        # The history goes in through sqlite3 directly: millions of rows, quickly.
        connection = sqlite3.connect(path)
        now = NOW.strftime(STAMP)
        connection.executemany(
            "INSERT INTO group_chat (chat_id, title, chat_type, unit_id, active, added_at,"
            " updated_at) VALUES (?, ?, 'supergroup', ?, 1, ?, ?)",
            [(-1000 - n, f"Team {n}", unit_id, now, now) for n, unit_id in enumerate(ids)])
        for day in range(1, days + 1):
            at = (NOW - timedelta(days=day)).strftime(STAMP)
            shift_day = (NOW - timedelta(days=day)).date()
            connection.executemany(
                "INSERT INTO pre_shift_meeting (unit_id, shift_key, shift_name, starts_at,"
                " ends_at, posted_at, held_at, summary_prompted_at, briefing_html, language)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', 'zh')",
                [(unit_id, f"{shift_day}/{name}", name, at, at, at, at, at)
                 for unit_id in ids for name in ("早班", "中班", "夜班")])
        connection.commit()
        connection.close()
        db = Database(f"sqlite+aiosqlite:///{path}")
        sweep = briefing_sweep(db, "Asia/Shanghai")
        await sweep(NOW)  # warm: schedules parsed, pages cached
        started = time.perf_counter()
        for _ in range(3):
            await sweep(NOW)
        await db.dispose()
        return (time.perf_counter() - started) / 3


async def main() -> None:
    small = await idle_sweep_seconds(20, 0)
    fresh = await idle_sweep_seconds(2000, 0)
    year = await idle_sweep_seconds(2000, 365)
    print(f"idle sweep, 20 teams: {small:.3f} s")
    print(f"idle sweep, 2,000 teams: {fresh:.3f} s (target ≤ 1 s)")
    print(f"idle sweep, 2,000 teams and a year of meetings (2.2 M rows): {year:.3f} s")
    print(f"ratio year/fresh: {year / fresh:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    asyncio.run(main())
