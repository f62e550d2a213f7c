"""Fixtures shared by every test: databases (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from storage.migrate import upgrade

POSTGRES_URL = os.environ.get("SAFETYBOT_TEST_POSTGRES_URL",
                              "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why it does not."""
    import asyncpg

    dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    try:
        connection = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc).__name__}: {exc})"
    await connection.close()
    return None


async def _reset_postgres() -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: SQLite, and PostgreSQL when it is reachable."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        reason = await _postgres_reachable()
        if reason:
            pytest.skip(reason)
        await _reset_postgres()
        database = Database(POSTGRES_URL)
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database in a temporary file."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    await upgrade(database)
    try:
        yield database
    finally:
        await database.dispose()
