"""The durable poller: the offset confirms only what is done for good."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from telegram.error import Conflict, NetworkError, TimedOut

from bot import polling
from bot.polling import DurableUpdater, Watermark
from tests.unit.test_update_order import _bot, message, processor


def test_the_offset_is_the_smallest_update_not_yet_done() -> None:
    mark = Watermark()
    assert mark.offset == 0
    assert mark.fetched([5, 6, 7, 8]) == {5, 6, 7, 8}
    mark.done(7)
    assert mark.offset == 5  # 7 is done, but 5 and 6 are not: confirm nothing yet
    mark.done(5)
    assert mark.offset == 6
    mark.done(6)
    mark.done(8)
    assert mark.offset == 9 and mark.in_flight == 0


def test_updates_fetched_again_are_queued_once_and_old_ones_not_tracked() -> None:
    mark = Watermark()
    mark.fetched([1, 2, 3])
    mark.done(1)
    # Telegram resends 2 and 3 (in flight) with the new 4: only 4 is queued.
    assert mark.fetched([2, 3, 4]) == {4}
    # A redelivery of 1 (done) is queued, for the guard to drop, but not waited for.
    assert mark.fetched([1]) == {1}
    assert mark.offset == 2
    mark.done(1)
    assert mark.offset == 2


def test_a_fetch_is_made_only_when_it_can_bring_something_new() -> None:
    mark = Watermark()
    assert mark.worth_fetching()  # nothing in flight: a long poll
    mark.fetched(list(range(100, 200)))  # a full batch in flight
    assert not mark.worth_fetching()
    for update_id in range(100, 100 + polling.REFETCH_ROOM - 1):
        mark.done(update_id)
    assert not mark.worth_fetching()  # room for too few new ones yet
    mark.done(100 + polling.REFETCH_ROOM - 1)
    assert mark.worth_fetching()
    mark.fetched(list(range(100 + polling.REFETCH_ROOM, 200)))  # nothing new came
    assert not mark.worth_fetching()  # until the offset moves again
    mark.done(100 + polling.REFETCH_ROOM)
    assert mark.worth_fetching()


async def test_the_processor_calls_an_update_durable_only_after_its_record_commits(
        tmp_path: Path) -> None:
    proc, db = await processor(tmp_path)
    durable: list[int] = []
    committed = asyncio.Event()
    proc.on_durable.append(lambda update_id: (durable.append(update_id), committed.set()))
    handling = asyncio.Event()
    may_finish = asyncio.Event()

    async def handle() -> None:
        handling.set()
        await may_finish.wait()

    first = asyncio.create_task(proc.process_update(message(20, -5, 1), handle()))
    await handling.wait()
    # The same update again while the first is being handled (a webhook's repeat):
    # dropped, and not reported done, since nothing is written yet.
    await proc.process_update(message(20, -7, 1), handle())
    assert durable == []
    may_finish.set()
    await first
    async with asyncio.timeout(5):
        await committed.wait()
    assert durable == [20]
    async with db.session() as session:
        from storage import updates as updates_repo
        assert await updates_repo.handled_since(session, bot_id=777, first_update_id=0) == {20}
    await proc.shutdown()
    await db.dispose()


class FakeBot:
    """Answers getUpdates from a script: an exception to raise or updates to give."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.offsets: list[int] = []
        self.done = asyncio.Event()

    async def delete_webhook(self, **_kwargs: Any) -> bool:
        return True

    async def do_api_request(self, endpoint: str, api_kwargs: dict[str, Any],
                             **_kwargs: Any) -> list[dict[str, Any]]:
        assert endpoint == "getUpdates"
        self.offsets.append(api_kwargs["offset"])
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()  # a long poll with nothing new
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return [update.to_dict() for update in step]


async def test_polling_meets_errors_as_ptb_does_and_confirms_only_durable_updates(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(polling, "_next_backoff", lambda _current: 0.0)  # no waiting here
    fake = FakeBot([TimedOut(), Conflict("terminated by other getUpdates request"),
                    NetworkError("Bad Gateway"), [message(1, -5, 1), message(2, -5, 1)],
                    [message(2, -5, 1), message(3, -5, 1)]])
    queue: asyncio.Queue[object] = asyncio.Queue()
    updater = DurableUpdater(_bot(), queue)
    updater.bot = fake  # type: ignore[assignment]
    updater._initialized = True
    with caplog.at_level(logging.WARNING, logger="bot.polling"):
        await updater.start_polling(timeout=5)
        queued = [await queue.get(), await queue.get()]
        assert [u.update_id for u in queued] == [1, 2]  # type: ignore[attr-defined]
        assert fake.offsets == [0, 0, 0, 0]  # nothing was confirmed through the errors
        updater.watermark.done(1)  # 2 is still in flight: fetched again, not queued again
        queued.append(await queue.get())
        assert [u.update_id for u in queued] == [1, 2, 3]  # type: ignore[attr-defined]
        assert fake.offsets[-1] == 2
        updater.watermark.done(2)
        updater.watermark.done(3)
        async with asyncio.timeout(5):
            await fake.done.wait()
        assert fake.offsets[-1] == 4  # all done: confirmed, and a long poll waits
        await updater.stop()
    assert queue.empty()
    assert any("another instance" in r.getMessage() for r in caplog.records)
    assert any("fetching updates failed" in r.getMessage() for r in caplog.records)
