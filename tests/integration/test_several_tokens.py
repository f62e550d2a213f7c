"""Several bot tokens: each group hears from the bot that is in it, each person from
the bot they started, and each bot's sends are paced by its own flood limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.settings import Settings
from domain.org import Role
from storage import fleet as fleet_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import Person
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import grant, make_org
from tests.integration.test_meetings import briefings, give_schedule
from tgserver import TelegramTestServer
from tgserver.driver import ChatHandle, Driver, UserHandle
from tgserver.world import BotState


class TwoBots:
    """The bot under test with a second token, and a driver for each bot's humans.

    People are made once and acted through either bot's driver: a button press
    reaches the bot that sent the message, a private message the bot it is written
    to; a group message reaches every bot in the group either way.
    """

    def __init__(self, bot: BotUnderTest, second: BotState) -> None:
        self.bot = bot
        self.a: Driver = bot.driver
        self.b: Driver = bot.server.driver(second)
        self.second = second
        self.handled: set[tuple[int, int]] = set()
        self._event = asyncio.Event()
        assert bot.app is not None
        bot.app.after_update.append(self._on_handled)

    def _on_handled(self, update: Any) -> None:
        self.handled.add((update.get_bot().id, update.update_id))
        self._event.set()

    def via(self, driver: Driver, person: UserHandle) -> UserHandle:
        """The same person, acting towards ``driver``'s bot."""
        return UserHandle(driver, person.user)

    def chat(self, driver: Driver, chat: ChatHandle) -> ChatHandle:
        """The same chat, as ``driver``'s bot sees it (its own messages)."""
        return ChatHandle(driver, chat.chat)

    async def settle(self, limit: float = 10.0) -> None:
        """Both bots have handled every update, and the outbox has nothing due."""
        for driver in (self.a, self.b):
            await driver.until_delivered(timeout=limit)
        wanted = {(d.bot.user.id, i) for d in (self.a, self.b) for i in d.delivered_update_ids()}
        async with asyncio.timeout(limit):
            while not wanted <= self.handled:
                self._event.clear()
                if wanted <= self.handled:
                    break
                await self._event.wait()
        await self.bot.drain_outbox()


@pytest.fixture
async def two(server: TelegramTestServer, tmp_path: Path) -> AsyncIterator[TwoBots]:
    second = server.create_bot(username="SafetyTwoBot", first_name="Safety Two")
    under_test = BotUnderTest(server, tmp_path, telegram_extra_bot_tokens=(second.token,))
    await under_test.start()
    try:
        yield TwoBots(under_test, second)
    finally:
        await under_test.stop()


async def speaker(two: TwoBots, chat_id: int) -> int | None:
    async with two.bot.services.db.session() as s:
        group = await org_repo.get_group_chat(s, chat_id)
        assert group is not None
        return group.bot_id


async def test_a_group_with_the_second_bot_hears_only_from_it(two: TwoBots) -> None:
    ids = await make_org(two.bot)
    a, b = two.a, two.b
    leader, worker = b.user("Leader Li"), b.user("Worker Wu")
    zhao, sun = b.user("Officer Zhao"), a.user("Officer Sun")
    await grant(two.bot, leader, ids["a"], Role.TEAM_LEADER)
    for officer in (zhao, sun):
        await grant(two.bot, officer, ids["ws"], Role.SAFETY_OFFICER)
    zhao.start_bot()  # Zhao pressed Start on the second bot, Sun on the main one
    sun.start_bot()
    group = b.group("合成甲班", members=[worker, leader], admins=[leader])
    group.add_bot(by=leader)  # only the second bot is in this group
    await two.settle()
    assert "/setup" in (group.bot_messages()[-1].text or "")
    leader.send(group, "/setup")
    await two.settle()
    leader.click(group.bot_messages()[-1], "合成甲班")
    await two.settle()
    assert await speaker(two, group.id) == two.second.user.id

    # The briefing and the roll call come from the second bot; the main one sends nothing.
    await give_schedule(two.bot, "team-a")
    two.bot.clock.advance(timedelta(minutes=15))  # Monday 08:45, the 09:00 shift
    await two.bot.run_sweeps()
    [briefing] = briefings(group)
    cq = worker.click(briefing, "签到")
    await two.settle()
    assert b.callback_answer(cq) == {"text": "已签到", "show_alert": False}
    assert "已签到（1）：Worker Wu" in (briefing.text or "")
    assert two.chat(a, group).bot_messages() == []

    # Not held 30 minutes after the start: each officer hears through their own bot.
    two.bot.clock.advance(timedelta(minutes=46))  # 09:31
    await two.bot.run_sweeps()
    for officer, own, other in ((zhao, b, a), (sun, a, b)):
        heard = [m.text for m in own.private_messages(officer) if "仍未确认" in (m.text or "")]
        assert len(heard) == 1, officer.name
        assert not [m for m in other.private_messages(officer) if "仍未确认" in (m.text or "")]
    assert a.errors == [] and b.errors == []

    # Sun starts the second bot too: from now on it is the one that reaches him.
    two.via(b, sun).start_bot()
    await two.settle()
    async with two.bot.services.db.session() as s:
        person = (await s.exec(select(Person).where(Person.telegram_id == sun.id))).one()
    assert person.bot_id == two.second.user.id


async def test_new_groups_go_to_the_least_loaded_bot(two: TwoBots) -> None:
    ids = await make_org(two.bot)
    a, b = two.a, two.b
    leader = a.user("Leader Li")
    await grant(two.bot, leader, ids["a"], Role.TEAM_LEADER)
    for n in range(2):  # the main bot already speaks in two groups
        a.group(f"旧群{n}", members=[leader], admins=[leader]).add_bot(by=leader)
    await two.settle()

    # The invitation names the second bot, the one with fewer groups.
    leader.start_bot()
    leader.send(a.private_chat(leader), "/invite team-a")
    await two.settle()
    assert "t.me/SafetyTwoBot?startgroup=" in (a.private_messages(leader)[-1].text or "")

    # Both bots are added to a new group: the main one first, then the second, which
    # is less loaded and keeps it; the main one stays silent from then on.
    group = a.group("合成甲班", members=[leader], admins=[leader])
    group.add_bot(by=leader)
    await two.settle()
    two.chat(b, group).add_bot(by=leader)
    await two.settle()
    assert await speaker(two, group.id) == two.second.user.id
    before = len(group.bot_messages())
    leader.send(group, "/setup")
    await two.settle()
    assert len(group.bot_messages()) == before  # nothing more from the main bot
    second_view = two.chat(b, group)
    two.via(b, leader).click(second_view.bot_messages()[-1], "合成甲班")
    await two.settle()
    assert await org_repo_unit_of(two, group.id) == ids["a"]

    # A third group with only the main bot in it stays with the main bot; then a group
    # the second bot joins first keeps the second bot when the main one comes too.
    other = a.group("合成乙班", members=[leader], admins=[leader])
    two.chat(b, other).add_bot(by=leader)
    await two.settle()
    other.add_bot(by=leader)
    await two.settle()
    assert await speaker(two, other.id) == two.second.user.id
    assert other.bot_messages() == []  # the main bot never greeted it

    # The second bot is removed from the first group: the group is not lost, the main
    # bot (still in it) takes it over at its next message.
    two.chat(b, group).kick_bot(by=leader)
    await two.settle()
    leader.send(group, "/team")
    await two.settle()
    assert await speaker(two, group.id) == two.bot.account.user.id
    assert "合成甲班" in (group.bot_messages()[-1].text or "")


async def org_repo_unit_of(two: TwoBots, chat_id: int) -> int | None:
    async with two.bot.services.db.session() as s:
        group = await org_repo.get_group_chat(s, chat_id)
        return group.unit_id if group else None


class PacingSpy:
    """A bot's own rate limiter, noting the chat of every call it paces."""

    def __init__(self, limiter: Any, bot_id: int, paced: dict[int, list[int]]) -> None:
        self.limiter, self.bot_id, self.paced = limiter, bot_id, paced

    async def initialize(self) -> None:
        await self.limiter.initialize()

    async def shutdown(self) -> None:
        await self.limiter.shutdown()

    async def process_request(self, **kwargs: Any) -> Any:
        chat_id = kwargs["data"].get("chat_id")
        if chat_id is not None:
            self.paced.setdefault(self.bot_id, []).append(int(chat_id))
        return await self.limiter.process_request(**kwargs)


class PacedBot(BotUnderTest):
    """The bot under test with a real flood budget (the fixture's never waits)."""

    OVERALL_PER_SECOND = 2.85

    def settings(self) -> Settings:
        return super().settings().model_copy(
            update={"flood_overall_per_second": self.OVERALL_PER_SECOND})


async def test_each_bot_is_paced_by_its_own_flood_limiter(
        server: TelegramTestServer, tmp_path: Path) -> None:
    # Telegram's limits at a tenth of the speed (30 sends per 10 s per bot), each
    # bot's limiter at 2.85 a second: each bot's sends must pass its own limiter (a
    # shared one would halve the fan-out; bench/multi_token_fanout.py measures it).
    server.flood.enabled, server.flood.speed = True, 0.1
    second = server.create_bot(username="SafetyTwoBot", first_name="Safety Two")
    bot = PacedBot(server, tmp_path, telegram_extra_bot_tokens=(second.token,))
    await bot.start()
    try:
        per_bot = 6
        now = bot.clock.now()
        chats: dict[int, list[int]] = {}
        async with bot.services.db.transaction() as s:
            for account in (bot.account, second):
                for n in range(per_bot):
                    chat = server.world.new_group(f"{account.user.username} {n}")
                    chat.statuses[account.user.id] = "member"
                    group = await org_repo.upsert_group_chat(
                        s, chat_id=chat.id, title=chat.title or "", chat_type="group", now=now)
                    await fleet_repo.set_speaker(s, group, account.user.id, now=now)
                    await outbox_repo.enqueue_text(s, chat_id=chat.id, html=f"通知 {n}",
                                                   now=now, purpose="test.notice")
                    chats.setdefault(account.user.id, []).append(chat.id)
        # Which chats each bot's limiter paced: seen by a spy on each limiter (no clock,
        # so a loaded machine cannot make it fail or pass by luck).
        assert bot.app is not None
        paced: dict[int, list[int]] = {}
        limiters = {}
        for app in (bot.app, *bot.app.extra_applications):
            limiter = app.bot.rate_limiter
            assert limiter is not None
            limiters[app.bot.id] = limiter
            app.bot._rate_limiter = PacingSpy(limiter, app.bot.id, paced)  # type: ignore[attr-defined]
        assert len({id(limiter) for limiter in limiters.values()}) == 2  # one each
        await bot.drain_outbox()
        for account in (bot.account, second):
            for chat_id in chats[account.user.id]:
                [sent] = [m for m in server.world.messages[chat_id] if m.by_bot_id]
                assert sent.by_bot_id == account.user.id
            assert sorted(paced[account.user.id]) == sorted(chats[account.user.id])
    finally:
        await bot.stop()
