"""Evidence photos are downloaded outside every database transaction, and only once.

A ``getFile`` and its download are network I/O of unknown length: done inside a
transaction they hold SQLite's write lock (every check-in waits) or a PostgreSQL
connection and its row locks for as long. The spy below notes, for each
connection, which asyncio task began a transaction on it and has not ended it;
a download started by a task that holds one is an offence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import File
from telegram.ext import ExtBot

from storage import hazards as hazard_repo
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import (
    hazards,
    report,
    report_the_first_photo_again,
    setup_plant,
)


class TransactionSpy:
    """Which tasks hold a database transaction now, and every download and who started it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.holders: dict[int, asyncio.Task[Any] | None] = {}
        self.downloads: list[tuple[str, bool]] = []  # (what, inside a transaction)

    def _begin(self, connection: Any) -> None:
        self.holders[id(connection)] = asyncio.current_task()

    def _end(self, connection: Any) -> None:
        self.holders.pop(id(connection), None)

    def holds_one(self) -> bool:
        """Whether the running task has a transaction open on any connection."""
        return asyncio.current_task() in self.holders.values()

    def attach(self) -> None:
        event.listen(self.engine, "begin", self._begin)
        for name in ("commit", "rollback"):
            event.listen(self.engine, name, self._end)

    def detach(self) -> None:
        event.remove(self.engine, "begin", self._begin)
        for name in ("commit", "rollback"):
            event.remove(self.engine, name, self._end)


@pytest.fixture
def spy(bot: BotUnderTest, monkeypatch: pytest.MonkeyPatch) -> Iterator[TransactionSpy]:
    assert bot.db is not None
    watcher = TransactionSpy(bot.db.engine)
    get_file, download = ExtBot.get_file, File.download_to_drive

    async def spied_get_file(self: ExtBot[Any], *args: Any, **kwargs: Any) -> File:
        watcher.downloads.append(("getFile", watcher.holds_one()))
        return await get_file(self, *args, **kwargs)

    async def spied_download(self: File, *args: Any, **kwargs: Any) -> Any:
        watcher.downloads.append(("download", watcher.holds_one()))
        return await download(self, *args, **kwargs)

    monkeypatch.setattr(ExtBot, "get_file", spied_get_file)
    monkeypatch.setattr(File, "download_to_drive", spied_download)
    watcher.attach()
    try:
        yield watcher
    finally:
        watcher.detach()


async def test_the_spy_sees_a_transaction(bot: BotUnderTest, spy: TransactionSpy) -> None:
    """The check below can fail: a transaction open in this task is seen, and its end."""
    assert bot.db is not None
    async with bot.db.transaction() as session:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        assert spy.holds_one()
    assert not spy.holds_one()
    async with bot.db.session() as session:  # a read is a transaction too, until closed
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        assert spy.holds_one()
    assert not spy.holds_one()


async def test_report_and_fix_photos_are_downloaded_after_the_commit(
        bot: BotUnderTest, spy: TransactionSpy) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await report(bot, worker, group, description=None)
    assert spy.downloads == [("getFile", False), ("download", False)]

    leader.send(group, "/hazard YH-20261123-0001")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "受理")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "提交整改")
    await bot.settle()
    leader.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "已由 Leader Li 整改" in last_text(group)
    assert spy.downloads == [("getFile", False), ("download", False)] * 2

    [hazard] = await hazards(bot)
    async with bot.services.db.session() as session:
        photos = await hazard_repo.photos_of(session, hazard.id or 0)
    assert [p.kind for p in photos] == ["before", "after"]
    for photo in photos:  # both kept, where the ledger says
        assert photo.local_path == str(bot.media_dir / "hazards" / f"{photo.file_unique_id}.jpg")
        assert (bot.media_dir / "hazards" / f"{photo.file_unique_id}.jpg").exists()


async def test_a_duplicate_report_downloads_nothing(bot: BotUnderTest,
                                                    spy: TransactionSpy) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await report(bot, worker, group, description=None)
    assert len(spy.downloads) == 2
    # The same scene again an hour later: linked to the first hazard, nothing downloaded.
    bot.clock.advance(timedelta(hours=1))
    leader.send(group, "/report")
    await bot.settle()
    await report_the_first_photo_again(bot, leader, group)
    assert "已登记为隐患 YH-20261123-0001" in last_text(group)
    assert len(spy.downloads) == 2
