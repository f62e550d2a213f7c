"""Benchmark: the daily quiz poll in many groups, and a flood of ``poll_answer`` updates.

``--groups`` team groups of ``--answers / --groups`` members each have their daily
quiz poll; every member answers once. The test server holds all the updates at
once and hands them out as fast as the bot fetches them. For this bot and beside
it a bare python-telegram-bot bot (a ``PollAnswerHandler`` that records nothing),
on the same test server in the same run:

- answers handled per second (this bot: recorded in the training record);
- for this bot: every answer recorded exactly once;
- the same again with the bot killed (SIGKILL) halfway and started again: how many
  answers are recorded in the end (none lost is the goal).

Each bot runs in its own process, as in production; the test server runs here.
The polls are put in place directly (database rows and the test server's
messages), since posting them is the outbox's business, measured elsewhere.

    .venv/bin/python bench/quiz_poll_answers.py
    .venv/bin/python bench/quiz_poll_answers.py --groups 50 --answers 500

Goal (issue 13): ratio ≥ 0.5, none lost, also across a kill -9.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _child import serve
from sqlmodel import func, select

from content.quizzes import shipped_bank
from domain.clock import SystemClock
from domain.org import UnitKind
from services.quizzes import poll_params
from storage import org as org_repo
from storage.db import Database, insert_skipping_duplicates
from storage.migrate import upgrade
from storage.models import Membership, OutboxMessage, Person, QuizPoll, TrainingRecord
from tgserver import TelegramTestServer
from tgserver.world import BotState, Message


@dataclass
class Plant:
    """One bot's groups, their poll messages and the members who answer."""

    account: BotState
    polls: list[tuple[int, Message, list[Any]]]  # chat id, poll message, members


async def _plant(server: TelegramTestServer, account: BotState, groups: int,
                 members: int) -> Plant:
    d = server.driver(account)
    question = next(q for q in shipped_bank().questions if q.single_answer)
    from content.render import Renderer
    params = poll_params(Renderer(), question, "zh")
    plant = Plant(account, [])
    for g in range(groups):
        people = [d.user(f"Q{g}-{m}", language_code="zh") for m in range(members)]
        chat = d.group(f"Team {g}", members=people, admins=people[:1])
        chat.add_bot(by=people[0])
        await server.api.call(account, "sendPoll", {**params, "chat_id": chat.id})
        plant.polls.append((chat.id, server.world.messages[chat.id][-1], people))
    account.queue.clear()  # the joins are not what is measured
    account.queued_ids.clear()
    return plant


async def _org(db_url: str, plant: Plant) -> None:
    """Teams bound to the groups, their members known, today's poll of each recorded."""
    db = Database(db_url)
    await upgrade(db)
    now = SystemClock().now()
    question = next(q for q in shipped_bank().questions if q.single_answer)
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=now)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=now)
        await insert_skipping_duplicates(s, Person, ["telegram_id"], [
            {"telegram_id": u.id, "name": u.name, "started": False, "blocked": False,
             "is_admin": False, "created_at": now, "updated_at": now}
            for _, _, people in plant.polls for u in people])
        ids = {p.telegram_id: p.id for p in (await s.exec(select(Person))).all()}
        for n, (chat_id, message, people) in enumerate(plant.polls):
            team = await org_repo.create_unit(s, key=f"t{n}", kind=UnitKind.TEAM,
                                              name=f"Team {n}", parent=ws, now=now,
                                              timezone="UTC")
            group = await org_repo.upsert_group_chat(s, chat_id=chat_id, title=f"Team {n}",
                                                     chat_type="group", now=now)
            await org_repo.bind_chat(s, group, team, now=now)
            s.add_all([Membership(group_chat_id=group.id or 0, person_id=ids[u.id] or 0,
                                  first_seen=now, last_seen=now) for u in people])
            row = OutboxMessage(purpose="quiz_poll", chat_id=chat_id, method="sendPoll",
                                payload="{}", status="sent", next_attempt_at=now,
                                created_at=now, sent_at=now,
                                telegram_message_id=message.message_id,
                                poll_id=message.extra["poll"]["id"])
            s.add(row)
            await s.flush()
            s.add(QuizPoll(unit_id=team.id or 0, chat_id=chat_id, day=f"{now:%Y-%m-%d}",
                           question_id=question.id, correct_option=min(question.correct),
                           outbox_id=row.id, posted_at=now))
    await db.dispose()


def _answer_all(plant: Plant) -> int:
    """Every member votes once (the test server queues one update per vote)."""
    count = 0
    for _, message, people in plant.polls:
        for n, person in enumerate(people):
            person.answer_poll(message, [n % len(message.extra["poll"]["options"])])
            count += 1
    return count


async def _recorded(db_url: str) -> int:
    db = Database(db_url)
    try:
        async with db.session() as s:
            return int((await s.exec(select(func.count()).select_from(TrainingRecord))).one())
    finally:
        await db.dispose()


async def _until(predicate: Any, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)  # a benchmark may wait; tests never do
    return True


def _spawn(kind: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--child", kind, *args],
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def measure_bare(server: TelegramTestServer, groups: int, members: int) -> float:
    account = server.create_bot(username="BarePollBot")
    plant = await _plant(server, account, groups, members)
    child = _spawn("bare", account.token, server.base_url)
    try:
        await asyncio.sleep(2)  # the child starts polling
        total = _answer_all(plant)
        started = time.monotonic()

        async def drained() -> bool:
            return not account.queue

        await _until(drained, 600)
        return total / (time.monotonic() - started)
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)


async def measure_safety(server: TelegramTestServer, folder: Path, groups: int, members: int,
                         *, kill: bool) -> tuple[float, int, int]:
    """Answers recorded per second, how many were recorded, how many were sent."""
    account = server.create_bot(username=f"SafetyPoll{'Kill' if kill else ''}Bot")
    plant = await _plant(server, account, groups, members)
    db_url = f"sqlite+aiosqlite:///{folder / ('kill.db' if kill else 'safety.db')}"
    await _org(db_url, plant)
    child = _spawn("safety", account.token, server.url, db_url)
    try:
        await asyncio.sleep(3)  # the child migrates and starts polling
        total = _answer_all(plant)
        started = time.monotonic()
        if kill:
            async def half() -> bool:
                return await _recorded(db_url) >= total // 2

            await _until(half, 600, every=0.01)
            child.send_signal(signal.SIGKILL)
            child.wait(60)
            child = _spawn("safety", account.token, server.url, db_url)

        async def done() -> bool:
            return await _recorded(db_url) >= total

        finished = await _until(done, 600 if not kill else 120, every=0.1)
        elapsed = time.monotonic() - started
        if not finished and not account.queue:
            await asyncio.sleep(2)  # the last batch may still be in hand
        return total / elapsed, await _recorded(db_url), total
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)


async def run(groups: int, answers: int) -> None:
    members = max(1, answers // groups)
    server = TelegramTestServer()
    await server.start()
    server.flood.enabled = False
    with tempfile.TemporaryDirectory() as folder:
        bare = await measure_bare(server, groups, members)
        rate, recorded, total = await measure_safety(server, Path(folder), groups, members,
                                                     kill=False)
        _, after_kill, kill_total = await measure_safety(server, Path(folder), groups, members,
                                                         kill=True)
    await server.stop()
    print(f"{groups} groups × {members} members = {total} poll answers")
    print(f"answers per second: bare (records nothing) {bare:.0f}, this bot (recorded) "
          f"{rate:.0f}, ratio {rate / bare:.2f} (goal ≥ 0.5)")
    print(f"recorded: {recorded} of {total} (none lost: {recorded == total})")
    print(f"killed (SIGKILL) halfway and started again: {after_kill} of {kill_total} recorded "
          f"(none lost: {after_kill == kill_total})")


# ------------------------------------------------------------------ the bots


async def child_bare(token: str, base_url: str) -> None:
    """A bare PTB bot: a poll answer handler that records nothing."""
    from telegram import Update
    from telegram.ext import ApplicationBuilder, PollAnswerHandler

    async def answered(update: Update, _context: Any) -> None:
        assert update.poll_answer is not None

    app = ApplicationBuilder().token(token).base_url(base_url).build()
    app.add_handler(PollAnswerHandler(answered))
    await serve(app)


async def child_safety(token: str, api_url: str, db_url: str) -> None:
    """This bot as ``safetybot run`` starts it (the timetable on, the system clock)."""
    from bot.app import build_application
    from bot.settings import Settings

    settings = Settings(telegram_bot_token=token, telegram_api_base_url=api_url,
                        database_url=db_url, default_timezone="UTC")
    await serve(build_application(settings))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=2000)
    parser.add_argument("--answers", type=int, default=20000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tornado.access").setLevel(logging.CRITICAL)
    logging.getLogger("telegram.ext.Updater").setLevel(logging.CRITICAL)  # time-outs at stop
    if args.child:
        kind, *rest = args.child
        asyncio.run(child_bare(*rest) if kind == "bare" else child_safety(*rest))
        return
    asyncio.run(run(args.groups, args.answers))


if __name__ == "__main__":
    main()
