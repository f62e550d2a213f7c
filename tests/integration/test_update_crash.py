"""No update lost or handled twice through a kill -9: the real bot in its own process.

Quiz-poll answers pour in (each one a training-record row). The bot is killed with
SIGKILL at the moment it confirms an offset to Telegram, mid-stream: after the
inbox committed the batches below that offset and before they were all handled.
At that moment every update below the offset must be in the inbox (Telegram
forgets them now). Started again, the bot must record every answer exactly once:
what the inbox holds unhandled is handed over first, what was fetched but not
confirmed is fetched again, and what was handled already is dropped by the
redelivery guard.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from content.quizzes import shipped_bank
from content.render import Renderer
from domain.clock import SystemClock
from domain.delivery import OutboxStatus
from domain.org import UnitKind
from services.quizzes import poll_params
from storage import org as org_repo
from storage.db import Database, insert_skipping_duplicates
from storage.migrate import upgrade
from storage.models import Membership, OutboxMessage, Person, QuizPoll
from tests.integration.test_outbox_crash import ROOT, START_LIMIT, _spawn, _stop
from tgserver import TelegramTestServer
from tgserver.driver import UserHandle
from tgserver.world import BotState, Message, StoredFile

GROUPS = 12
MEMBERS = 25


class OffsetWatch:
    """Sees every getUpdates; kills the bot at the first offset at or past ``kill_at``.

    The kill happens inside the server's handling of that call, before it answers:
    the bot's last word to Telegram was "everything below this offset is done".
    """

    def __init__(self, server: TelegramTestServer, token: str) -> None:
        self.token = token
        self.kill_at: int | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.killed_at_offset: int | None = None
        self.killed = asyncio.Event()
        self._handle = server.handle
        server.handle = self.handle  # type: ignore[method-assign]

    async def handle(self, token: str, method: str, params: dict[str, Any],
                     uploads: dict[str, StoredFile]) -> tuple[int, dict[str, Any]]:
        if token == self.token and method == "getUpdates" and self.kill_at is not None:
            offset = int(params.get("offset") or 0)
            if offset >= self.kill_at and self.process is not None \
                    and self.process.returncode is None:
                os.kill(self.process.pid, signal.SIGKILL)
                self.killed_at_offset = offset
                self.kill_at = None
                self.killed.set()
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        return await self._handle(token, method, params, uploads)


async def plant_polls(server: TelegramTestServer, bot: BotState, db_url: str
                      ) -> list[tuple[Message, list[UserHandle]]]:
    """Team groups bound in the bot's database, each with today's quiz poll posted."""
    d = server.driver(bot)
    question = next(q for q in shipped_bank().questions if q.single_answer)
    params = poll_params(Renderer(), question, "zh")
    polls: list[tuple[Message, list[UserHandle]]] = []
    for g in range(GROUPS):
        people = [d.user(f"Worker {g}-{m}", language_code="zh") for m in range(MEMBERS)]
        chat = d.group(f"班组 {g}", members=people, admins=people[:1])
        chat.chat.statuses[bot.user.id] = "member"
        await server.api.call(bot, "sendPoll", {**params, "chat_id": chat.chat.id})
        polls.append((server.world.messages[chat.chat.id][-1], people))
    db = Database(db_url)
    await upgrade(db)
    now = SystemClock().now()
    async with db.transaction() as s:
        plant = await org_repo.create_unit(s, key="plant", kind=UnitKind.ENTERPRISE,
                                           name="Plant", parent=None, now=now)
        shop = await org_repo.create_unit(s, key="shop", kind=UnitKind.WORKSHOP, name="Shop",
                                          parent=plant, now=now)
        await insert_skipping_duplicates(s, Person, ["telegram_id"], [
            {"telegram_id": u.id, "name": u.name, "started": False,
             "blocked": False, "is_admin": False, "created_at": now, "updated_at": now}
            for _, people in polls for u in people])
        person_ids = {p.telegram_id: p.id for p in (await s.exec(select(Person)))}
        for n, (message, people) in enumerate(polls):
            team = await org_repo.create_unit(s, key=f"team{n}", kind=UnitKind.TEAM,
                                              name=f"Team {n}", parent=shop, now=now,
                                              timezone="UTC")
            group = await org_repo.upsert_group_chat(s, chat_id=message.chat.id,
                                                     title=f"班组 {n}", chat_type="group",
                                                     now=now)
            await org_repo.bind_chat(s, group, team, now=now)
            s.add_all([Membership(group_chat_id=group.id or 0, person_id=person_ids[u.id] or 0,
                                  first_seen=now, last_seen=now) for u in people])
            row = OutboxMessage(purpose="quiz_poll", chat_id=message.chat.id,
                                method="sendPoll", payload="{}", status=OutboxStatus.SENT,
                                next_attempt_at=now, created_at=now, sent_at=now,
                                telegram_message_id=message.message_id,
                                poll_id=message.extra["poll"]["id"])
            s.add(row)
            await s.flush()
            s.add(QuizPoll(unit_id=team.id or 0, chat_id=message.chat.id,
                           day=f"{now:%Y-%m-%d}", question_id=question.id,
                           correct_option=min(question.correct), outbox_id=row.id,
                           posted_at=now))
    await db.dispose()
    return polls


def answer_all(server: TelegramTestServer, bot: BotState,
               polls: list[tuple[Message, list[UserHandle]]]) -> dict[int, int]:
    """Every member votes once; returns each vote's update id -> the voter's id."""
    voters: dict[int, int] = {}
    for message, people in polls:
        for n, person in enumerate(people):
            person.answer_poll(message, [n % len(message.extra["poll"]["options"])])
            voters[bot.queued_ids[-1]] = person.id
    return voters


def recorded_voters(db_file: Path) -> list[int]:
    """The Telegram id behind every quiz record (a voter twice means recorded twice)."""
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute(
            "SELECT p.telegram_id FROM training_record r JOIN person p ON p.id = r.person_id "
            "WHERE r.kind = 'quiz'").fetchall()
    return [int(telegram_id) for (telegram_id,) in rows]


def processed_ids(db_file: Path) -> list[int]:
    """The update ids marked done."""
    with sqlite3.connect(db_file) as connection:
        return [int(i) for (i,) in connection.execute(
            "SELECT update_id FROM processed_update WHERE processed_at IS NOT NULL")]


def inbox(db_file: Path) -> tuple[set[int], set[int]]:
    """The update ids in the inbox: all of them, and those not yet handled."""
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute("SELECT update_id, processed_at FROM processed_update")
        pairs = [(int(i), done) for i, done in rows]
    return {i for i, _ in pairs}, {i for i, done in pairs if done is None}


def bot_env(server: TelegramTestServer, bot: BotState, tmp_path: Path, db_url: str,
            **extra: str) -> dict[str, str]:
    """The environment of a ``safetybot run`` child against the test server."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": bot.token,
            "TELEGRAM_API_BASE_URL": server.url, "DATABASE_URL": db_url,
            "MEDIA_DIR": str(tmp_path / "media"), "LOG_LEVEL": "INFO",
            "DEFAULT_TIMEZONE": "UTC",
            "FLOOD_OVERALL_PER_SECOND": "1000", "FLOOD_GROUP_PER_MINUTE": "1000", **extra}


@pytest.mark.parametrize("kill_fraction", [0.2, 0.6])
async def test_kill_9_while_answers_pour_in_loses_none_and_records_each_once(
        server: TelegramTestServer, tmp_path: Path, kill_fraction: float) -> None:
    server.flood.enabled = False
    bot = server.create_bot()
    db_file = tmp_path / "bot.db"
    db_url = f"sqlite+aiosqlite:///{db_file}"
    polls = await plant_polls(server, bot, db_url)
    bot.queue.clear()  # the polls' own updates are not what is measured
    bot.queued_ids.clear()
    voters = answer_all(server, bot, polls)
    first_id, total = min(voters), len(voters)
    watch = OffsetWatch(server, bot.token)
    watch.kill_at = first_id + int(total * kill_fraction)
    env = bot_env(server, bot, tmp_path, db_url)
    log = tmp_path / "bot.log"

    first = await _spawn(env, tmp_path, log)
    watch.process = first
    try:
        async with asyncio.timeout(START_LIMIT):
            await watch.killed.wait()
        await first.wait()
    finally:
        await _stop(first)
    # The bot said "mine below this offset" and died: each of those must be in the
    # inbox, and some not yet handled (the kill came before handling was over).
    assert watch.killed_at_offset is not None
    confirmed = {update_id for update_id in voters if update_id < watch.killed_at_offset}
    stored, unhandled = inbox(db_file)
    assert confirmed - stored == set(), log.read_text()[-3000:]
    assert unhandled & confirmed, "the kill came after handling: nothing was in the inbox only"
    assert len(recorded_voters(db_file)) < total

    second = await _spawn(env, tmp_path, log)
    try:
        await server.driver(bot).until_delivered(timeout=START_LIMIT)
        # Confirmed means stored; wait until every answer is also handled.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_LIMIT
        while inbox(db_file)[1] or len(recorded_voters(db_file)) < total:
            assert loop.time() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.05)  # another process's database: nothing to await
    finally:
        await _stop(second)
    on_record = recorded_voters(db_file)
    assert sorted(on_record) == sorted(voters.values())  # each exactly once, none lost
    assert sorted(processed_ids(db_file)) == sorted(voters)
    assert inbox(db_file)[1] == set()
