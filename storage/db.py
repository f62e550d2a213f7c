"""The database handle: engine, sessions, transactions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

# Connection pool defaults for PostgreSQL (settings DATABASE_POOL_SIZE, …): enough for
# UPDATE_CONCURRENCY updates whose handlers hold a connection for milliseconds, and
# two instances well under PostgreSQL's default max_connections of 100.
POOL_SIZE = 10
MAX_OVERFLOW = 20
POOL_TIMEOUT = 30.0


class Database:
    """Owns the engine; hands out sessions whose transactions the caller controls.

    Args:
        url: SQLAlchemy async URL, ``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``.
        pool_size: Server databases: connections kept open.
        max_overflow: Server databases: connections opened beyond ``pool_size`` at busy
            moments, closed when returned.
        pool_timeout: Server databases: seconds a session waits for a free connection
            before it fails.
    """

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE,
                 max_overflow: int = MAX_OVERFLOW, pool_timeout: float = POOL_TIMEOUT) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # A checked-out connection is tested first: a PostgreSQL restarted or a
            # connection dropped by a firewall costs a reconnect, not a failed update.
            kwargs.update(pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
                          pool_timeout=pool_timeout)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions_opened = 0  # benchmarks and cost tests read it
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: asyncio.Task[Any] | None = None
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    def session(self) -> AsyncSession:
        """A new session; use ``async with`` and commit yourself."""
        self.sessions_opened += 1
        return self._sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        SQLite has one writer at a time and makes the others poll for the lock (its
        busy timeout sleeps); with many updates handled at once, writers queue here
        instead, in order. A transaction opened inside another one of the same task
        does not wait for itself. PostgreSQL needs no such queue.
        """
        self.sessions_opened += 1
        if self._write_lock is None or self._writer is asyncio.current_task():
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock:
            self._writer = asyncio.current_task()
            try:
                async with self._sessions() as session, session.begin():
                    yield session
            finally:
                self._writer = None

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the dispatcher read while a handler writes; FKs are off by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def insert_skipping_duplicates(session: AsyncSession, model: Any,
                                     unique: list[str], rows: list[dict[str, Any]]) -> None:
    """Insert many rows in one statement; rows clashing on ``unique`` are skipped.

    The database keeps "never twice" (a unique key) without a read before each write.
    """
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    await execute_many(session, insert(model.__table__).on_conflict_do_nothing(
        index_elements=unique), rows)


async def execute_many(session: AsyncSession, statement: Any,
                       rows: Sequence[dict[str, Any]]) -> Any:
    """Run a Core insert or update against a table once per row, in the session's
    transaction, as one executemany.

    The ORM's bulk path (``session.exec(insert(Model), params=rows)``) builds its
    bookkeeping per row, which at a shift start cost more than the rows themselves;
    the hot inserts (the update inbox, handled marks, answers) need none of it.
    Returns the result (its rows, for a statement with RETURNING).
    """
    connection = await session.connection()
    return await connection.execute(statement, list(rows))
