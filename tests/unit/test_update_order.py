"""The update processor: concurrent across chats and people, ordered within a chat, once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from telegram import Bot, Update, User

from bot.updates import OrderedUpdateProcessor, order_key
from domain.clock import ManualClock
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
