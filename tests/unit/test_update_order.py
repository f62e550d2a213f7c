"""The update processor: concurrent across chats and people, ordered within a chat, once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, Update, User

from bot.inbox import RawUpdate
from bot.updates import OrderedUpdateProcessor, order_key
from domain.clock import ManualClock
from storage import updates as updates_repo
from storage.db import Database
from storage.migrate import upgrade

BOT = User(id=777, first_name="Safety Bot", is_bot=True)


def _bot() -> Bot:
    bot = Bot("777:TEST")
    bot._bot_user = BOT  # what initialize() would learn from getMe; no network here
    return bot


def message(update_id: int, chat_id: int, user_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "x",
        "chat": {"id": chat_id, "type": "group", "title": "G"},
        "from": {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"}}}, _bot())


def press(update_id: int, chat_id: int, user_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "callback_query": {
        "id": str(update_id), "chat_instance": "1", "data": "pm:in:1",
        "from": {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"},
        "message": {"message_id": 1, "date": 0, "text": "briefing",
                    "chat": {"id": chat_id, "type": "group", "title": "G"},
                    "from": BOT.to_dict()}}}, _bot())


async def processor(tmp_path: Path) -> tuple[OrderedUpdateProcessor, Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'updates.db'}")
    await upgrade(db)
    return OrderedUpdateProcessor(db, ManualClock(), concurrency=8), db


def test_messages_share_their_chat_and_presses_their_person() -> None:
    assert order_key(message(1, -5, 1)) == order_key(message(2, -5, 2))
    assert order_key(press(3, -5, 1)) != order_key(press(4, -5, 2))
    assert order_key(press(3, -5, 1)) == order_key(press(5, -5, 1))


async def test_a_chat_waits_for_its_earlier_message_and_others_do_not(tmp_path: Path) -> None:
    proc, db = await processor(tmp_path)
    done: list[int] = []
    slow_may_finish = asyncio.Event()

    async def handle(update_id: int, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(update_id)

    first = asyncio.create_task(proc.process_update(message(1, -5, 1),
                                                    handle(1, slow_may_finish)))
    same_chat = asyncio.create_task(proc.process_update(message(2, -5, 2), handle(2)))
    other_chat = asyncio.create_task(proc.process_update(message(3, -6, 3), handle(3)))
    presses = [asyncio.create_task(proc.process_update(press(n, -5, n), handle(n)))
               for n in (4, 5)]
    await asyncio.wait_for(asyncio.gather(other_chat, *presses), 5)
    assert done == [3, 4, 5]  # the slow message in chat -5 held back only its chat
    slow_may_finish.set()
    await asyncio.wait_for(asyncio.gather(first, same_chat), 5)
    assert done == [3, 4, 5, 1, 2]
    await proc.shutdown()
    await db.dispose()


async def test_an_update_delivered_again_is_dropped_even_after_a_restart(
        tmp_path: Path) -> None:
    proc, db = await processor(tmp_path)
    seen: list[int] = []
    skipped: list[Any] = []

    async def handle(update_id: int) -> None:
        seen.append(update_id)

    proc.after_update.append(skipped.append)
    await proc.process_update(message(10, -5, 1), handle(10))
    await proc.process_update(message(10, -5, 1), handle(10))  # Telegram sent it twice
    assert seen == [10] and len(skipped) == 2
    await proc.shutdown()

    restarted = OrderedUpdateProcessor(db, ManualClock(), concurrency=8)
    await restarted.process_update(message(10, -5, 1), handle(10))  # offset not confirmed
    await restarted.process_update(message(11, -5, 1), handle(11))
    assert seen == [10, 11]
    await restarted.shutdown()
    await db.dispose()


def vote(update_id: int, user_id: int) -> RawUpdate:
    return RawUpdate(update_id, BOT.id, {"update_id": update_id, "poll_answer": {
        "poll_id": "P", "option_ids": [0],
        "user": {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"}}})


async def test_a_batch_handler_takes_its_updates_whole_and_the_rest_go_to_ptb(
        tmp_path: Path) -> None:
    proc, db = await processor(tmp_path)
    batches: list[list[int]] = []
    first_taken, may_finish = asyncio.Event(), asyncio.Event()
    handled: list[int] = []
    proc.after_update.append(lambda update: handled.append(update.update_id))  # type: ignore[attr-defined]

    async def record(updates: Sequence[RawUpdate]) -> None:
        batches.append([u.update_id for u in updates])
        first_taken.set()
        await may_finish.wait()

    proc.handle_together(lambda data: "poll_answer" in data, record)
    assert proc.takes_raw(vote(1, 1).data) and not proc.takes_raw({"update_id": 2,
                                                                    "message": {}})
    rest = proc.take_together([vote(1, 1), message(2, -5, 1), vote(3, 2)])
    assert [u.update_id for u in rest] == [2]  # PTB's handlers get the message only
    await asyncio.wait_for(first_taken.wait(), 5)
    # Batches arriving while one is recorded wait, then go as one; a repeat is dropped.
    proc.take_together([vote(4, 3), vote(1, 1)])
    proc.take_together([vote(5, 4)])
    may_finish.set()
    await asyncio.wait_for(proc.shutdown(), 5)
    assert batches == [[1, 3], [4, 5]]
    assert sorted(handled) == [1, 1, 3, 4, 5]  # the repeat is told too (tests wait on it)
    async with db.session() as session:
        assert await updates_repo.handled_since(session, bot_id=BOT.id,
                                                first_update_id=0) == {1, 3, 4, 5}
    await db.dispose()


async def test_a_failing_batch_handler_is_logged_and_its_updates_are_done(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    proc, db = await processor(tmp_path)

    async def broken(updates: Sequence[RawUpdate]) -> None:
        raise RuntimeError("database away")

    proc.handle_together(lambda data: "poll_answer" in data, broken)
    proc.take_together([vote(7, 1)])
    await asyncio.wait_for(proc.shutdown(), 5)
    assert "handling 1 updates together failed" in caplog.text
    async with db.session() as session:  # as PTB's error handler would: not retried
        assert await updates_repo.handled_since(session, bot_id=BOT.id,
                                                first_update_id=0) == {7}
    await db.dispose()
