"""Many small writes that arrive together, stored in one transaction.

At a shift start thousands of workers tap check-in within a minute. Each tap is
a tiny write, and a transaction per tap makes the database (its statements, its
commits, SQLite's single writer) the ceiling. A :class:`GroupCommit` lets every
caller await its own result while the writes that arrived meanwhile share one
transaction: the first caller's batch is stored at once, and whatever arrives
while it is being stored forms the next batch. Nobody waits on a timer, so a
lone tap is as quick as before and a test needs no clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Batches concurrent calls of ``store`` (one batch at a time, in arrival order).

    Args:
        store: Stores a batch in one transaction and returns one result per item,
            in order. If it raises, every caller of that batch gets the error.
        max_batch: The most items one transaction takes (bounds its size and the
            statements' parameter lists).
    """

    def __init__(self, store: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]], *,
                 max_batch: int = 400) -> None:
        self._store = store
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._storing: asyncio.Task[None] | None = None
        self.batches = 0  # how many transactions it took (benchmarks print it)
        self.items = 0

    async def submit(self, item: Item) -> Result:
        """Store ``item`` with whatever else is waiting; its result once committed."""
        return await self.submit_nowait(item)

    def submit_nowait(self, item: Item) -> asyncio.Future[Result]:
        """Queue ``item`` and return at once: the future resolves once it is committed.

        For writes nobody needs to wait for (what the bot learned in passing); a
        failure nobody awaits is logged. :meth:`close` stores what is queued.
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_log_unawaited_failure)
        self._waiting.append((item, future))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        # One batch after another until nobody waits; callers arriving during a
        # batch are taken together by the next one.
        while self._waiting:
            batch = self._waiting[:self._max_batch]
            del self._waiting[:self._max_batch]
            self.batches += 1
            self.items += len(batch)
            try:
                results = await self._store([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} items")
            except BaseException as error:  # handed to every caller of the batch
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                if isinstance(error, asyncio.CancelledError):
                    self._fail_waiting(error)
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _fail_waiting(self, error: BaseException) -> None:
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(error)

    async def close(self) -> None:
        """Store everything queued so far (at shutdown)."""
        if self._storing is not None and not self._storing.done():
            await asyncio.wait({self._storing})


def _log_unawaited_failure(future: asyncio.Future[Any]) -> None:
    # Retrieving the exception here also keeps asyncio from warning about it; a
    # caller that awaits the future still gets it.
    if not future.cancelled() and future.exception() is not None:
        log.warning("a batched write failed", exc_info=future.exception())
