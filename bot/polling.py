"""Long polling through the update inbox: a kill -9 loses no fetched update.

PTB's ``Updater`` confirms what it fetched (the next ``getUpdates`` offset) as soon
as the updates are queued, before any handler ran: a kill -9 then loses every
fetched update not yet handled. Here each batch is first written, whole, to the
inbox (:mod:`bot.inbox`, one transaction); only then does the offset move past the
whole batch (Telegram may forget it: it is ours) and are the updates handed to
the Application, from memory. Handling marks an update done (:mod:`bot.updates`).
Before the first fetch, the updates a previous run received and did not finish
are handed over, in update id order; a refetch of one of them is dropped by the
processor's redelivery guard.

Fetching runs ahead of handling by at most ``MAX_AHEAD`` updates (not yet done),
so a flood waits at Telegram rather than in memory.

Errors are met as PTB's polling meets them: a time-out polls again at once, a
flood wait waits ``retry_after``, other network errors back off up to 30 s, a
``Conflict`` (another process polls with this token) is logged and retried, an
invalid token stops polling. A batch that cannot be read or stored is not
confirmed: it is fetched again after the back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from telegram import Bot
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.ext import Updater
from telegram.warnings import PTBUserWarning

from bot.inbox import Received, UpdateInbox

log = logging.getLogger(__name__)

LIMIT = 100  # the most updates Telegram gives in one getUpdates
MAX_AHEAD = 2000  # updates handed over and not yet done before fetching pauses
MAX_BACKOFF = 30.0
READ_TIMEOUT = 5.0  # beyond the long poll's own wait (PTB's default read time-out)


class Backlog:
    """The updates handed to the Application and not yet done."""

    def __init__(self, limit: int = MAX_AHEAD) -> None:
        self.limit = limit
        self._ids: set[int] = set()
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._ids)

    def handed_over(self, update_ids: Iterable[int]) -> None:
        """These updates are on their way to the handlers."""
        self._ids.update(update_ids)

    def done(self, update_id: int) -> None:
        """An update is handled and marked done (or dropped as a repeat)."""
        if update_id in self._ids:
            self._ids.discard(update_id)
            self.changed.set()

    async def until_room(self) -> None:
        """Return once fewer than ``limit`` updates are waiting to be done."""
        while len(self._ids) >= self.limit:
            self.changed.clear()
            if len(self._ids) < self.limit:
                break
            await self.changed.wait()


class DurableUpdater(Updater):
    """PTB's Updater whose polling stores each batch in the inbox before confirming it.

    Feed :meth:`Backlog.done` from the update processor (``build_application`` does).
    Webhooks are PTB's (``start_webhook``), after the inbox's unhandled updates are
    handed over; a webhook server that stores before it answers uses
    :meth:`bot.inbox.UpdateInbox.receive`.
    """

    def __init__(self, bot: Bot, update_queue: asyncio.Queue[object],
                 inbox: UpdateInbox) -> None:
        super().__init__(bot=bot, update_queue=update_queue)
        self.inbox = inbox
        self.backlog = Backlog()
        self._poll_task: asyncio.Task[None] | None = None
        self.confirmed_offset = 0  # the offset last sent to Telegram (tests read it)
        # Takes the updates batch handlers handle and returns the rest for the
        # Application (OrderedUpdateProcessor.take_together; bot/app.py wires it).
        self.take_together: Callable[[Sequence[Received]], Sequence[Received]] = list

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

    async def start_webhook(self, *args: Any, **kwargs: Any) -> asyncio.Queue[object]:
        """Hand over the inbox's unhandled updates, then start PTB's webhook."""
        await self._hand_over(await self.inbox.unhandled())
        queue: asyncio.Queue[object] = await super().start_webhook(*args, **kwargs)
        return queue

    async def receive(self, batch: Sequence[Mapping[str, Any]]) -> int:
        """Store updates Telegram posted (the webhook), then hand them over.

        Raises when they cannot be stored: the webhook then answers an error and
        Telegram posts them again, so nothing is confirmed that is not kept.
        """
        updates = await self.inbox.receive(batch)
        await self._hand_over(updates)
        return len(updates)

    async def take_over_inbox(self) -> None:
        """Hand over what a previous run received and did not finish (webhook start)."""
        await self._take_over_inbox()

    async def stop(self) -> None:
        """Stop polling (the updates handed over are the processor's to finish)."""
        if self._poll_task is None:
            await super().stop()
            return
        self._running = False
        task, self._poll_task = self._poll_task, None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _hand_over(self, updates: Sequence[Received]) -> None:
        self.backlog.handed_over(update.update_id for update in updates)
        for update in self.take_together(updates):
            await self.update_queue.put(update)

    async def _take_over_inbox(self) -> None:
        """Hand over what a previous run received and did not finish (retrying)."""
        backoff = 0.0
        while True:
            try:
                unhandled = await self.inbox.unhandled()
            except Exception:
                log.exception("polling: reading the update inbox failed")
                backoff = _next_backoff(backoff)
                await asyncio.sleep(backoff)
                continue
            if unhandled:
                log.info("handing over %d updates received before and not yet handled",
                         len(unhandled))
            await self._hand_over(unhandled)
            return

    async def _poll(self, timeout: int | dtm.timedelta, allowed_updates: Sequence[str] | None,
                    interval: float, error_callback: Callable[[TelegramError], None] | None
                    ) -> None:
        await self._take_over_inbox()
        offset = 0  # Telegram's choice at first: its oldest unconfirmed update
        backoff = 0.0
        while self.running:
            await self.backlog.until_room()
            try:
                self.confirmed_offset = offset
                fetched = await self._fetch(offset, allowed_updates, _seconds(timeout))
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
            else:
                try:
                    updates = await self.inbox.receive(fetched)
                except Exception:  # bad data, or the database is away: fetched again later
                    log.critical("polling: the updates Telegram sent could not be read or "
                                 "stored; fetching them again", exc_info=True)
                    backoff = pause = _next_backoff(backoff)
                else:
                    backoff, pause = 0.0, interval
                    if fetched:
                        offset = max(int(data["update_id"]) for data in fetched) + 1
                    await self._hand_over(updates)
            if pause:
                await asyncio.sleep(pause)

    async def _fetch(self, offset: int, allowed_updates: Sequence[str] | None,
                     timeout: float) -> list[dict[str, Any]]:
        """One getUpdates, its answer unparsed (the inbox stores it as sent)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Please use 'Bot\.",
                                    category=PTBUserWarning)
            result = await self.bot.do_api_request(
                "getUpdates", api_kwargs={"offset": offset, "limit": LIMIT,
                                          "timeout": timeout,
                                          "allowed_updates": allowed_updates},
                read_timeout=READ_TIMEOUT + timeout)
        return list(result or [])


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
