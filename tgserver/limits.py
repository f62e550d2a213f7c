"""Flood control and injected faults."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tgserver.rules import ApiError

SENDING_METHODS = frozenset({
    "sendmessage", "sendphoto", "senddocument", "sendmediagroup", "sendpoll", "sendlocation",
    "editmessagetext", "editmessagereplymarkup", "editmessagecaption", "copymessage",
    "forwardmessage"})


class FloodControl:
    """About 30 messages/s per bot, 20/min per group, 1/s per private chat.

    Each bot token has its own budget, as on Telegram: two bots of one deployment
    send twice as much. Off by default so tests are fast; ``speed`` divides every
    window (a speed of 10 allows 300/s overall and 20 per 6 s into one group).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = False
        self.speed = 1.0
        self.clock = clock
        self._overall: dict[str, deque[float]] = {}
        self._chats: dict[tuple[str, int], deque[float]] = {}

    def check(self, method: str, chat_id: int | None, bot: str = "") -> None:
        """Record one send by ``bot`` (its token), or raise 429 with retry_after if it
        breaks one of that bot's limits."""
        if not self.enabled or method.lower() not in SENDING_METHODS:
            return
        now = self.clock()
        overall = 1.0 / self.speed
        sent = self._overall.setdefault(bot, deque())
        self._prune(sent, now, overall)
        limits: list[tuple[deque[float], float, int]] = [(sent, overall, 30)]
        if chat_id is not None:
            window = (60.0 if chat_id < 0 else 1.0) / self.speed
            per_chat = self._chats.setdefault((bot, chat_id), deque())
            self._prune(per_chat, now, window)
            limits.append((per_chat, window, 20 if chat_id < 0 else 1))
        for times, window, allowed in limits:
            if len(times) >= allowed:
                wait = times[0] + window - now
                retry = max(1, math.ceil(wait))
                raise ApiError(429, f"Too Many Requests: retry after {retry}",
                               {"retry_after": retry})
        for times, _, _ in limits:
            times.append(now)

    @staticmethod
    def _prune(times: deque[float], now: float, window: float) -> None:
        while times and times[0] <= now - window:
            times.popleft()


@dataclass
class Fault:
    """One injected misbehaviour of the API."""

    method: str
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    chat_id: int | None = None
    times: int | None = 1
    # A held call is carried out, then its answer waits until ``release`` is set:
    # what the world sees before the bot hears back (``reached`` says it got there).
    reached: asyncio.Event | None = None
    release: asyncio.Event | None = None


class Faults:
    """Faults to inject, matched by method (and chat), each firing ``times`` times."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, method: str, *, status: int | None = None, retry_after: int | None = None,
            delay: float = 0.0, drop: bool = False, chat_id: int | None = None,
            times: int | None = 1, hold: bool = False) -> Fault:
        """Inject a fault for ``method``; ``times=None`` keeps it forever.

        ``hold``: carry the call out, then keep its answer until ``fault.release`` is set.
        """
        fault = Fault(method.lower(), status, retry_after, delay, drop, chat_id, times,
                      asyncio.Event() if hold else None, asyncio.Event() if hold else None)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        self._faults.clear()

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        """The first fault matching this call, counted as fired."""
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            return fault
        return None
