"""The PostgreSQL connection pool is sized from the settings; SQLite has none to size."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from storage.db import MAX_OVERFLOW, POOL_SIZE


def test_pool_settings_reach_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot:secret@db.example/safety")
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "7")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "5s")
    settings = Settings(_env_file=None)
    assert settings.database_pool_timeout == timedelta(seconds=5)
    assert settings.masked()["DATABASE_URL"] == "postgresql+asyncpg://bot:***@db.example/safety"
    db = settings.database()  # no connection is made until a session needs one
    pool = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 7, 5.0)  # type: ignore[attr-defined]
    assert db.engine.pool._pre_ping  # type: ignore[attr-defined]
    asyncio.run(db.dispose())


def test_defaults_and_sqlite() -> None:
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://localhost/x")
    pool = settings.database().engine.pool
    assert (pool.size(), pool._max_overflow) == (POOL_SIZE, MAX_OVERFLOW)  # type: ignore[attr-defined]
    sqlite = Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:",
                      database_pool_size=2).database()
    assert sqlite.is_sqlite  # the pool settings are for server databases only
    with pytest.raises(ValidationError):
        Settings(_env_file=None, database_pool_size=0)
