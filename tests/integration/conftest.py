"""The real Application, over real HTTP, against the project's Telegram test server.

The bot's database is a SQLite file per test by default. With
``SAFETYBOT_TEST_INTEGRATION_DB=postgresql`` it is PostgreSQL at
``SAFETYBOT_TEST_POSTGRES_URL`` instead, its schema dropped and migrated afresh for
every test; the run skips with the reason when PostgreSQL does not answer. Tests
marked ``sqlite_only`` (a bot in its own process on its own SQLite file, the local
sandbox, which is SQLite by design) skip in that run: the SQLite run covers them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import lifecycle
from bot.app import SafetyApplication, build_application
from bot.services import Services, get_services
from bot.settings import Settings
from domain.clock import ManualClock
from storage.db import Database
from tests.conftest import POSTGRES_URL, _postgres_reachable, _reset_postgres
from tgserver import TelegramTestServer

INTEGRATION_DB = os.environ.get("SAFETYBOT_TEST_INTEGRATION_DB", "sqlite").strip().lower()
if INTEGRATION_DB not in ("sqlite", "postgresql"):
    raise ValueError(f"SAFETYBOT_TEST_INTEGRATION_DB={INTEGRATION_DB!r}: "
                     "use 'sqlite' (the default) or 'postgresql'")
ON_POSTGRES = INTEGRATION_DB == "postgresql"

START = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai


class BotUnderTest:
    """Runs the bot against the test server and knows when it has finished reacting.

    ``settle()`` waits, on events and never on a timer, until every update the
    simulated humans produced was fetched, handled, and every due outbox row
    was attempted.
    """

    def __init__(self, server: TelegramTestServer, tmp_path: Path, **settings: Any) -> None:
        self.server = server
        self.account = server.create_bot(username="SafetyTestBot", first_name="Safety Bot")
        self.driver = server.driver(self.account)
        self.clock = ManualClock(START)
        # On PostgreSQL the autouse ``integration_database`` fixture has emptied the
        # schema for this test; the bot migrates it when it starts, as in production.
        self.db_url = POSTGRES_URL if ON_POSTGRES else \
            f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        # No checklists unless a test brings its own: a weekly check's mention in the
        # group would otherwise land in every scenario that moves the clock to a Friday.
        self.extra_settings = {"checklists_dir": tmp_path / "no-checklists", **settings}
        self.media_dir = tmp_path / "media"
        self.app: SafetyApplication | None = None
        self.db: Database | None = None
        self.handled: set[int] = set()
        self._handled_event = asyncio.Event()

    @property
    def services(self) -> Services:
        assert self.app is not None
        return get_services(self.app.bot_data)

    def settings(self) -> Settings:
        return Settings(telegram_bot_token=self.account.token,
                        telegram_api_base_url=self.server.url, database_url=self.db_url,
                        outbox_poll_seconds=3600, media_dir=self.media_dir,
                        # Scenarios post dozens of messages into one group within real
                        # seconds; flood timing is the test server's and the benchmark's
                        # business, so the rate limiter gets a budget that never waits.
                        flood_overall_per_second=10_000, flood_group_per_minute=100_000,
                        **self.extra_settings)

    async def start(self) -> None:
        self.db = Database(self.db_url)
        # Sweeps are run by the tests after moving the clock, not by the JobQueue.
        self.app = build_application(self.settings(), db=self.db, clock=self.clock,
                                     install_timetable=False)
        self.app.after_update.append(self._on_handled)
        await lifecycle.start_polling(self.app, poll_timeout=5)

    async def stop(self) -> None:
        if self.app is not None:
            await lifecycle.stop(self.app)
            self.app = None
        if self.db is not None:
            await self.db.dispose()
            self.db = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def _on_handled(self, update: object) -> None:
        update_id = getattr(update, "update_id", None)
        if update_id is not None:
            self.handled.add(update_id)
            self._handled_event.set()

    async def settle(self, limit: float = 10.0) -> None:
        """Wait until the bot has handled everything and the outbox has nothing due."""
        await self.until_handled(limit)
        await self.drain_outbox()

    async def until_handled(self, limit: float = 10.0) -> None:
        """Wait until the bot has handled every update the humans produced."""
        await self.driver.until_delivered(timeout=limit)
        wanted = set(self.driver.delivered_update_ids())
        async with asyncio.timeout(limit):
            while not wanted <= self.handled:
                self._handled_event.clear()
                if wanted <= self.handled:
                    break
                await self._handled_event.wait()

    async def run_sweeps(self) -> None:
        """Run the timetable now (after moving the clock), then send what it queued."""
        await self.services.timetable.run_due()
        await self.drain_outbox()

    async def drain_outbox(self) -> int:
        """Attempt every due outbox row now (the clock decides what is due)."""
        assert self.services.outbox is not None
        return await self.services.outbox.dispatch_due()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In the PostgreSQL run, skip what runs on its own SQLite file whatever the switch."""
    if not ON_POSTGRES:
        return
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            why = marker.args[0] if marker.args else "uses its own SQLite database"
            item.add_marker(pytest.mark.skip(
                reason=f"SQLite only ({why}); the SQLite run covers it"))


@pytest.fixture(autouse=True)
async def integration_database() -> AsyncIterator[None]:
    """On PostgreSQL: an empty schema for every test, or a skip saying why not."""
    if ON_POSTGRES:
        reason = await _postgres_reachable()
        if reason:
            pytest.skip(f"SAFETYBOT_TEST_INTEGRATION_DB=postgresql: {reason}")
        await _reset_postgres()
    yield


@pytest.fixture
async def server() -> AsyncIterator[TelegramTestServer]:
    srv = TelegramTestServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def bot(server: TelegramTestServer, tmp_path: Path) -> AsyncIterator[BotUnderTest]:
    under_test = BotUnderTest(server, tmp_path)
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.stop()
