"""How updates are handled: many at once, in order per chat, each at most once.

PTB's extension point for this is the update processor (``BaseUpdateProcessor``):
the Application hands it every update with the coroutine that handles it.

- Concurrency: at a shift start thousands of workers tap check-in within a
  minute; handled one at a time, every tap waits for the ones before it and
  Telegram gives up on the late ones (~15 s). Up to ``concurrency`` updates are
  handled at once.
- Order: messages in one chat are handled in the order they were sent (a
  conversation's answers, a join before a message), and one person's button
  presses in the order they pressed; different chats and different people's
  presses do not wait for each other.
- Once: Telegram delivers an update again when its offset was not confirmed
  (a crash, a restart, a standby taking over), and the inbox hands over at
  start-up what was received and not done. The ids handled are remembered in
  memory and in the database (written in batches), and a repeat is dropped
  before any handler sees it.
- Together: updates that need no answer and come in floods (a plant voting in
  the morning's quiz poll) can be taken by a batch handler
  (:meth:`OrderedUpdateProcessor.handle_together`): each batch the poller stored
  goes to it whole, outside PTB's per-update dispatch, and the batches that
  arrive while one is being handled are handled next as one.
- Done: an update handled is marked done in the update inbox (:mod:`bot.inbox`;
  the poller stored it there before confirming it to Telegram), written behind
  in batches; ``on_durable`` is told once that is committed (or the update was
  dropped as a repeat), which lets the poller fetch further ahead. A failed
  write is retried, never given up; an update whose mark did not commit before a
  kill -9 is handed over again at start-up (handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.inbox import RawUpdate, Received
from domain.clock import Clock
from services.group_commit import GroupCommit
from storage import updates as updates_repo
from storage.db import Database

log = logging.getLogger(__name__)

# A batch handler: the updates it took, as Telegram sent them, in the order received
# (see OrderedUpdateProcessor.handle_together).
BatchHandler = Callable[[Sequence[RawUpdate]], Awaitable[None]]

# Update ids this far below the newest are no longer kept in memory: Telegram only
# redelivers what was not confirmed, which is the last batch or so.
REMEMBERED_IDS = 100_000


def order_key(update: object) -> Hashable:
    """What an update must wait for: the chat's earlier messages, or for a button
    press, the same person's earlier presses in that chat."""
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    user = update.effective_user
    if update.callback_query is not None or update.poll_answer is not None:
        return ("person", chat.id if chat else None, user.id if user else None)
    if chat is not None:
        return ("chat", chat.id)
    return ("person", None, user.id if user else None)


class OrderedUpdateProcessor(BaseUpdateProcessor):
    """Handles updates concurrently, in order per :func:`order_key`, each id once.

    Args:
        db: Where handled update ids are remembered across restarts.
        clock: The one clock (the time stamp of a handled id).
        concurrency: How many updates are handled at once.
    """

    def __init__(self, db: Database, clock: Clock, *, concurrency: int = 64) -> None:
        # PTB's semaphore only admits; ordering and the real limit are ours, so a
        # chat with a backlog does not hold slots other chats could use.
        super().__init__(max_concurrent_updates=max(concurrency, 1) * 64)
        self._db = db
        self._clock = clock
        self._slots = asyncio.BoundedSemaphore(max(concurrency, 1))
        self._queues: dict[Hashable, tuple[asyncio.Lock, list[int]]] = {}
        self._seen: set[int] = set()
        self._loading: asyncio.Future[None] | None = None
        self._bot_id = 0
        self._marking: GroupCommit[int, None] = GroupCommit(self._mark_handled)
        self.after_update: list[Callable[[object], None]] = []
        # Called with each update the handlers saw and the seconds they took (metrics);
        # ``after_repeat`` with each one dropped as handled before.
        self.after_handling: list[Callable[[object, float], None]] = []
        self.after_repeat: list[Callable[[object], None]] = []
        # Told each update id once it is handled and its record committed.
        self.on_durable: list[Callable[[int], None]] = []
        self._unwritten: set[int] = set()  # being handled, or record not yet committed
        self._closing = False
        self._lanes: list[_Lane] = []

    async def initialize(self) -> None:
        """Nothing to prepare: the handled ids are read when the first update comes."""

    async def shutdown(self) -> None:
        """Finish the batches taken, then let the last handled ids be written."""
        for lane in self._lanes:
            await lane.close()
        self._closing = True
        await self._marking.close()

    def handle_together(self, takes: Callable[[Mapping[str, Any]], bool],
                        handle: BatchHandler) -> None:
        """Hand the updates ``takes`` accepts (it sees Telegram's JSON) to ``handle``,
        a batch at a time, unparsed.

        Such updates skip PTB's handlers. Each keeps the guarantees of the others:
        a repeat is dropped first, and it is marked done once ``handle`` returned
        (or raised: the error is logged, as PTB's error handler would).
        """
        self._lanes.append(_Lane(takes, handle, self._handle_batch))

    def takes_raw(self, data: Mapping[str, Any]) -> bool:
        """Whether a batch handler takes this update (the inbox leaves it unparsed)."""
        return any(lane.takes(data) for lane in self._lanes)

    def take_together(self, updates: Sequence[Received]) -> list[Received]:
        """Pass the updates batch handlers take to them; return the others, in order."""
        rest: list[Received] = []
        taken: dict[int, list[RawUpdate]] = {}
        for update in updates:
            if isinstance(update, RawUpdate):
                lane = next((n for n, lane in enumerate(self._lanes) if lane.takes(update.data)),
                            None)
                if lane is not None:
                    taken.setdefault(lane, []).append(update)
                    continue
            rest.append(update)
        for n, batch in taken.items():
            self._lanes[n].put(batch)
        return rest

    async def _handle_batch(self, updates: Sequence[RawUpdate], handle: BatchHandler) -> None:
        fresh: list[RawUpdate] = []
        for update in updates:
            if await self._handled_before(update):
                self._repeated(update)
            else:
                self._seen.add(update.update_id)
                self._unwritten.add(update.update_id)
                fresh.append(update)
        if not fresh:
            return
        started = time.perf_counter()
        try:
            async with self._slots:
                await handle(fresh)
        except Exception:
            log.exception("handling %d updates together failed (first id %s)",
                          len(fresh), fresh[0].update_id)
        finally:
            took = (time.perf_counter() - started) / len(fresh)
            for update in fresh:
                self._mark(update.update_id)
                for timed in self.after_handling:
                    timed(update, took)
                self._notify(update)

    async def do_process_update(self, update: object,
                                coroutine: Awaitable[Any]) -> None:
        """Handle ``update`` after the updates it must follow, unless handled before."""
        key = order_key(update)
        lock, waiting = self._queues.setdefault(key, (asyncio.Lock(), [0]))
        waiting[0] += 1
        try:
            async with lock, self._slots:
                await self._handle_once(update, coroutine)
        finally:
            waiting[0] -= 1
            if waiting[0] == 0:
                del self._queues[key]

    async def _handle_once(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update):
            await coroutine
            return
        update_id = update.update_id
        if await self._handled_before(update):
            # A repeat: done before, or in flight (handed over from the inbox at
            # start-up and fetched again, or a webhook's retry).
            _close(coroutine)
            self._repeated(update)
            return
        self._seen.add(update_id)
        self._unwritten.add(update_id)
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            # Written behind, so the next update of this chat need not wait for the
            # commit. A kill -9 in between leaves the update in the inbox, handed
            # over again at start-up, which handlers survive (idempotent).
            self._mark(update_id)
            took = time.perf_counter() - started
            for timed in self.after_handling:
                timed(update, took)
            self._notify(update)

    def _repeated(self, update: Update | RawUpdate) -> None:
        log.info("update %s was handled before; skipped", update.update_id)
        for repeated in self.after_repeat:
            repeated(update)
        self._notify(update)
        if update.update_id not in self._unwritten:  # else its own write says so
            self._durable(update.update_id)

    def _mark(self, update_id: int, retry_in: float = 0.5) -> None:
        def written(future: asyncio.Future[None]) -> None:
            if future.cancelled() or future.exception() is not None:
                if self._closing:
                    return  # redelivered after the restart, and dropped then if done
                log.warning("recording update %s failed; retrying in %.1f s",
                            update_id, retry_in)
                asyncio.get_running_loop().call_later(
                    retry_in, self._mark, update_id, min(retry_in * 2, 30.0))
                return
            self._unwritten.discard(update_id)
            self._durable(update_id)

        self._marking.submit_nowait(update_id).add_done_callback(written)

    def _durable(self, update_id: int) -> None:
        for callback in self.on_durable:
            callback(update_id)

    async def _handled_before(self, update: Update | RawUpdate) -> bool:
        if self._loading is None:
            # The first update since start: read which of the ids from here on a
            # previous run handled (a redelivery can only be of those). Updates
            # arriving meanwhile wait for the same read.
            self._bot_id = update.bot_id if isinstance(update, RawUpdate) \
                else update.get_bot().id
            self._loading = asyncio.ensure_future(self._load(update.update_id))
        await asyncio.shield(self._loading)
        if update.update_id in self._seen:
            return True
        if len(self._seen) > 2 * REMEMBERED_IDS:
            floor = max(self._seen) - REMEMBERED_IDS
            self._seen = {i for i in self._seen if i >= floor}
        return False

    async def _load(self, first_update_id: int) -> None:
        async with self._db.session() as session:
            self._seen |= await updates_repo.handled_since(
                session, bot_id=self._bot_id, first_update_id=first_update_id)

    async def _mark_handled(self, update_ids: Sequence[int]) -> list[None]:
        async with self._db.transaction() as session:
            await updates_repo.mark_many(session, bot_id=self._bot_id, update_ids=update_ids,
                                         now=self._clock.now())
        return [None] * len(update_ids)

    def _notify(self, update: object) -> None:
        for callback in self.after_update:
            callback(update)


def _close(coroutine: Awaitable[Any]) -> None:
    """Close a handling coroutine that will not run (no "never awaited" warning)."""
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()


class _Lane:
    """One batch handler's queue: batches wait while one is handled, then go as one."""

    def __init__(self, takes: Callable[[Mapping[str, Any]], bool], handle: BatchHandler,
                 run: Callable[[Sequence[RawUpdate], BatchHandler], Awaitable[None]]) -> None:
        self.takes = takes
        self._handle = handle
        self._run = run
        self._waiting: list[RawUpdate] = []
        self._worker: asyncio.Task[None] | None = None

    def put(self, updates: Sequence[RawUpdate]) -> None:
        """Queue updates; the worker starts when none is running."""
        self._waiting.extend(updates)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="updates:together")

    async def _work(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._run(batch, self._handle)
            except Exception:  # the redelivery guard could not read: next start's
                log.exception("a batch of %d updates was not handled; the inbox keeps "
                              "them for the next start", len(batch))

    async def close(self) -> None:
        """Wait for the queued batches to be handled."""
        while self._worker is not None and not self._worker.done():
            await self._worker
