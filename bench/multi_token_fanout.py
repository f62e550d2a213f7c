"""Benchmark: 10,000 pre-shift reminders due in one minute, sent by 1, 2 and 4 bot tokens.

Telegram limits each bot token to about 30 messages a second, so one token needs
almost six minutes for 10,000 groups. With several tokens (``TELEGRAM_EXTRA_BOT_TOKENS``)
each group is bound to one bot and the outbox sender paces every bot by its own
flood limiter: the fan-out should be about as many times faster as there are tokens.
Goal (production issue): speed-up ≥ 0.9 × the number of tokens.

The reminders are the real pre-shift sweep's briefings, queued once (the setup,
timed on its own) and copied for each run; each run spreads the groups over the
bots as new groups going to the least loaded bot do (one after another), then
times the outbox sender until every briefing is delivered. The test server runs
in a child process enforcing the flood limits per token (scaled by ``--speed``),
so the bot's process has a core of its own.

    .venv/bin/python bench/multi_token_fanout.py                         # 10,000 groups, real rate
    .venv/bin/python bench/multi_token_fanout.py --groups 1000 --speed 2
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _org import briefing_sweep, enterprise_and_workshop, team
from sqlalchemy import case, update
from sqlmodel import col, func, select
from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot

from bot.app import flood_limiter
from bot.http import BotApiHTTP
from bot.outbox import OutboxDispatcher
from domain.clock import SystemClock
from storage.db import Database
from storage.migrate import upgrade
from storage.models import GroupChat, OutboxMessage
from tgserver import TelegramTestServer

FIRST_GROUP_ID = 4000001  # the test server numbers basic groups -4000001, -4000002, …


def chat_id_of(n: int) -> int:
    """The id the test server gives the n-th basic group it makes (from 0)."""
    return -(FIRST_GROUP_ID + n)


def schedule_briefing_now(now: datetime) -> dict[str, object]:
    """A shift starting 15 minutes after the current minute: its briefing is due now."""
    start = (now + timedelta(minutes=15)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=8)
    return {"briefing_before": "15m",
            "shifts": [{"name": "早班", "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}]}


# ---------------------------------------------------------------- the server (child)

def serve(bots: int, groups: int, speed: float, conn: Connection) -> None:
    """The child process: a test server with ``bots`` accounts, group n holding bot n % bots."""
    asyncio.run(_serve(bots, groups, speed, conn))


async def _serve(bots: int, groups: int, speed: float, conn: Connection) -> None:
    server = TelegramTestServer()
    await server.start()
    server.flood.enabled, server.flood.speed = True, speed
    accounts = [server.create_bot(username=f"SafetyBot{n}", first_name=f"Safety {n}")
                for n in range(bots)]
    chats = []
    for n in range(groups):
        chat = server.world.new_group(f"Team {n}")
        chat.statuses[accounts[n % bots].user.id] = "member"
        chats.append(chat.id)
    conn.send({"url": server.url, "tokens": [a.token for a in accounts],
               "bot_ids": [a.user.id for a in accounts], "chats": chats})
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
    sent_by = {chat_id: [m.by_bot_id for m in server.world.messages[chat_id] if m.by_bot_id]
               for chat_id in chats}
    conn.send({"sent_by": sent_by,
               "flood_429": {a.user.id: sum(1 for e in a.errors if e.error_code == 429)
                             for a in accounts},
               "other_errors": sum(1 for a in accounts for e in a.errors
                                   if e.error_code != 429)})
    await server.stop()


# ---------------------------------------------------------------- the bot (this process)

async def _watch_loop(lags: list[float]) -> None:
    """How late the event loop wakes (a busy machine makes every limiter send late)."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - started - 0.01)


async def queue_reminders(path: Path, groups: int) -> float:
    """Build the organisation and run the pre-shift sweep once; returns its seconds."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await upgrade(db)
    now = SystemClock().now()
    async with db.transaction() as s:
        _, ws = await enterprise_and_workshop(s, now)
        for n in range(groups):
            await team(s, ws, n, now, shifts=schedule_briefing_now(now), timezone="UTC",
                       chat_id=chat_id_of(n), chat_type="group")
    started = time.perf_counter()
    await briefing_sweep(db, "UTC")(SystemClock().now())
    swept = time.perf_counter() - started
    async with db.session() as s:
        queued = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()
    await db.dispose()
    if queued != groups:
        raise SystemExit(f"the sweep queued {queued} briefings for {groups} groups")
    return swept


def _limiter(budget: float, speed: float, burst: int) -> AIORateLimiter:
    """The bot's flood limiter; ``burst`` > 1 lets that many sends catch up after the
    event loop woke late (an experiment: the bot's own holds one, see bot.app)."""
    if burst == 1:
        return flood_limiter(30 * budget, 20, speed)
    return AIORateLimiter(overall_max_rate=burst, overall_time_period=burst / (30 * budget * speed),
                          group_max_rate=20, group_time_period=60 / speed, max_retries=0)


async def fan_out(template: Path, folder: Path, bots: int, groups: int, speed: float,
                  budget: float, burst: int = 1) -> dict[str, Any]:
    """One run: ``bots`` tokens send every queued briefing; the seconds it took and checks."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve, args=(bots, groups, speed, child), daemon=True)
    process.start()
    world = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    if world["chats"] != [chat_id_of(n) for n in range(groups)]:
        raise SystemExit("the test server numbered its groups differently")
    path = folder / f"run-{bots}.db"
    shutil.copy(template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    bot_ids: list[int] = world["bot_ids"]
    async with db.transaction() as s:
        # Group n to bot n % bots: what "new groups go to the least loaded" makes of
        # groups joining one after another.
        n_of = -col(GroupChat.chat_id) - FIRST_GROUP_ID
        await s.exec(update(GroupChat).values(bot_id=case(  # type: ignore[call-overload]
            *((n_of % bots == index, bot_id) for index, bot_id in enumerate(bot_ids)))))
    senders: dict[int, Bot] = {}
    for bot_id, token in zip(bot_ids, world["tokens"], strict=True):
        senders[bot_id] = ExtBot(token, base_url=f"{world['url']}/bot",
                                 base_file_url=f"{world['url']}/file/bot",
                                 rate_limiter=_limiter(budget, speed, burst),
                                 request=BotApiHTTP(8))
        await senders[bot_id].initialize()
    main = senders[bot_ids[0]]
    dispatcher = OutboxDispatcher(main, db, SystemClock(),
                                  senders=senders if bots > 1 else None)
    lags: list[float] = []
    watching = asyncio.create_task(_watch_loop(lags))
    started, cpu = time.perf_counter(), time.process_time()
    while True:
        await dispatcher.dispatch_due()
        async with db.session() as s:
            waiting = (await s.exec(select(func.count()).select_from(OutboxMessage).where(
                col(OutboxMessage.status).in_(["pending", "sending"])))).one()
        if not waiting:
            break
        await asyncio.sleep(0.05)  # a benchmark may wait; only tests may not
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    watching.cancel()
    lags.sort()
    for bot in senders.values():
        await bot.shutdown()
    async with db.session() as s:
        by_status = dict((await s.exec(select(OutboxMessage.status, func.count())
                                       .group_by(col(OutboxMessage.status)))).all())
    await db.dispose()
    parent.send("stop")
    summary = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    process.join(timeout=30)
    right_bot = all(sent == [bot_ids[n % bots]]
                    for n, sent in enumerate(summary["sent_by"][c] for c in world["chats"]))
    return {"bots": bots, "seconds": elapsed, "cpu": cpu, "by_status": by_status,
            "lag_p50": lags[len(lags) // 2] if lags else 0.0,
            "lag_p90": lags[len(lags) * 9 // 10] if lags else 0.0,
            "once_by_its_bot": right_bot, "flood_429": sum(summary["flood_429"].values()),
            "other_errors": summary["other_errors"]}


async def run(groups: int, speed: float, budget: float, counts: list[int],
              burst: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        template = folder / "template.db"
        swept = await queue_reminders(template, groups)
        print(f"groups: {groups}, speed factor: {speed}, limiter at {budget:.0%} of 30/s "
              f"per token; the sweep queued the briefings in {swept:.1f} s")
        results = []
        for bots in counts:
            result = await fan_out(template, folder, bots, groups, speed, budget, burst)
            results.append(result)
            minimum = groups / (30 * speed * bots)
            print(f"{bots} token(s): {result['seconds']:.1f} s (minimum the limits allow "
                  f"{minimum:.1f} s, ratio {result['seconds'] / minimum:.3f}); each group "
                  f"once by its own bot: {result['once_by_its_bot']}; outbox "
                  f"{result['by_status']}; 429s {result['flood_429']}, other errors "
                  f"{result['other_errors']}; the bot's CPU {result['cpu']:.1f} s, its event "
                  f"loop late by {result['lag_p50'] * 1000:.1f} ms (median), "
                  f"{result['lag_p90'] * 1000:.1f} ms (p90)")
    one = results[0]
    for result in results[1:]:
        speed_up = one["seconds"] / result["seconds"] * one["bots"]
        print(f"speed-up with {result['bots']} tokens: {speed_up:.2f} "
              f"(goal ≥ {0.9 * result['bots']:.1f}, {speed_up / result['bots']:.2f} × tokens)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="the test server's speed factor (and the limiters')")
    parser.add_argument("--budget", type=float, default=0.95,
                        help="share of each token's overall limit its rate limiter may use")
    parser.add_argument("--tokens", default="1,2,4", help="token counts to run, the first "
                        "is the baseline")
    parser.add_argument("--burst", type=int, default=1,
                        help="sends a limiter may let out together to catch up after the "
                        "event loop woke late (the bot's limiter: 1)")
    args = parser.parse_args()
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("bot.outbox").setLevel(logging.ERROR)
    asyncio.run(run(args.groups, args.speed, args.budget,
                    [int(n) for n in args.tokens.split(",")], args.burst))


if __name__ == "__main__":
    main()
