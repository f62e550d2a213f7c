"""Benchmark: one pre-shift sweep with 1,000 briefings due, and its longest write lock.

On SQLite a write transaction locks out every other writer (a check-in, a
report) until it commits. The sweep writes a batch of teams per transaction and
composes each batch's texts before writing them, so the lock is held briefly.

    .venv/bin/python bench/briefing_sweep_lock.py [--teams 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _org import briefing_sweep, enterprise_and_workshop, team
from sqlalchemy import event

from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 11, 23, 7, 45, tzinfo=UTC)  # 15 minutes before the 08:00 shift
SHIFTS = {"briefing_before": "15m",
          "shifts": [{"name": "早班", "start": "08:00", "end": "16:00"}]}
WRITES = ("INSERT", "UPDATE", "DELETE")


async def run(teams: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'sweep.db'}")
        await upgrade(db)
        async with db.transaction() as s:
            _, ws = await enterprise_and_workshop(s, NOW)
            for n in range(teams):
                await team(s, ws, n, NOW, shifts=SHIFTS, timezone="UTC", chat_id=-1000 - n)
        holds: list[float] = []
        first_write: list[float | None] = [None]

        def executing(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
            # SQLite (pysqlite) begins the transaction, and takes the lock, at the first write.
            if first_write[0] is None and sql.lstrip().upper().startswith(WRITES):
                first_write[0] = time.perf_counter()

        def committed(_c: Any) -> None:
            if first_write[0] is not None:
                holds.append(time.perf_counter() - first_write[0])
                first_write[0] = None

        event.listen(db.engine.sync_engine, "before_cursor_execute", executing)
        event.listen(db.engine.sync_engine, "commit", committed)
        sweep = briefing_sweep(db, "UTC")
        started = time.perf_counter()
        await sweep(NOW)
        elapsed = time.perf_counter() - started
        await db.dispose()
    print(f"{teams} briefings due: sweep {elapsed:.2f} s in {len(holds)} write transactions, "
          f"longest write lock {max(holds):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=1000)
    asyncio.run(run(parser.parse_args().teams))


if __name__ == "__main__":
    main()
