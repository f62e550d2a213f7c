"""Webhook mode: Telegram (the test server) posts updates to the bot's own server.

The bot is the real Application behind :class:`bot.web.OpsServer`, as ``safetybot
run`` starts it with ``WEBHOOK_URL`` set; the test server delivers each update with
the secret token the bot registered, keeps what the bot refuses, and tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import lifecycle
from bot.app import build_application
from bot.settings import Settings
from bot.web import SECRET_HEADER, OpsServer
from storage.db import Database
from tests.integration.conftest import BotUnderTest
from tgserver import TelegramTestServer

SECRET = "webhook_Secret-2026"
HELLO = "你好"  # a word of the /start answer in private


class WebhookBot(BotUnderTest):
    """The bot in webhook mode: its server on a free loopback port, the webhook set."""

    def __init__(self, server: TelegramTestServer, tmp_path: Path) -> None:
        super().__init__(server, tmp_path)
        self.web: OpsServer | None = None
        self.webhook_url = ""

    async def start(self) -> None:
        self.db = Database(self.db_url)
        self.app = build_application(self.settings(), db=self.db, clock=self.clock,
                                     install_timetable=False)
        self.app.after_update.append(self._on_handled)
        self.web = OpsServer(self.app, mode="webhook", webhook_path="telegram", secret=SECRET)
        port = await self.web.start("127.0.0.1", 0)
        self.webhook_url = f"http://127.0.0.1:{port}/telegram"
        await lifecycle.start_webhook(self.app, url=self.webhook_url, secret=SECRET)

    async def stop(self) -> None:
        if self.web is not None:
            await self.web.stop()
            self.web = None
        await super().stop()


@pytest.fixture
async def hooked(server: TelegramTestServer, tmp_path: Path) -> AsyncIterator[WebhookBot]:
    under_test = WebhookBot(server, tmp_path)
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.stop()


def private_start(hooked: WebhookBot, update_id: int, name: str) -> tuple[dict[str, Any], Any]:
    """A person of the simulated world, and a private /start from them as Telegram would
    post it (written here, not queued by the server: the test posts it itself)."""
    person = hooked.driver.user(name)
    chat = hooked.driver.private_chat(person)
    hooked.account.started.add(person.id)  # they opened the chat: the bot may answer
    update = {"update_id": update_id, "message": {
        "message_id": 1, "date": 1_790_000_000, "chat": chat.chat.to_dict(),
        "from": person.user.to_dict(), "text": "/start",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    return update, person


async def test_an_update_posted_to_the_webhook_is_handled(hooked: WebhookBot) -> None:
    d = hooked.driver
    assert hooked.account.webhook_url == hooked.webhook_url
    assert hooked.account.webhook_secret == SECRET
    worker = d.user("王工")
    group = d.group("合成甲班", members=[worker], admins=[worker])
    worker.start_bot()
    group.add_bot(by=worker)
    await hooked.settle()

    assert set(d.delivered_update_ids()) <= hooked.handled
    assert any(HELLO in (m.text or "") for m in d.private_messages(worker))
    assert group.bot_messages(), "the bot greeted the group it was added to"
    info = await hooked.app.bot.get_webhook_info()  # type: ignore[union-attr]
    assert info.url == hooked.webhook_url and info.pending_update_count == 0
    assert info.last_error_message is None
    # Telegram refuses polling while a webhook is set; the bot never polled.
    status, body = await hooked.server.handle(hooked.account.token, "getUpdates", {}, {})
    assert status == 409 and "webhook is active" in body["description"]


async def test_a_post_without_the_right_secret_is_refused_and_not_handled(
        hooked: WebhookBot) -> None:
    cases = {"missing": {}, "wrong": {SECRET_HEADER: "guessed"},
             "wrong case": {SECRET_HEADER: SECRET.upper()}, "right": {SECRET_HEADER: SECRET}}
    answers, people = {}, {}
    async with httpx.AsyncClient() as client:
        for number, (label, headers) in enumerate(cases.items(), start=900001):
            update, people[label] = private_start(hooked, number, f"用户{number}")
            response = await client.post(hooked.webhook_url, headers=headers, json=update)
            answers[label] = response.status_code
    assert answers == {"missing": 403, "wrong": 403, "wrong case": 403, "right": 200}

    # The one with the secret is handled (the bot answers it); the others never were.
    async with asyncio.timeout(10):
        while 900004 not in hooked.handled:
            hooked._handled_event.clear()
            await hooked._handled_event.wait()
    await hooked.drain_outbox()
    assert {900001, 900002, 900003}.isdisjoint(hooked.handled)
    d = hooked.driver
    assert any(HELLO in (m.text or "") for m in d.private_messages(people["right"]))
    for label in ("missing", "wrong", "wrong case"):
        assert d.private_messages(people[label]) == [], label


async def test_a_refused_delivery_is_kept_and_handled_once_when_accepted(
        hooked: WebhookBot) -> None:
    d = hooked.driver
    worker = d.user("李工")
    hooked.account.webhook_secret = "not-what-the-bot-set"  # e.g. a token rotated halfway
    worker.start_bot()
    await d.wait_for(lambda: hooked.account.webhook_error is not None)

    info = await hooked.app.bot.get_webhook_info()  # type: ignore[union-attr]
    assert info.pending_update_count == 1
    assert "403" in (info.last_error_message or "")
    assert not hooked.handled and not d.private_messages(worker)

    hooked.account.webhook_secret = SECRET  # Telegram's next try carries the right one
    await hooked.settle()
    assert set(d.delivered_update_ids()) <= hooked.handled
    assert len([m for m in d.private_messages(worker) if HELLO in (m.text or "")]) == 1

    # Telegram posting the same update again (no answer seen): dropped, not re-handled.
    d.redeliver_last_update()
    await d.until_delivered()
    await hooked.drain_outbox()
    assert len([m for m in d.private_messages(worker) if HELLO in (m.text or "")]) == 1


async def test_switching_back_to_polling_removes_the_webhook(
        hooked: WebhookBot) -> None:
    await hooked.stop()
    assert hooked.account.webhook_url, "stopping leaves the webhook: Telegram keeps updates"
    worker = hooked.driver.user("赵工")
    worker.start_bot()  # arrives while the bot is down: kept for it
    hooked.db = Database(hooked.db_url)
    hooked.app = build_application(hooked.settings(), db=hooked.db, clock=hooked.clock,
                                   install_timetable=False)
    hooked.app.after_update.append(hooked._on_handled)
    await lifecycle.start_polling(hooked.app, poll_timeout=5)
    await hooked.settle()
    assert hooked.account.webhook_url == ""
    assert any(HELLO in (m.text or "") for m in hooked.driver.private_messages(worker))


def test_webhook_settings_need_a_secret_and_a_free_path() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET_TOKEN"):
        Settings(webhook_url="https://bot.example.org")
    with pytest.raises(ValueError, match="A-Z"):
        Settings(webhook_url="https://bot.example.org", webhook_secret_token="has space")
    with pytest.raises(ValueError, match="healthz"):
        Settings(webhook_url="https://bot.example.org", webhook_secret_token="ok",
                 webhook_path="metrics")
    settings = Settings(webhook_url="https://bot.example.org/", webhook_secret_token="ok",
                        webhook_path="/tg-hook/")
    assert settings.webhook_endpoint == "https://bot.example.org/tg-hook"
    assert Settings().webhook_endpoint is None
