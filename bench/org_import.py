"""Benchmark: importing a big organisation file.

Target (production issue, "Big organisations"): an org file of 10,000 teams × 10
people imports into an empty database in ≤ 60 s with a peak of ≤ 300 MB; importing
the same file again (nothing changes) takes ≤ 20 s.

The file: 10 enterprises × 10 workshops × 100 teams, each team with a group chat
and a shift schedule, 10 people per team (a team leader and nine workers with a
post), a safety officer per workshop and a manager per enterprise (about 101,000
people and as many roles). Each step runs in a fresh process (the way
``safetybot org import`` runs), so its peak RSS is its own:

1. import into an empty database;
2. import the same file again (nothing may change);
3. import a file with a few changes (teams renamed, people moved to another team,
   posts changed, people and a team added, two groups rebound, a workshop moved
   to another enterprise).

Times are wall-clock seconds of the import (reading the file included) and the
CPU seconds of the importing process (on a shared machine the wall time carries
others' load; PostgreSQL's own work is not in the CPU figure).

SQLite always; PostgreSQL too when reachable (``BENCH_POSTGRES_URL``, default
``postgresql+asyncpg://postgres@127.0.0.1:5432/bench_org_import``; the database is
created when missing and its public schema is dropped before the run).

    .venv/bin/python bench/org_import.py                 # 10,000 teams × 10 people
    .venv/bin/python bench/org_import.py --teams 1000    # a quicker look
    .venv/bin/python bench/org_import.py --no-postgres
    .venv/bin/python bench/org_import.py --tracemalloc   # also Python's own peak (slower)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

GOAL_SECONDS = 60.0
GOAL_REIMPORT_SECONDS = 20.0
GOAL_PEAK_MB = 300.0
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_org_import"
ENTERPRISES, WORKSHOPS_PER_ENTERPRISE = 10, 10
POSTS = ("welder", "electrician", "chemical-operator", "forklift-driver")
# Each line of people (a team's member) costs about 6 lines of YAML: built as text, not
# with yaml.dump, so writing the file is not what the benchmark waits for.


def team_key(n: int) -> str:
    return f"t{n:05d}"


def person_id(team: int, member: int) -> int:
    return 1_000_000 + team * 100 + member


def write_org(path: Path, teams: int, per_team: int, *, changed: bool = False) -> None:
    """The benchmark's org file; ``changed`` gives the version with a few edits."""
    per_workshop = max(1, teams // (ENTERPRISES * WORKSHOPS_PER_ENTERPRISE))
    renamed = set(range(0, teams, max(1, teams // 10))) if changed else set()
    moved = {person_id(n, 3): (n + 1) % teams for n in range(0, teams, max(1, teams // 10))} \
        if changed else {}
    reposted = {person_id(n, 4) for n in range(0, teams, max(1, teams // 10))} \
        if changed else set()
    rebound = {1: -1009000000001, 2: -1009000000002} if changed else {}
    # The last workshop of enterprise 0 moves to enterprise 1.
    moving_workshop = (0, WORKSHOPS_PER_ENTERPRISE - 1) if changed else None
    lines = ["version: 1", "timezone: Asia/Shanghai", "language: zh", "admins: [100001]",
             "units:"]
    team = 0
    workshops: dict[int, list[tuple[int, int]]] = {e: [] for e in range(ENTERPRISES)}
    for e in range(ENTERPRISES):
        for w in range(WORKSHOPS_PER_ENTERPRISE):
            owner = e + 1 if (e, w) == moving_workshop else e
            workshops[owner].append((e, w))
    ranges: dict[tuple[int, int], range] = {}
    for e in range(ENTERPRISES):
        for w in range(WORKSHOPS_PER_ENTERPRISE):
            last = (e, w) == (ENTERPRISES - 1, WORKSHOPS_PER_ENTERPRISE - 1)
            end = teams if last else min(teams, team + per_workshop)
            ranges[(e, w)] = range(team, end)
            team = end
    for e in range(ENTERPRISES):
        lines += [f"  - key: ent{e:02d}", "    kind: enterprise", f"    name: 化工企业{e:02d}",
                  "    children:"]
        for we, w in workshops[e]:
            lines += [f"      - key: ws{we:02d}-{w:02d}", "        kind: workshop",
                      f"        name: 车间{we:02d}-{w:02d}", "        children:"]
            for n in ranges[(we, w)]:
                name = f"班组{n:05d}" + ("（更名）" if n in renamed else "")
                chat = rebound.get(n, -1001000000000 - n)
                lines += [f"          - key: {team_key(n)}", "            kind: team",
                          f"            name: {name}", f"            chat_id: {chat}",
                          "            shifts: {shifts: [{name: 早班, start: '08:00', "
                          "end: '16:00'}, {name: 中班, start: '16:00', end: '00:00'}]}"]
            if not ranges[(we, w)]:
                lines[-1] = "        children: []"
    if changed:
        lines += [f"          - key: {team_key(teams)}", "            kind: team",
                  "            name: 新建班组"]
    lines += ["people:", "  - telegram_id: 100001", "    name: 系统管理员"]
    for e in range(ENTERPRISES):
        lines += [f"  - telegram_id: {200000 + e}", f"    name: 厂长{e:02d}", "    roles:",
                  f"      - {{unit: ent{e:02d}, role: manager}}"]
        for w in range(WORKSHOPS_PER_ENTERPRISE):
            lines += [f"  - telegram_id: {300000 + e * 100 + w}",
                      f"    name: 安全员{e:02d}{w:02d}", "    roles:",
                      f"      - {{unit: ws{e:02d}-{w:02d}, role: safety_officer}}"]
    for n in range(teams):
        for m in range(per_team):
            tid = person_id(n, m)
            unit = team_key(moved.get(tid, n))
            role = "team_leader" if m == 0 else "worker"
            lines += [f"  - telegram_id: {tid}", f"    name: 工人{n:05d}-{m:02d}",
                      f"    username: w{tid}"]
            if m:
                post = POSTS[(m + (1 if tid in reposted else 0)) % len(POSTS)]
                lines.append(f"    post: {post}")
            lines += ["    roles:", f"      - {{unit: {unit}, role: {role}}}"]
    if changed:
        for m in range(10):
            lines += [f"  - telegram_id: {900000 + m}", f"    name: 新员工{m}",
                      "    roles:", f"      - {{unit: {team_key(teams)}, role: worker}}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- the child: one import, measured --------------------------------------------------


def _rss_mb() -> float:
    """Peak RSS of this process so far, in MB.

    Linux's ``ru_maxrss`` survives ``exec``: a child would inherit the parent's peak
    (the parent held the generated file). ``VmHWM`` is the peak of this process's
    own memory map.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _import(url: str, path: Path, trace: bool) -> dict[str, Any]:
    from content.render import Renderer
    from domain.clock import SystemClock
    from services.base import Runtime
    from services.org import import_spec
    from services.orgfile import parse_org
    from storage.db import Database

    db = Database(url)
    rt = Runtime(db=db, renderer=Renderer(), clock=SystemClock())
    before = _rss_mb()
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), _cpu_seconds()
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    spec = parse_org(text, path.name)  # what services.org.import_file does, in two steps
    del text
    parsed = time.perf_counter() - started
    report = await import_spec(rt, spec)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    await db.dispose()
    return {"seconds": seconds, "parse": parsed, "cpu": cpu, "peak_mb": _rss_mb(),
            "baseline_mb": before, "traced_mb": traced, "summary": report.summary()}


def child(url: str, path: str, trace: bool) -> None:
    result = asyncio.run(_import(url, Path(path), trace))
    print(json.dumps(result))


# -- the parent: files, databases, the table -----------------------------------------


def _run_child(url: str, path: Path, trace: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", url, str(path)]
    if trace:
        command.append("--tracemalloc")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"import failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


async def _fresh_postgres(url: str) -> str | None:
    """Drop and migrate the benchmark's database; None when PostgreSQL is not there."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    dsn = parsed.set(drivername="postgresql")
    try:
        connection = await asyncpg.connect(dsn.set(database="postgres")
                                           .render_as_string(hide_password=False),
                                           timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                           parsed.database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await connection.close()
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
    await _migrate(url)
    return None


async def _migrate(url: str) -> None:
    from storage.db import Database
    from storage.migrate import upgrade

    db = Database(url)
    await upgrade(db)
    await db.dispose()


def _line(step: str, result: dict[str, Any], goal_seconds: float) -> str:
    traced = f", Python heap peak {result['traced_mb']:.0f} MB" \
        if result.get("traced_mb") is not None else ""
    return (f"  {step:<24} {result['seconds']:7.1f} s ({result['seconds'] / goal_seconds:.2f}"
            f" of {goal_seconds:.0f} s; {result['cpu']:.1f} s CPU)   "
            f"peak RSS {result['peak_mb']:6.0f} MB "
            f"({result['peak_mb'] / GOAL_PEAK_MB:.2f} of {GOAL_PEAK_MB:.0f} MB; "
            f"{result['baseline_mb']:.0f} MB before reading){traced}\n"
            f"  {'':<24} reading the file {result['parse']:.1f} s, the database "
            f"{result['seconds'] - result['parse']:.1f} s\n"
            f"  {'':<24} {result['summary']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, default=10_000)
    parser.add_argument("--per-team", type=int, default=10)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.tracemalloc)
        return
    with tempfile.TemporaryDirectory() as folder:
        original, edited = Path(folder) / "org.yaml", Path(folder) / "org-changed.yaml"
        started = time.perf_counter()
        write_org(original, args.teams, args.per_team)
        write_org(edited, args.teams, args.per_team, changed=True)
        size = original.stat().st_size / 2**20
        print(f"org file: {args.teams:,} teams × {args.per_team} people, {size:.1f} MB, "
              f"{original.read_text(encoding='utf-8').count(chr(10)):,} lines "
              f"(written in {time.perf_counter() - started:.1f} s)")
        targets: list[tuple[str, str]] = []
        if not args.no_sqlite:
            sqlite_url = f"sqlite+aiosqlite:///{folder}/bench.db"
            asyncio.run(_migrate(sqlite_url))
            targets.append(("SQLite", sqlite_url))
        if not args.no_postgres:
            url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
            why = asyncio.run(_fresh_postgres(url))
            if why is None:
                targets.append(("PostgreSQL", url))
            else:
                print(f"PostgreSQL skipped ({why})")
        for name, url in targets:
            print(f"{name}:")
            for step, path, goal in (("import (empty db)", original, GOAL_SECONDS),
                                     ("re-import, unchanged", original, GOAL_REIMPORT_SECONDS),
                                     ("re-import, a few edits", edited, GOAL_SECONDS)):
                print(_line(step, _run_child(url, path, args.tracemalloc), goal), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
