"""Hot standby: of several instances on one PostgreSQL database, one is active.

The active instance (the leader) polls Telegram (or sets the webhook), runs the
timetable and the outbox sender; the others wait in :meth:`Election.acquire` and
take over when the leader dies (the lock and why: :mod:`storage.leader`).

Taking over, in time:
- a leader killed frees the lock at once; a standby tries every ``retry``;
- a leader whose machine vanished is dropped by the server's keepalives (~6 s);
- the new leader then waits ``grace`` (the old one's check interval and time-out)
  before acting, so a leader that lost its lock without dying (its connection cut)
  has seen that and stopped: two instances never poll or send at the same time.
With the defaults (1 s, 1 s + 2 s) a standby is active 4–10 s after the leader died.

A leader that finds its lock gone fences itself at once (``active`` turns false:
the outbox stops sending) and calls ``on_lost`` (``safetybot run`` stops and exits
non-zero so the supervisor starts it again, as a standby).

SQLite deployments are single-instance: :class:`SoleInstance` is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from storage.leader import AdvisoryLock

log = logging.getLogger(__name__)


class Leadership(Protocol):
    """What the application asks of an election."""

    @property
    def active(self) -> bool:
        """Whether this instance may act now (poll, run sweeps, send)."""

    async def acquire(self) -> None:
        """Return once this instance is the leader (waits while another one is)."""

    async def release(self) -> None:
        """Step down (at shutdown)."""


class SoleInstance:
    """No election: the only instance is always the leader (SQLite, or standby off)."""

    active = True

    async def acquire(self) -> None:
        """Nothing to wait for."""

    async def release(self) -> None:
        """Nothing to give back."""


class Election:
    """Leader election over a PostgreSQL advisory lock.

    Args:
        database_url: The bot's PostgreSQL URL.
        retry: How often a standby tries to take the lock.
        check: How often the leader checks it still holds the lock.
        timeout: How long one check may take before the lock counts as lost.
        on_lost: Called once when a leader loses the lock (after fencing itself).
    """

    def __init__(self, database_url: str, *, retry: timedelta = timedelta(seconds=1),
                 check: timedelta = timedelta(seconds=1), timeout: timedelta = timedelta(seconds=2),
                 on_lost: Callable[[], None] | None = None) -> None:
        self._lock = AdvisoryLock(database_url, timeout=timeout.total_seconds())
        self._retry = retry.total_seconds()
        self._check = check.total_seconds()
        self.grace = self._check + timeout.total_seconds()
        self.on_lost = on_lost
        self._active = False
        self._watch: asyncio.Task[None] | None = None
        self.lost = asyncio.Event()

    @property
    def active(self) -> bool:
        """True while this instance holds the lock (and has waited out the grace)."""
        return self._active

    async def acquire(self) -> None:
        """Wait until the lock is ours, wait out the old leader's fence, start watching."""
        waiting_logged = False
        while True:
            if await self._lock.try_acquire():
                # A leader cut off from the database (not dead) stops within its check
                # and time-out; until then it might still poll or send.
                await asyncio.sleep(self.grace)
                if await self._lock.still_held():
                    break
                continue
            if not waiting_logged:
                log.info("standby: another instance is active; taking over when it stops")
                waiting_logged = True
            await asyncio.sleep(self._retry)
        self._active = True
        log.info("leader: this instance is now the active one")
        self._watch = asyncio.create_task(self._watch_lock(), name="leader-watch")

    async def _watch_lock(self) -> None:
        # Asking the database is the only way to know (no event crosses to here).
        while True:
            if not await self._lock.still_held():
                break
            await asyncio.sleep(self._check)
        self._active = False  # fenced first: the outbox checks this before every send
        self.lost.set()
        log.error("leader: the lock was lost (database connection gone); stepping down")
        if self.on_lost is not None:
            self.on_lost()

    async def release(self) -> None:
        """Stop watching and free the lock, so a standby takes over at once."""
        self._active = False
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        await self._lock.release()
