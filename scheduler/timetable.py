"""Sweeps: periodic jobs that ask the database what is due and act on it.

The database is the source of truth, so no job carries state: each sweep is
called with "now" from the one clock and does whatever fell due up to then —
including what fell due while the bot was down. APScheduler only decides how
often a sweep looks; tests call :meth:`Timetable.run_due` after moving the
clock instead of waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import ContextTypes, JobQueue

from domain.clock import Clock

log = logging.getLogger(__name__)

SweepFunction = Callable[[datetime], Awaitable[None]]


@dataclass(frozen=True)
class Sweep:
    """One periodic look at the database."""

    name: str
    every: timedelta
    run: SweepFunction


class Timetable:
    """The bot's sweeps, installed on PTB's JobQueue (APScheduler underneath).

    Args:
        clock: The one clock; sweeps get their "now" from it, never from APScheduler.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sweeps: list[Sweep] = []
        # One run of a sweep at a time: the JobQueue and a caller must not overlap.
        self._running: dict[str, asyncio.Lock] = {}
        # Called with a sweep's name after each run (tests wait on these, not on time).
        self.after_run: list[Callable[[str], None]] = []
        # When each sweep last finished, and last failed (by the one clock): /healthz.
        self.last_run: dict[str, datetime] = {}
        self.last_failure: dict[str, datetime] = {}
        self.installed_at: datetime | None = None

    def add(self, name: str, every: timedelta, run: SweepFunction) -> None:
        """Register a sweep (names are unique)."""
        if any(s.name == name for s in self.sweeps):
            raise ValueError(f"sweep {name!r} is registered twice")
        self.sweeps.append(Sweep(name, every, run))

    def install(self, job_queue: JobQueue[ContextTypes.DEFAULT_TYPE]) -> None:
        """Schedule every sweep: all of them once as soon as the queue runs, then each repeats.

        APScheduler's interval trigger puts a first run that is already past (``first=0``
        registered a moment before) one whole interval later, so the catch-up is a
        separate one-off job: a date trigger still fires when the queue starts late,
        and without a grace limit it is never dropped as misfired.
        """
        no_misfire = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
        self.installed_at = self.clock.now()
        job_queue.run_once(self._catch_up, when=0, name="sweeps:catch-up",
                           job_kwargs=no_misfire)
        for sweep in self.sweeps:
            job_queue.run_repeating(self._job(sweep), interval=sweep.every, first=sweep.every,
                                    name=f"sweep:{sweep.name}", job_kwargs=no_misfire)

    async def _catch_up(self, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.run_due()

    def _job(
        self, sweep: Sweep
    ) -> Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def job(_context: ContextTypes.DEFAULT_TYPE) -> None:
            await self._run(sweep)

        return job

    async def _run(self, sweep: Sweep) -> None:
        lock = self._running.setdefault(sweep.name, asyncio.Lock())
        try:
            async with lock:
                await sweep.run(self.clock.now())
        except Exception:  # one failed sweep must not stop the timetable
            log.exception("sweep %s failed", sweep.name)
            self.last_failure[sweep.name] = self.clock.now()
        self.last_run[sweep.name] = self.clock.now()
        for callback in self.after_run:
            callback(sweep.name)

    async def run_due(self) -> None:
        """Run every sweep now, in registration order (tests and the sandbox clock)."""
        for sweep in self.sweeps:
            await self._run(sweep)
