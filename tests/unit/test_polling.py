"""Polling through the update inbox: a batch is stored before it is confirmed."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from telegram.error import Conflict, NetworkError, TimedOut

from bot import polling
from bot.inbox import UpdateInbox
from bot.polling import Backlog, DurableUpdater
from storage import updates as updates_repo
from storage.db import Database
from storage.migrate import upgrade
from storage.models import ProcessedUpdate
from tests.unit.test_update_order import _bot, message, processor

T0 = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


async def _inbox(tmp_path: Path) -> tuple[UpdateInbox, Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    await upgrade(db)
    return UpdateInbox(db, _bot()), db


async def _rows(db: Database) -> dict[int, tuple[datetime | None, str | None]]:
    async with db.session() as session:
        rows = (await session.exec(select(ProcessedUpdate))).all()
    return {row.update_id: (row.processed_at, row.payload) for row in rows}


async def test_a_received_batch_is_stored_whole_and_handed_back_until_done(
        tmp_path: Path) -> None:
    inbox, db = await _inbox(tmp_path)
    batch = [message(i, -5, 1).to_dict() for i in (7, 8, 9)]
    received = await inbox.receive(batch)
    assert [u.update_id for u in received] == [7, 8, 9]
    assert received[0].message is not None and received[0].message.text == "x"
    rows = await _rows(db)
    assert {i: done for i, (done, _) in rows.items()} == {7: None, 8: None, 9: None}
    # Received again (Telegram redelivers): stored once, still handed back for the guard.
    assert [u.update_id for u in await inbox.receive(batch[1:])] == [8, 9]
    async with db.transaction() as session:
        await updates_repo.mark_many(session, bot_id=777, update_ids=[8], now=T0)
    rows = await _rows(db)
    assert rows[8] == (T0, None)  # done: the payload is not kept
    assert rows[7][1] is not None and '"text":"x"' in (rows[7][1] or "")
    # A restart hands over what is not done, in update id order, as it was received.
    again = await UpdateInbox(db, _bot()).unhandled()
    assert [u.update_id for u in again] == [7, 9]
    assert again[0] == received[0]
    # Marked done twice: the first time stamp stays.
    async with db.transaction() as session:
        await updates_repo.mark_many(session, bot_id=777, update_ids=[8, 9],
                                     now=T0 + timedelta(hours=1))
        assert await updates_repo.handled_since(session, bot_id=777,
                                                first_update_id=0) == {8, 9}
    rows = await _rows(db)
    assert rows[8][0] == T0 and rows[9][0] == T0 + timedelta(hours=1)
    # The housekeeping sweep forgets done updates and keeps those not yet handled.
    async with db.transaction() as session:
        await updates_repo.forget_before(session, T0 + timedelta(days=3))
    assert set(await _rows(db)) == {7}
    await db.dispose()


async def test_an_update_that_cannot_be_read_is_not_stored(tmp_path: Path) -> None:
    inbox, db = await _inbox(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - whatever PTB raises on bad data
        await inbox.receive([message(1, -5, 1).to_dict(),
                             {"update_id": 2, "message": {"chat": "not a chat"}}])
    assert await _rows(db) == {}
    await db.dispose()


async def test_the_backlog_pauses_fetching_while_too_much_is_not_done() -> None:
    backlog = Backlog(limit=3)
    backlog.handed_over([1, 2, 3])
    waiting = asyncio.create_task(backlog.until_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    backlog.done(4)  # not handed over by this poller (a webhook's): no room made
    backlog.done(2)
    async with asyncio.timeout(1):
        await waiting
    assert len(backlog) == 2


async def test_the_processor_reports_an_update_done_only_after_its_mark_commits(
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
    # The same update again while the first is being handled (handed over from the
    # inbox and fetched again): dropped, and not reported done, as nothing is written.
    await proc.process_update(message(20, -7, 1), handle())
    assert durable == []
    may_finish.set()
    await first
    async with asyncio.timeout(5):
        await committed.wait()
    assert durable == [20]
    async with db.session() as session:
        assert await updates_repo.handled_since(session, bot_id=777, first_update_id=0) == {20}
    await proc.shutdown()
    await db.dispose()


class FakeBot:
    """Answers getUpdates as Telegram does: from the offset on, or raises from a script."""

    def __init__(self, updates: list[dict[str, Any]], errors: list[Exception]) -> None:
        self.updates = updates
        self.errors = errors
        self.offsets: list[int] = []
        self.idle = asyncio.Event()
        self.id = 777

    async def delete_webhook(self, **_kwargs: Any) -> bool:
        return True

    async def do_api_request(self, endpoint: str, api_kwargs: dict[str, Any],
                             **_kwargs: Any) -> list[dict[str, Any]]:
        assert endpoint == "getUpdates"
        offset = api_kwargs["offset"]
        self.offsets.append(offset)
        if self.errors:
            raise self.errors.pop(0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]  # forgotten
        if not self.updates:
            self.idle.set()
            await asyncio.Event().wait()  # a long poll with nothing new
        return self.updates[:2]


async def test_polling_hands_over_the_inbox_first_then_stores_each_batch_before_confirming(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(polling, "_next_backoff", lambda _current: 0.0)  # no waiting here
    inbox, db = await _inbox(tmp_path)
    await inbox.receive([message(3, -5, 1).to_dict(), message(1, -6, 1).to_dict()])
    fake = FakeBot([message(i, -5, 1).to_dict() for i in (3, 4, 5, 6, 7)],
                   [TimedOut(), Conflict("terminated by other getUpdates request"),
                    NetworkError("Bad Gateway")])
    queue: asyncio.Queue[object] = asyncio.Queue()
    updater = DurableUpdater(_bot(), queue, inbox)
    updater.bot = fake  # type: ignore[assignment]
    updater._initialized = True
    with caplog.at_level(logging.WARNING, logger="bot.polling"):
        await updater.start_polling(timeout=5)
        async with asyncio.timeout(5):
            await fake.idle.wait()
        await updater.stop()
    handed = [queue.get_nowait() for _ in range(queue.qsize())]
    # What the last run left comes first, in id order; 3 again is for the guard to drop.
    assert [u.update_id for u in handed] == [1, 3, 3, 4, 5, 6, 7]  # type: ignore[attr-defined]
    # Nothing confirmed through the errors; then each batch past its end at once.
    assert fake.offsets == [0, 0, 0, 0, 5, 7, 8]
    rows = await _rows(db)
    assert sorted(rows) == [1, 3, 4, 5, 6, 7] and all(p for _, p in rows.values())
    assert len(updater.backlog) == 6
    for update_id in (1, 3, 4, 5, 6, 7):
        updater.backlog.done(update_id)
    assert len(updater.backlog) == 0
    assert any("another instance" in r.getMessage() for r in caplog.records)
    assert any("fetching updates failed" in r.getMessage() for r in caplog.records)
    await db.dispose()


async def test_a_batch_that_cannot_be_stored_is_not_confirmed_and_is_fetched_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polling, "_next_backoff", lambda _current: 0.0)
    inbox, db = await _inbox(tmp_path)
    failures = [RuntimeError("database is away")]
    receive = inbox.receive

    async def flaky_receive(batch: Any) -> Any:
        if failures:
            raise failures.pop()
        return await receive(batch)

    monkeypatch.setattr(inbox, "receive", flaky_receive)
    fake = FakeBot([message(i, -5, 1).to_dict() for i in (10, 11)], [])
    queue: asyncio.Queue[object] = asyncio.Queue()
    updater = DurableUpdater(_bot(), queue, inbox)
    updater.bot = fake  # type: ignore[assignment]
    updater._initialized = True
    await updater.start_polling(timeout=5)
    async with asyncio.timeout(5):
        await fake.idle.wait()
    await updater.stop()
    assert fake.offsets == [0, 0, 12]
    assert [queue.get_nowait().update_id for _ in range(2)] == [10, 11]  # type: ignore[attr-defined]
    assert sorted(await _rows(db)) == [10, 11]
    await db.dispose()


async def test_webhook_mode_hands_over_the_inbox_before_the_webhook_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram.ext import Updater

    inbox, db = await _inbox(tmp_path)
    await inbox.receive([message(5, -5, 1).to_dict(), message(4, -5, 1).to_dict()])
    queue: asyncio.Queue[object] = asyncio.Queue()
    updater = DurableUpdater(_bot(), queue, inbox)
    queued_at_start: list[int] = []

    async def ptb_webhook(self: Updater, *_args: Any, **_kwargs: Any) -> asyncio.Queue[object]:
        queued_at_start.extend(u.update_id for u in list(queue._queue))  # type: ignore[attr-defined]
        return queue

    monkeypatch.setattr(Updater, "start_webhook", ptb_webhook)
    assert await updater.start_webhook(listen="127.0.0.1", port=0) is queue
    assert queued_at_start == [4, 5]
    await db.dispose()
