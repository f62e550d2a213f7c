"""The test server's webhook rules, as Telegram has them (delivery itself is tested
with the real bot in tests/integration/test_webhook.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tgserver import TelegramTestServer


@pytest.fixture
async def server() -> AsyncIterator[TelegramTestServer]:
    srv = TelegramTestServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_set_webhook_rules_and_polling_conflict(server: TelegramTestServer) -> None:
    bot = server.create_bot()

    async def call(method: str, **params: object) -> tuple[int, dict[str, object]]:
        return await server.handle(bot.token, method, dict(params), {})

    status, body = await call("setWebhook", url="http://bot.example.org/telegram")
    assert status == 400 and "HTTPS URL" in str(body["description"])
    status, body = await call("setWebhook", url="https://bot.example.org/telegram",
                              secret_token="with space")
    assert status == 400 and "unallowed characters" in str(body["description"])
    assert bot.webhook_url == ""

    assert (await call("setWebhook", url="http://127.0.0.1:9/telegram",
                       secret_token="s3cret"))[0] == 200  # the loopback may be plain HTTP
    assert bot.webhook_secret == "s3cret"
    status, body = await call("getUpdates")
    assert status == 409 and "webhook is active" in str(body["description"])

    # Nothing listens on port 9: the update stays queued and the error is reported.
    server.driver(bot).user("王工").start_bot()
    await server.driver(bot).wait_for(lambda: bot.webhook_error is not None)
    status, body = await call("getWebhookInfo")
    info = body["result"]
    assert isinstance(info, dict) and info["pending_update_count"] == 1
    assert "Connection" in str(info["last_error_message"])

    assert (await call("deleteWebhook"))[0] == 200
    status, body = await call("getUpdates")
    assert status == 200 and len(body["result"]) == 1  # kept for polling  # type: ignore[arg-type]
