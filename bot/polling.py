"""Long polling that confirms an update to Telegram only once it is done for good.

PTB's ``Updater`` confirms what it fetched (the next ``getUpdates`` offset) as soon
as the updates are queued, before any handler ran: a kill -9 then loses every
fetched update not yet handled. Here the offset is a low watermark: the smallest
fetched update id that is not yet *durably done* (handled, and its
``processed_update`` row committed; see :mod:`bot.updates`). Everything below it is
done, so confirming it loses nothing; updates above it that were done already are
fetched again after a crash and dropped by the redelivery guard.

Telegram hands out updates from the offset on, at most 100 at a time, so updates
in flight are fetched again with the new ones. They are not queued twice (the
poller knows which are in flight), and a fetch is made only when it can bring
something new: the watermark moved, or nothing is in flight (then it waits long).
The price of a low watermark: one slow update holds back fetching beyond the next
100, which is why handlers never wait for rate-limited sends (the outbox does).

Errors are met as PTB's polling meets them: a time-out polls again at once, a
flood wait waits ``retry_after``, other network errors back off up to 30 s, a
``Conflict`` (another process polls with this token) is logged and retried, an
invalid token stops polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Updater
from telegram.warnings import PTBUserWarning

log = logging.getLogger(__name__)

LIMIT = 100  # the most updates Telegram gives in one getUpdates
REFETCH_ROOM = LIMIT // 4  # while updates are in flight, fetch once this many may be new
MAX_BACKOFF = 30.0
READ_TIMEOUT = 5.0  # beyond the long poll's own wait (PTB's default read time-out)


class Watermark:
    """Which fetched updates are still in flight, and the offset that confirms the rest."""

    def __init__(self) -> None:
        self._in_flight: set[int] = set()
        self._next = 0  # one past the highest update id fetched
        self._offset_at_fetch = -1
        self.changed = asyncio.Event()

    @property
    def offset(self) -> int:
        """The smallest update id fetched and not yet durably done (0: nothing yet)."""
        return min(self._in_flight) if self._in_flight else self._next

    @property
    def in_flight(self) -> int:
        """How many fetched updates are not yet durably done."""
        return len(self._in_flight)

    def fetched(self, update_ids: Sequence[int]) -> set[int]:
        """Take note of a fetch; return the ids to queue (not already in flight).

        An id below everything fetched before and not in flight was done already
        (Telegram delivered it again); it is queued so the guard drops it.
        """
        fresh = {i for i in update_ids if i not in self._in_flight}
        new = {i for i in fresh if i >= self._next}
        self._in_flight |= new
        if update_ids:
            self._next = max(self._next, max(update_ids) + 1)
        self._offset_at_fetch = self.offset  # fetch again once this moves
        return fresh

    def is_in_flight(self, update_id: int) -> bool:
        """Whether this update was fetched and is not yet durably done."""
        return update_id in self._in_flight

    def done(self, update_id: int) -> None:
        """An update is handled and its record committed: the offset may move past it."""
        if update_id in self._in_flight:
            self._in_flight.discard(update_id)
            self.changed.set()

    def worth_fetching(self) -> bool:
        """Whether a getUpdates now can bring new updates (not only those in flight)."""
        if not self._in_flight:
            return True
        offset = self.offset
        return offset > self._offset_at_fetch and offset + LIMIT - self._next >= REFETCH_ROOM


class DurableUpdater(Updater):
    """PTB's Updater whose polling confirms only durably handled updates.

    Webhooks are left to PTB (``start_webhook``). Feed :meth:`Watermark.done` from
    the update processor (``build_application`` does).
    """

    def __init__(self, bot: Bot, update_queue: asyncio.Queue[object]) -> None:
        super().__init__(bot=bot, update_queue=update_queue)
        self.watermark = Watermark()
        self._poll_task: asyncio.Task[None] | None = None
        self.confirmed_offset = 0  # the offset last sent to Telegram (tests read it)

    async def start_polling(  # type: ignore[override]
        self,
        poll_interval: float = 0.0,
        timeout: int | dtm.timedelta = dtm.timedelta(seconds=10),
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Callable[[TelegramError], None] | None = None,
    ) -> asyncio.Queue[object]:
        """Start fetching updates into the queue (the arguments are PTB's)."""
        if self.running:
            raise RuntimeError("This Updater is already running!")
        if not self._initialized:
            raise RuntimeError("This Updater was not initialized via `Updater.initialize`!")
        # As PTB does: no webhook may be set while polling.
        await _retrying(lambda: self.bot.delete_webhook(drop_pending_updates=drop_pending_updates),
                        "deleting the webhook", tries=bootstrap_retries)
        self._running = True
        self._poll_task = asyncio.create_task(
            self._poll(timeout, allowed_updates, poll_interval, error_callback),
            name="DurableUpdater:polling")
        return self.update_queue

    async def stop(self) -> None:
        """Stop polling (the updates in flight are the processor's to finish)."""
        if self._poll_task is None:
            await super().stop()
            return
        self._running = False
        task, self._poll_task = self._poll_task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _poll(self, timeout: int | dtm.timedelta, allowed_updates: Sequence[str] | None,
                    interval: float, error_callback: Callable[[TelegramError], None] | None
                    ) -> None:
        mark = self.watermark
        backoff = 0.0
        while self.running:
            while not mark.worth_fetching():
                mark.changed.clear()
                if mark.worth_fetching():
                    break
                await mark.changed.wait()
            offset = mark.offset
            try:
                # Wait long only when nothing is in flight: otherwise Telegram answers at
                # once anyway (it resends what is in flight).
                fetched = await self._fetch(offset, allowed_updates,
                                            _seconds(timeout) if mark.in_flight == 0 else 0)
                updates = self._parse(fetched)
            except InvalidToken:
                log.error("polling stopped: Telegram rejected the token")
                raise
            except RetryAfter as exc:
                pause = 0.5 + _retry_after(exc)
                log.warning("polling: flood wait of %.1f s", pause)
            except TimedOut:
                pause = 0.0  # a long poll cut short: poll again at once
            except Conflict as exc:
                log.error("polling: %s (is another instance polling with this token?)", exc)
                backoff = pause = _next_backoff(backoff)
            except TelegramError as exc:
                if error_callback is not None:
                    error_callback(exc)
                else:
                    log.exception("polling: fetching updates failed", exc_info=exc)
                backoff = pause = _next_backoff(backoff)
            except Exception:  # bad data: logged, and fetched again later (as PTB does)
                log.critical("polling: the updates Telegram sent could not be read",
                             exc_info=True)
                backoff = pause = _next_backoff(backoff)
            else:
                backoff, pause = 0.0, interval
                self.confirmed_offset = offset
                mark.fetched([int(u["update_id"]) for u in fetched])
                for update in updates:
                    await self.update_queue.put(update)
            if pause:
                await asyncio.sleep(pause)

    async def _fetch(self, offset: int, allowed_updates: Sequence[str] | None,
                     timeout: float) -> list[dict[str, Any]]:
        """One getUpdates, its answer unparsed: most of it may be updates in flight,
        already parsed and being handled (parsing is most of polling's cost)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Please use 'Bot\.",
                                    category=PTBUserWarning)
            result = await self.bot.do_api_request(
                "getUpdates", api_kwargs={"offset": offset, "limit": LIMIT,
                                          "timeout": timeout,
                                          "allowed_updates": allowed_updates},
                read_timeout=READ_TIMEOUT + timeout)
        return list(result or [])

    def _parse(self, fetched: Sequence[dict[str, Any]]) -> list[Update]:
        """The updates to queue: those not in flight already, each once."""
        queued: set[int] = set()
        updates = []
        for data in fetched:
            update_id = int(data["update_id"])
            if update_id in queued or self.watermark.is_in_flight(update_id):
                continue
            queued.add(update_id)
            update = Update.de_json(data, self.bot)
            if update is not None:
                updates.append(update)
        return updates


def _seconds(timeout: int | dtm.timedelta) -> float:
    return timeout.total_seconds() if isinstance(timeout, dtm.timedelta) else float(timeout)


def _retry_after(exc: RetryAfter) -> float:
    value: Any = exc._retry_after  # the timedelta PTB keeps (its property warns)
    return float(value.total_seconds() if isinstance(value, dtm.timedelta) else value)


def _next_backoff(current: float) -> float:
    """1 s, then ×1.5 up to 30 s (PTB's polling back-off)."""
    return 1.0 if current == 0 else min(MAX_BACKOFF, current * 1.5)


async def _retrying(action: Callable[[], Any], what: str, *, tries: int) -> None:
    """Run a bootstrap call, retrying network errors ``tries`` times (< 0: for ever)."""
    attempt = 0
    backoff = 0.0
    while True:
        try:
            await action()
            return
        except InvalidToken:
            raise
        except TelegramError:
            if 0 <= tries <= attempt:
                log.exception("%s failed", what)
                raise
            attempt += 1
            backoff = _next_backoff(backoff)
            await asyncio.sleep(backoff)
