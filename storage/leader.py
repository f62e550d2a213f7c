"""Which instance is active: a PostgreSQL advisory lock held on its own connection.

Why a session-level advisory lock and not a lease row: the lock lives exactly as
long as the connection that took it. A leader killed (kill -9, a crash, an OOM)
closes its socket and PostgreSQL frees the lock at once, so a standby takes over
within its next try, with no expiry to wait out and no clocks to trust; a leader
whose machine vanishes is noticed by the server's TCP keepalives (set short on
this connection), a few seconds later. A lease row would make every failover wait
for the lease to run out, and a leader paused past its lease would act beside the
new one. No table, no migration.

The lock is per database, so two deployments in one PostgreSQL cluster (different
databases) do not compete. It needs a direct connection or a session-mode pooler:
a transaction-mode PgBouncer would hand the session to someone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# One number for "the active safetybot of this database" (advisory locks are int64).
LOCK_KEY = 0x5AFE_7B07_0001
# The server drops a silent client after idle + interval × count seconds (3 + 1 × 3).
KEEPALIVE = {"tcp_keepalives_idle": "3", "tcp_keepalives_interval": "1",
             "tcp_keepalives_count": "3"}


def supports_advisory_locks(url: str) -> bool:
    """Whether the database at ``url`` is PostgreSQL (SQLite runs one instance)."""
    return make_url(url).get_backend_name() == "postgresql"


class AdvisoryLock:
    """Try, hold and check one session-level advisory lock on a dedicated connection.

    Args:
        url: The bot's database URL (``postgresql+asyncpg://…``).
        timeout: How long one statement may take before the connection counts as lost.
        name: Shown in ``pg_stat_activity.application_name``.
    """

    def __init__(self, url: str, *, timeout: float = 2.0,
                 name: str = "safetybot-leader") -> None:
        self._timeout = timeout
        # Its own engine without a pool: this connection is never shared or recycled.
        self._engine: AsyncEngine = create_async_engine(
            url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": name, **KEEPALIVE},
                          "timeout": timeout})
        self._connection: AsyncConnection | None = None

    async def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another session holds it."""
        try:
            if self._connection is None:
                self._connection = await asyncio.wait_for(self._engine.connect(),
                                                          self._timeout)
            result = await asyncio.wait_for(self._connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}), self._timeout)
            return bool(result.scalar())
        except Exception as exc:  # any failure (network, time-out, server): not the leader
            log.warning("leader election: cannot reach the database (%s)", exc)
            await self._drop()
            return False

    async def still_held(self) -> bool:
        """Whether the lock is still ours (our session is alive and holds it)."""
        if self._connection is None:
            return False
        try:
            result = await asyncio.wait_for(self._connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"),
                {"key": LOCK_KEY}), self._timeout)
            return bool(result.scalar())
        except Exception as exc:  # the session is gone or unreachable: lost either way
            log.warning("leader election: the lock's connection failed (%s)", exc)
            await self._drop()
            return False

    async def release(self) -> None:
        """Let the lock go (closing the session frees it) and dispose of the engine."""
        await self._drop()
        await self._engine.dispose()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # A connection cut off may not even close; the server drops it by keepalive.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), self._timeout)
