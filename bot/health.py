"""``/healthz``: is this instance able to do its work, and what is it doing.

Unhealthy (503) when the database does not answer within a couple of seconds or
the application is not running: an orchestrator restarts such an instance, and a
load balancer sends webhook posts elsewhere. The scheduler and the outbox are
reported (running, the sweeps' last runs, the backlog) for a person or an alert
rule to judge; a late sweep alone does not fail the check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from telegram.ext import Application

from bot.services import Services
from storage import outbox as outbox_repo
from storage.db import Database

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 2.0  # seconds; a health probe must answer before the prober gives up
# A sweep that has not run for this many of its intervals is reported late.
LATE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class HealthReport:
    """What ``/healthz`` answers: the HTTP status and the JSON body."""

    healthy: bool
    body: dict[str, Any]

    @property
    def status(self) -> int:
        """200 when healthy, else 503."""
        return 200 if self.healthy else 503


async def database_state(db: Database, timeout: float = DATABASE_TIMEOUT) -> dict[str, Any]:
    """Whether the database answers ``SELECT 1`` in time, and how fast."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout), db.session() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as exc:  # any failure is the answer: unreachable, refused, timed out
        log.warning("health: the database did not answer: %s", exc or type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round(1000 * (time.perf_counter() - started), 1)}


def scheduler_state(app: Application, services: Services) -> dict[str, Any]:  # type: ignore[type-arg]
    """The JobQueue's state and each sweep's last run (by the one clock)."""
    job_queue = app.job_queue
    running = bool(job_queue is not None and job_queue.scheduler.running)
    jobs = [job.name or "" for job in job_queue.jobs()] if job_queue is not None else []
    timetable = services.timetable
    now = services.clock.now()
    sweeps: dict[str, Any] = {}
    for sweep in timetable.sweeps:
        last = timetable.last_run.get(sweep.name)
        # Never run yet is late only once it has been due for a while since install.
        since = last or timetable.installed_at
        late = since is not None and now - since > LATE_AFTER_INTERVALS * sweep.every
        sweeps[sweep.name] = {"every_seconds": sweep.every.total_seconds(),
                              "last_run": _iso(last), "late": late,
                              "last_failed": _iso(timetable.last_failure.get(sweep.name))}
    return {"running": running, "installed": any(j.startswith("sweep:") for j in jobs),
            "sweeps": sweeps}


async def outbox_state(services: Services) -> dict[str, Any]:
    """Whether the dispatcher runs, and what waits in the outbox."""
    dispatcher = services.outbox
    state: dict[str, Any] = {"running": bool(dispatcher is not None and dispatcher.running)}
    async with services.db.session() as session:
        pending, oldest = await outbox_repo.backlog(session)
    state["pending"] = pending
    state["oldest_pending_age_seconds"] = (
        0.0 if oldest is None else max((services.clock.now() - oldest).total_seconds(), 0.0))
    return state


async def check(app: Application, services: Services, *, mode: str) -> HealthReport:  # type: ignore[type-arg]
    """The whole report; the outbox is read only when the database answered."""
    database = await database_state(services.db)
    body: dict[str, Any] = {"mode": mode, "running": app.running, "database": database,
                            "scheduler": scheduler_state(app, services)}
    if database["ok"]:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                body["outbox"] = await outbox_state(services)
        except Exception as exc:
            log.warning("health: reading the outbox failed: %s", exc or type(exc).__name__)
            body["outbox"] = {"error": type(exc).__name__}
    body["role"] = services.standby_state
    # A standby waiting for the leader's lock is healthy without running: restarting
    # it would only make it wait again.
    ready = app.running or services.standby_state == "standby"
    healthy = bool(database["ok"] and ready)
    body["status"] = "ok" if healthy else "unavailable"
    return HealthReport(healthy, body)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
