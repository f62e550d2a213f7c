"""Webhook delivery: what Telegram does once a bot called ``setWebhook``.

Each queued update is POSTed as JSON to the bot's URL, in order, with the
``X-Telegram-Bot-Api-Secret-Token`` header when the bot set a secret. An
update leaves the queue only when the bot answered 2xx; anything else (a
refused secret, a 5xx, a dead port) is kept, reported in ``getWebhookInfo``
as the last error, and tried again after a short pause that grows, as
Telegram does. While a webhook is set ``getUpdates`` answers 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from urllib.parse import urlsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from tgserver.rules import ApiError, bad_request
from tgserver.world import BotState, World

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def check_webhook_url(url: str) -> None:
    """Telegram wants HTTPS; plain HTTP is allowed to the loopback (the tests' bot)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return
    raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")


def check_secret(secret: str) -> None:
    """1–256 characters of ``A-Z a-z 0-9 _ -``, as Telegram allows."""
    if not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")


class WebhookSender:
    """Delivers each bot's queue to its webhook while one is set.

    Args:
        world: Where the bots and their queues live.
        first_retry: Seconds before the first retry after a failed delivery; each
            further failure doubles it, up to ``last_retry``.
        timeout: How long one delivery may take before it counts as failed.
    """

    def __init__(self, world: World, *, first_retry: float = 0.05, last_retry: float = 2.0,
                 timeout: float = 10.0) -> None:
        self.world = world
        self.first_retry = first_retry
        self.last_retry = last_retry
        self.timeout = timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._client = AsyncHTTPClient(force_instance=True)

    def changed(self, bot: BotState) -> None:
        """Start or stop delivering for ``bot`` after setWebhook / deleteWebhook."""
        task = self._tasks.get(bot.token)
        if bot.webhook_url and (task is None or task.done()):
            self._tasks[bot.token] = asyncio.get_running_loop().create_task(
                self._deliver(bot), name=f"webhook:{bot.user.id}")
        # A running task notices a removed or changed URL itself at its next turn.
        bot.arrived.set()

    async def close(self) -> None:
        """Stop every delivery (the server is stopping)."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._client.close()

    async def _deliver(self, bot: BotState) -> None:
        pause = self.first_retry
        while bot.webhook_url:
            if not bot.queue:
                bot.arrived.clear()
                await bot.arrived.wait()
                continue
            queued = bot.queue[0]
            error = await self._post(bot, queued.update)
            if error is None:
                if bot.queue and bot.queue[0] is queued:
                    bot.queue.pop(0)
                bot.webhook_error = None
                pause = self.first_retry
                self.world.touch()
                continue
            bot.webhook_error = (self.world.now(), error)
            self.world.touch()
            log.debug("webhook delivery of update %s failed: %s", queued.update_id, error)
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.last_retry)

    async def _post(self, bot: BotState, update: dict[str, object]) -> str | None:
        """POST one update; None when the bot took it, else the reason, as Telegram
        words it in ``last_error_message``."""
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers[SECRET_HEADER] = bot.webhook_secret
        request = HTTPRequest(bot.webhook_url, method="POST", headers=headers,
                              body=json.dumps(update, ensure_ascii=False),
                              request_timeout=self.timeout, follow_redirects=False)
        try:
            response = await self._client.fetch(request, raise_error=False)
        except HTTPClientError as exc:
            return f"Connection failed: {exc}"
        except OSError as exc:
            return f"Connection refused: {exc.strerror or exc}"
        if 200 <= response.code < 300:
            return None
        if response.code == 599:  # tornado's code for a time-out or a lost connection
            return f"Connection failed: {response.error}"
        return f"Wrong response from the webhook: {response.code} {response.reason}"


def webhook_info(bot: BotState) -> dict[str, object]:
    """``getWebhookInfo``: the URL, what waits, and the last delivery error."""
    info: dict[str, object] = {"url": bot.webhook_url, "has_custom_certificate": False,
                               "pending_update_count": len(bot.queue)}
    if bot.webhook_url and bot.allowed_updates:
        info["allowed_updates"] = list(bot.allowed_updates)
    if bot.webhook_error is not None:
        info["last_error_date"], info["last_error_message"] = bot.webhook_error
    return info


def refuse_polling(bot: BotState) -> None:
    """``getUpdates`` while a webhook is set is a conflict, as on Telegram."""
    if bot.webhook_url:
        raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                            "use deleteWebhook to delete the webhook first")
