"""Prometheus metrics, served on ``/metrics`` (see :mod:`bot.web`).

One registry per Application, so tests (and the sandbox) that run several bots in
one process keep their numbers apart. Counters move where the event happens:
the update processor (updates handled, how long each took), the HTTP client
(every 429 Telegram answered, whoever asked), the outbox dispatcher (escalations
delivered). The outbox backlog is read from the database when scraped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from telegram import Update

from bot.inbox import RawUpdate
from domain.clock import Clock
from storage import outbox as outbox_repo
from storage.db import Database
from storage.models import OutboxMessage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Outbox purposes that tell someone higher up that something was not done in time.
ESCALATION_PURPOSES = frozenset({
    "hazard.escalation",       # an unhandled hazard, up the escalation ladder
    "handover.escalation",     # a shift handover not taken over
    "meeting.not_held",        # a pre-shift meeting not held
    "document.overdue",        # a policy document not read by its due date
    "evacuation.missing",      # people not reported safe after an evacuation
})
# Handling an update takes milliseconds (a button) to seconds (a photo to store).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def update_kind(update: object) -> str:
    """``message``, ``callback_query``, ``poll_answer``…: the field the update carries."""
    if isinstance(update, Update):
        for name in Update.ALL_TYPES:
            if getattr(update, name, None) is not None:
                return str(name)
        return "other"
    if isinstance(update, RawUpdate):
        return update.kind
    return type(update).__name__


class Metrics:
    """The bot's metrics and the registry they are exposed from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._by_kind: dict[str, tuple[Any, Any]] = {}
        self.updates_handled = Counter(
            "safetybot_updates_handled", "Updates handled, by kind.", ["kind"],
            registry=self.registry)
        self.updates_repeated = Counter(
            "safetybot_updates_repeated", "Updates Telegram delivered again, skipped.",
            registry=self.registry)
        self.handler_latency = Histogram(
            "safetybot_update_handling_seconds", "Time to handle one update, by kind.",
            ["kind"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.outbox_pending = Gauge(
            "safetybot_outbox_pending", "Notices in the outbox not yet sent.",
            registry=self.registry)
        self.outbox_oldest_age = Gauge(
            "safetybot_outbox_oldest_pending_age_seconds",
            "Age of the oldest notice not yet sent (0 when none waits).",
            registry=self.registry)
        self.outbox_sent = Counter(
            "safetybot_outbox_sent", "Notices the outbox delivered, by purpose.", ["purpose"],
            registry=self.registry)
        self.escalations_sent = Counter(
            "safetybot_escalations_sent", "Escalations delivered, by purpose.", ["purpose"],
            registry=self.registry)
        self.flood_waits = Counter(
            "safetybot_telegram_429", "429 Too Many Requests answers from Telegram, by method.",
            ["method"], registry=self.registry)
        for purpose in ESCALATION_PURPOSES:  # shown at 0 before the first one
            self.escalations_sent.labels(purpose)

    # ---- hooks the wiring attaches

    def update_handled(self, update: object, seconds: float) -> None:
        """An update went through the handlers."""
        kind = update_kind(update)
        children = self._by_kind.get(kind)
        if children is None:  # labels() is a lookup under a lock: once per kind
            children = self._by_kind[kind] = (self.updates_handled.labels(kind),
                                              self.handler_latency.labels(kind))
        children[0].inc()
        children[1].observe(seconds)

    def update_repeated(self, update: object) -> None:
        """A redelivered update was dropped before the handlers."""
        self.updates_repeated.inc()

    def telegram_answered(self, method: str, status: int) -> None:
        """Telegram answered an API call with an HTTP status."""
        if status == 429:
            self.flood_waits.labels(method).inc()

    def outbox_delivered(self, rows: Iterable[OutboxMessage]) -> None:
        """The dispatcher recorded these rows as sent."""
        for row in rows:
            purpose = row.purpose or "unnamed"
            self.outbox_sent.labels(purpose).inc()
            if purpose in ESCALATION_PURPOSES:
                self.escalations_sent.labels(purpose).inc()

    # ---- scraping

    async def refresh(self, db: Database, clock: Clock) -> None:
        """Read the outbox backlog (count and oldest) into the gauges."""
        async with db.session() as session:
            pending, oldest = await outbox_repo.backlog(session)
        self.outbox_pending.set(pending)
        self.outbox_oldest_age.set(_age(clock.now(), oldest))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def _age(now: datetime, oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
