"""Benchmark: a shift starts — thousands of workers tap check-in, and a burst of commands.

Briefings are posted in ``--groups`` team groups of ``--workers`` each. Then, for
this bot and beside it a bare python-telegram-bot bot (default settings, one
button, answering every press) on the same Telegram test server, in the same run:

- a burst: half the workers tap at once; taps answered per second;
- a steady 100 taps/s: the other half; the p99 time from tap to answer;
- taps answered too late (Telegram stops waiting after 15 s: the worker sees a
  spinner and no confirmation);
- for this bot: database sessions opened per tap, every check-in stored once, and
  every roll call showing everyone who tapped within the throttle window;
- a burst of ``--commands`` group commands (``/help``), both bots behind the same
  flood limiter (Telegram's 30 messages/s): replies per second.

Each bot runs in its own process, as in production; the test server runs here.

    .venv/bin/python bench/checkin_taps.py
    .venv/bin/python bench/checkin_taps.py --groups 50 --workers 20 --commands 200

Goals (the service-layer issue): taps ratio ≥ 0.7, p99 ≤ 1 s at 100 taps/s, no
tap answered late, commands ratio ≥ 0.9.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from _child import serve
from sqlalchemy import event
from sqlmodel import func, select

from bot.app import flood_limiter
from domain.clock import SystemClock
from domain.org import UnitKind
from domain.roll_call import EDIT_EVERY
from storage import org as org_repo
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Attendance
from tgserver import TelegramTestServer
from tgserver.world import BotState, Message

STEADY_RATE = 100.0  # taps per second


@dataclass
class Plant:
    """The groups and workers one bot serves on the test server."""

    account: BotState
    warm_up: Any = None  # taps once before the measurement: the bot is up and polling
    groups: list[int] = field(default_factory=list)
    workers: dict[int, list[Any]] = field(default_factory=dict)  # chat id -> user handles


@dataclass
class Result:
    burst_rate: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    late: int = 0
    commands_rate: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _schedule_briefing_now(now: datetime) -> dict[str, object]:
    start = (now + timedelta(minutes=15)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=8)
    return {"briefing_before": "15m",
            "shifts": [{"name": "早班", "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}]}


def _plant(server: TelegramTestServer, account: BotState, groups: int,
           workers: int) -> Plant:
    d = server.driver(account)
    plant = Plant(account)
    for g in range(groups):
        people = [d.user(f"W{g}-{w}", language_code="zh") for w in range(workers)]
        chat = d.group(f"Team {g}", members=people, admins=people[:1])
        chat.add_bot(by=people[0])
        if plant.warm_up is None:
            plant.warm_up = d.user("Warm-up", language_code="zh")
            chat.add_member(plant.warm_up)
        plant.groups.append(chat.id)
        plant.workers[chat.id] = people
    account.queue.clear()  # the joins are not what is measured
    account.queued_ids.clear()
    return plant


async def _org(db_url: str, plant: Plant) -> None:
    db = Database(db_url)
    await upgrade(db)
    now = SystemClock().now()
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                         name="Acme", parent=None, now=now)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=now)
        for n, chat_id in enumerate(plant.groups):
            team = await org_repo.create_unit(s, key=f"t{n}", kind=UnitKind.TEAM,
                                              name=f"Team {n}", parent=ws, now=now,
                                              timezone="UTC")
            team.extra_json = json.dumps({"shifts": _schedule_briefing_now(now)})
            group = await org_repo.upsert_group_chat(s, chat_id=chat_id, title=f"Team {n}",
                                                     chat_type="group", now=now)
            await org_repo.bind_chat(s, group, team, now=now)
    await db.dispose()


def _button_message(server: TelegramTestServer, chat_id: int, prefix: str) -> Message | None:
    for message in reversed(server.world.messages.get(chat_id, [])):
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if str(button.get("callback_data", "")).startswith(prefix):
                    return message
    return None


def _callback(message: Message, prefix: str) -> str:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if str(button.get("callback_data", "")).startswith(prefix):
                return str(button["callback_data"])
    raise AssertionError("no button")


async def _until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)  # a benchmark may wait; tests never do
    return True


def _settled(account: BotState, ids: list[str]) -> bool:
    errors = {e.params.get("callback_query_id") for e in account.errors
              if e.method.lower() == "answercallbackquery"}
    return all(i in account.callback_answered_at or i in errors for i in ids)


async def _taps(server: TelegramTestServer, plant: Plant, prefix: str,
                signal_child: Any) -> Result:
    account = plant.account
    result = Result()
    buttons = {c: _button_message(server, c, prefix) for c in plant.groups}
    if not await _until(lambda: all(buttons.values()) or _refresh(server, plant, prefix,
                                                                  buttons), 120):
        raise SystemExit(f"buttons missing in {sum(not b for b in buttons.values())} groups")
    first_buttons = buttons[plant.groups[0]]
    assert first_buttons is not None
    warm = plant.warm_up.click_data(first_buttons, _callback(first_buttons, prefix))
    await _until(lambda: _settled(account, [warm]), 60)
    pairs = [(c, w) for c in plant.groups for w in plant.workers[c]]
    half = len(pairs) // 2
    burst, steady = pairs[:half], pairs[half:]
    signal_child()  # sessions before
    ids = []
    for chat_id, worker in burst:
        message = buttons[chat_id]
        assert message is not None
        ids.append(worker.click_data(message, _callback(message, prefix)))
    await _until(lambda: _settled(account, ids), 120)
    answered = [account.callback_answered_at[i] for i in ids if i in account.callback_answered_at]
    first = min(account.callback_pressed_at[i] for i in ids)
    result.burst_rate = len(answered) / (max(answered) - first) if answered else 0.0
    late = len(ids) - len(answered)
    steady_ids = []
    start = time.monotonic()
    for n, (chat_id, worker) in enumerate(steady):
        wait = start + n / STEADY_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        message = buttons[chat_id]
        assert message is not None
        steady_ids.append(worker.click_data(message, _callback(message, prefix)))
    await _until(lambda: _settled(account, steady_ids), 120)
    signal_child()  # sessions after
    waits = sorted(account.callback_answered_at[i] - account.callback_pressed_at[i]
                   for i in steady_ids if i in account.callback_answered_at)
    late += len(steady_ids) - len(waits)
    result.late = late
    if waits:
        result.p50 = waits[len(waits) // 2]
        result.p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    result.extra["taps"] = len(ids) + len(steady_ids)
    result.extra["last_tap"] = time.monotonic()
    return result


def _refresh(server: TelegramTestServer, plant: Plant, prefix: str,
             buttons: dict[int, Message | None]) -> bool:
    for chat_id in plant.groups:
        if buttons[chat_id] is None:
            buttons[chat_id] = _button_message(server, chat_id, prefix)
    return all(buttons.values())


async def _commands(server: TelegramTestServer, plant: Plant, count: int) -> float:
    world = server.world

    def replies() -> int:
        return sum(1 for c in plant.groups for m in world.messages.get(c, [])
                   if m.by_bot_id == plant.account.user.id and m.reply_to is not None)

    before = replies()
    server.flood.enabled = True
    started = time.monotonic()
    for n in range(count):
        chat_id = plant.groups[n % len(plant.groups)]
        plant.workers[chat_id][(n // len(plant.groups)) % len(plant.workers[chat_id])] \
            .send(chat_id, "/help")
    done = await _until(lambda: replies() - before >= count, 600)
    elapsed = time.monotonic() - started
    server.flood.enabled = False
    if not done:
        print(f"  only {replies() - before} of {count} commands answered")
    return (replies() - before) / elapsed


async def _snapshots(stats: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bot's counters before and after the taps (it writes them on SIGUSR1)."""
    await _until(lambda: stats.exists() and len(stats.read_text().splitlines()) >= 2, 30)
    lines = stats.read_text().splitlines()  # noqa: ASYNC240 — a few bytes, once
    return json.loads(lines[0]), json.loads(lines[1])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _spawn(kind: str, *args: str) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, __file__, "--child", kind, *args],
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    profile = os.environ.get("CHECKIN_TAPS_PROFILE")  # py-spy output for this bot's process
    if profile and kind == "safety":
        subprocess.Popen(["py-spy", "record", "--format", "raw", "-o", profile,
                          "--pid", str(child.pid)])  # ends when the bot does
    return child


async def measure_bare(server: TelegramTestServer, folder: Path, groups: int, workers: int,
                       commands: int) -> Result:
    account = server.create_bot(username="BareBot")
    plant = _plant(server, account, groups, workers)
    stats = folder / "bare.jsonl"
    child = _spawn("bare", account.token, server.base_url, str(stats))
    try:
        from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
        async with Bot(account.token, base_url=server.base_url) as poster:
            for chat_id in plant.groups:
                await poster.send_message(chat_id, "Check in", reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("✓", callback_data="in")]]))
        result = await _taps(server, plant, "in", lambda: child.send_signal(signal.SIGUSR1))
        before, after = await _snapshots(stats)
        result.extra["cpu_ms_per_tap"] = (after["cpu"] - before["cpu"]) * 1000 \
            / result.extra["taps"]
        result.commands_rate = await _commands(server, plant, commands)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    return result


async def measure_safety(server: TelegramTestServer, folder: Path, groups: int, workers: int,
                         commands: int) -> Result:
    account = server.create_bot(username="SafetyBenchBot")
    plant = _plant(server, account, groups, workers)
    db_url = f"sqlite+aiosqlite:///{folder / 'safety.db'}"
    await _org(db_url, plant)
    stats = folder / "stats.jsonl"
    child = _spawn("safety", account.token, server.url, db_url, str(stats))
    try:
        server.flood.enabled = True  # the briefings go out at Telegram's pace
        result = await _taps(server, plant, "pm:in:", lambda: child.send_signal(signal.SIGUSR1))
        server.flood.enabled = False
        before, after = await _snapshots(stats)
        result.extra["cpu_ms_per_tap"] = (after["cpu"] - before["cpu"]) * 1000 \
            / result.extra["taps"]
        result.extra["sessions_per_tap"] = (after["sessions"] - before["sessions"]) \
            / result.extra["taps"]
        result.extra["check_in_transactions"] = after["check_ins"] - before["check_ins"]
        result.extra["statements_per_tap"] = (after["statements"] - before["statements"]) \
            / result.extra["taps"]
        tapped = {c: {w.name for w in plant.workers[c]} for c in plant.groups}

        def all_shown() -> bool:
            for chat_id, names in tapped.items():
                message = _button_message(server, chat_id, "pm:in:")
                text = (message.text or "") if message else ""
                if not all(name in text for name in names):
                    return False
            return True

        server.flood.enabled = True
        shown = await _until(all_shown, 6 * EDIT_EVERY.total_seconds())
        result.extra["roll_calls_shown_after"] = time.monotonic() - result.extra["last_tap"]
        result.extra["roll_calls_complete"] = shown
        server.flood.enabled = False
        db = Database(db_url)
        async with db.session() as s:
            stored = (await s.exec(select(func.count()).select_from(Attendance))).one()
        await db.dispose()
        result.extra["stored"] = stored - 1  # not the warm-up tap
        result.commands_rate = await _commands(server, plant, commands)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    return result


async def run(groups: int, workers: int, commands: int) -> None:
    server = TelegramTestServer()
    await server.start()
    server.flood.enabled = False
    with tempfile.TemporaryDirectory() as folder:
        bare = await measure_bare(server, Path(folder), groups, workers, commands)
        safety = await measure_safety(server, Path(folder), groups, workers, commands)
    await server.stop()
    taps = groups * workers
    print(f"{groups} groups × {workers} workers = {taps} taps: a burst of {taps // 2}, "
          f"then {taps - taps // 2} at {STEADY_RATE:.0f}/s; {commands} group commands")
    print(f"burst, taps answered per second: bare {bare.burst_rate:.0f}, "
          f"this bot {safety.burst_rate:.0f}, ratio {safety.burst_rate / bare.burst_rate:.2f} "
          f"(goal ≥ 0.7)")
    print(f"steady {STEADY_RATE:.0f} taps/s, tap to answer: p50 {safety.p50 * 1000:.0f} ms, "
          f"p99 {safety.p99 * 1000:.0f} ms (goal ≤ 1000 ms; bare p99 {bare.p99 * 1000:.0f} ms)")
    print(f"taps answered too late: this bot {safety.late}, bare {bare.late} (goal 0)")
    print(f"bot CPU per tap (its process, threads included): bare "
          f"{bare.extra['cpu_ms_per_tap']:.2f} ms, "
          f"this bot {safety.extra['cpu_ms_per_tap']:.2f} ms")
    print(f"database sessions per tap: {safety.extra['sessions_per_tap']:.3f}, statements "
          f"{safety.extra['statements_per_tap']:.2f} (the roll-call edits and sweeps included) "
          f"({safety.extra['check_in_transactions']} check-in transactions for "
          f"{safety.extra['taps']} taps)")
    print(f"check-ins stored: {safety.extra['stored']} for {taps} workers who tapped once "
          f"(stored once: {safety.extra['stored'] == taps})")
    print(f"every roll call shows everyone: {safety.extra['roll_calls_complete']}, "
          f"{safety.extra['roll_calls_shown_after']:.1f} s after the last tap "
          f"(throttle window {EDIT_EVERY.total_seconds():.0f} s per group)")
    print(f"commands, replies per second behind the flood limiter: bare "
          f"{bare.commands_rate:.1f}, this bot {safety.commands_rate:.1f}, ratio "
          f"{safety.commands_rate / bare.commands_rate:.2f} (goal ≥ 0.9)")


# ------------------------------------------------------------------ the bots


async def child_bare(token: str, base_url: str, stats: str) -> None:
    """A bare PTB bot as its tutorial writes it: answers presses, replies to /help."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

    async def pressed(update: Update, _context: Any) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("✓")

    async def help_command(update: Update, _context: Any) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Help: press the button to check in.")

    app = (ApplicationBuilder().token(token).base_url(base_url)
           .rate_limiter(flood_limiter(28.5, 20)).build())
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(CommandHandler("help", help_command))

    def snapshot() -> None:
        with open(stats, "a", encoding="utf-8") as out:
            out.write(json.dumps({"cpu": _cpu_seconds()}) + "\n")

    await serve(app, snapshot)


async def child_safety(token: str, api_url: str, db_url: str, stats: str) -> None:
    """This bot as ``safetybot run`` starts it (the timetable on, the system clock)."""
    from bot.app import build_application
    from bot.services import get_services
    from bot.settings import Settings

    settings = Settings(telegram_bot_token=token, telegram_api_base_url=api_url,
                        database_url=db_url, default_timezone="UTC")
    app = build_application(settings)
    services = get_services(app.bot_data)
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)

    import cProfile
    profiler = cProfile.Profile() if os.environ.get("CHECKIN_TAPS_CPROFILE") else None
    snapshots = [0]

    def snapshot() -> None:
        snapshots[0] += 1
        if profiler is not None:
            if snapshots[0] == 1:
                profiler.enable()
            else:
                profiler.disable()
                profiler.dump_stats(os.environ["CHECKIN_TAPS_CPROFILE"])
        with open(stats, "a", encoding="utf-8") as out:
            out.write(json.dumps({"cpu": _cpu_seconds(), "statements": statements[0],
                                  "sessions": services.db.sessions_opened,
                                  "check_ins": services.check_ins.transactions}) + "\n")

    await serve(app, snapshot)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)
    logging.getLogger("telegram.ext.Updater").setLevel(logging.CRITICAL)  # time-outs at stop
    if args.child:
        kind, *rest = args.child
        asyncio.run(child_bare(*rest) if kind == "bare" else child_safety(*rest))
        return
    asyncio.run(run(args.groups, args.workers, args.commands))


if __name__ == "__main__":
    main()
