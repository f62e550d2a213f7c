"""Exactly once through kill -9: the real bot in its own process, killed mid-fan-out.

The test server lets through the first k sends of a fan-out and holds the rest
(in flight, not stored), so the kill lands at a known point: k posts accepted by
Telegram, the others claimed and on their way. The bot is killed with SIGKILL,
restarted, and every group must end up with its post exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage import outbox as outbox_repo
from storage.db import Database
from storage.migrate import upgrade
from tgserver import TelegramTestServer
from tgserver.world import BotState, StoredFile

pytestmark = pytest.mark.sqlite_only(
    "the bot runs in its own process, killed with SIGKILL; the test reads its SQLite file")

ROOT = Path(__file__).resolve().parents[2]
GROUPS = 33
START_LIMIT = 60.0  # a guard for a bot process starting on a busy machine, never a wait


class Gate:
    """Lets ``admit`` sendMessage calls into the groups through, holds the others.

    Held calls are never stored: once the process that made them is dead they are
    answered with a 502 that nobody reads, as a connection cut by the crash would be.
    """

    def __init__(self, server: TelegramTestServer, chat_ids: set[int], admit: int,
                 *, store_one_unanswered: bool = False) -> None:
        self.chat_ids = chat_ids
        self.admit: int | None = admit
        self.admitted = 0
        self.held = 0
        # The next call after the admitted ones is stored, but its answer never leaves
        # (its chat id once taken; 0 when the scenario has no such call).
        self.unanswered: int | None = None if store_one_unanswered else 0
        self.changed = asyncio.Event()
        self._killed = asyncio.Event()
        self._handle = server.handle
        server.handle = self.handle  # type: ignore[method-assign]

    async def handle(self, token: str, method: str, params: dict[str, Any],
                     uploads: dict[str, StoredFile]) -> tuple[int, dict[str, Any]]:
        if method == "sendMessage" and int(params.get("chat_id", 0)) in self.chat_ids \
                and self.admit is not None:
            if self.admitted >= self.admit and self.unanswered is None:
                self.unanswered = int(params["chat_id"])
                answer = await self._handle(token, method, params, uploads)
                self.changed.set()
                await self._killed.wait()
                return answer
            if self.admitted >= self.admit:
                self.held += 1
                self.changed.set()
                await self._killed.wait()
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            self.admitted += 1
            self.changed.set()
        return await self._handle(token, method, params, uploads)

    def open(self) -> None:
        """The sender died: drop what was held and let everything through."""
        self.admit = None
        self._killed.set()

    async def until(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                if condition():
                    return
                await self.changed.wait()


async def _queue_posts(db_url: str, chat_ids: list[int]) -> None:
    from datetime import UTC, datetime

    db = Database(db_url)
    await upgrade(db)
    async with db.transaction() as s:
        for n, chat_id in enumerate(chat_ids):
            await outbox_repo.enqueue_text(s, chat_id=chat_id, html=f"<b>班前会</b> {n}",
                                           now=datetime.now(UTC), purpose="test",
                                           dedupe_key=f"post:{chat_id}")
    await db.dispose()


def _count_sent(db_file: Path) -> int:
    with sqlite3.connect(db_file) as connection:
        row = connection.execute("SELECT count(*) FROM outbox WHERE status = 'sent'").fetchone()
    return int(row[0])


def _statuses(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(db_file) as connection:
        rows = connection.execute("SELECT status, count(*) FROM outbox GROUP BY status")
        return {status: int(n) for status, n in rows if n}


async def _until_sent(db_file: Path, wanted: int, timeout: float, why: str) -> None:
    """Poll the bot's database (another process writes it) until ``wanted`` rows are sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (sent := _count_sent(db_file)) < wanted:
        if loop.time() > deadline:
            pytest.fail(f"{why}: {sent} of {wanted} sends recorded after {timeout:.0f} s")
        await asyncio.sleep(0.02)  # polling another process's database, not waiting out time


async def _spawn(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=cwd, env=env, stdout=out,
            stderr=asyncio.subprocess.STDOUT)


def _copies(server: TelegramTestServer, bot: BotState, chat_ids: list[int]) -> dict[int, int]:
    return {chat_id: sum(1 for m in server.world.messages[chat_id]
                         if m.by_bot_id == bot.user.id) for chat_id in chat_ids}


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
        await process.wait()


def _env(server: TelegramTestServer, bot: BotState, tmp_path: Path,
         db_file: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": bot.token,
            "TELEGRAM_API_BASE_URL": server.url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
            "MEDIA_DIR": str(tmp_path / "media"), "LOG_LEVEL": "INFO",
            # Where it is cut is the server's business here, not flood timing.
            "FLOOD_OVERALL_PER_SECOND": "1000", "FLOOD_GROUP_PER_MINUTE": "1000"}


@pytest.mark.parametrize("accepted", [0, 1, 17, GROUPS])
async def test_kill_9_mid_fan_out_then_restart_posts_to_every_group_exactly_once(
        server: TelegramTestServer, tmp_path: Path, accepted: int) -> None:
    bot = server.create_bot()
    chats = [server.world.new_group(f"班组 {n}") for n in range(GROUPS)]
    for chat in chats:
        chat.statuses[bot.user.id] = "member"
    chat_ids = [chat.id for chat in chats]
    db_file = tmp_path / "bot.db"
    await _queue_posts(f"sqlite+aiosqlite:///{db_file}", chat_ids)
    env = _env(server, bot, tmp_path, db_file)
    log = tmp_path / "bot.log"
    gate = Gate(server, set(chat_ids), admit=accepted)

    first = await _spawn(env, tmp_path, log)
    try:
        # k posts accepted, and (unless all were) the next ones in flight, held unstored.
        await gate.until(lambda: gate.admitted >= accepted
                         and (gate.held > 0 or accepted == GROUPS), START_LIMIT)
        # Each accepted send is on the books as soon as Telegram answered, while the
        # rest of the batch is still out: within PTB's 5 s read time-out of the held
        # sends (which would end the batch another way), and with them still in flight.
        await _until_sent(db_file, accepted, 4.0, "accepted sends not recorded before the kill")
        expected = {"sent": accepted, "sending": GROUPS - accepted}
        assert _statuses(db_file) == {k: n for k, n in expected.items() if n}
    finally:
        await _stop(first)
    gate.open()

    second = await _spawn(env, tmp_path, log)
    try:
        # The restarted process takes back at once what its predecessor held (no wait
        # for the two-minute lease), and sends each of those once.
        await _until_sent(db_file, GROUPS, START_LIMIT,
                          "rows left mid-send by the killed process were not sent at once")
    finally:
        await _stop(second)
    copies = _copies(server, bot, chat_ids)
    assert {chat_id: n for chat_id, n in copies.items() if n != 1} == {}, log.read_text()


async def test_a_send_stored_but_unanswered_at_the_kill_is_sent_again_never_lost(
        server: TelegramTestServer, tmp_path: Path) -> None:
    """The README's one at-least-once case: Telegram stored it, the bot never heard."""
    bot = server.create_bot()
    chats = [server.world.new_group(f"班组 {n}") for n in range(GROUPS)]
    for chat in chats:
        chat.statuses[bot.user.id] = "member"
    chat_ids = [chat.id for chat in chats]
    db_file = tmp_path / "bot.db"
    await _queue_posts(f"sqlite+aiosqlite:///{db_file}", chat_ids)
    env = _env(server, bot, tmp_path, db_file)
    log = tmp_path / "bot.log"
    gate = Gate(server, set(chat_ids), admit=5, store_one_unanswered=True)
    first = await _spawn(env, tmp_path, log)
    try:
        await gate.until(lambda: gate.unanswered is not None and gate.held > 0, START_LIMIT)
        await _until_sent(db_file, 5, 4.0, "accepted sends not recorded before the kill")
    finally:
        await _stop(first)
    gate.open()
    second = await _spawn(env, tmp_path, log)
    try:
        await _until_sent(db_file, GROUPS, START_LIMIT, "rows left mid-send were not resent")
    finally:
        await _stop(second)
    copies = _copies(server, bot, chat_ids)
    assert {chat_id: n for chat_id, n in copies.items() if n != 1} == {gate.unanswered: 2}
