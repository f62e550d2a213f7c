"""Start and stop the application inside an event loop someone else owns.

``run_polling`` owns its loop; tests and the local sandbox run the bot beside
other things (the Telegram test server), so they use these functions, which do
what ``run_polling`` does, in the same order. :func:`serve` is ``safetybot run``:
polling or a webhook, with ``/healthz`` and ``/metrics``, until a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from telegram.ext import Application

from bot.app import ALLOWED_UPDATES
from bot.polling import DurableUpdater
from bot.settings import Settings
from bot.web import OpsServer

log = logging.getLogger(__name__)


async def start_polling(application: Application, *, poll_timeout: int = 10) -> None:  # type: ignore[type-arg]
    """Initialise, run ``post_init``, start polling and start handling updates.

    Polling removes a webhook set earlier (Telegram allows one or the other).
    """
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=poll_timeout,
                                            allowed_updates=ALLOWED_UPDATES,
                                            drop_pending_updates=False)
    await application.start()


async def start_webhook(application: Application, *, url: str, secret: str) -> None:  # type: ignore[type-arg]
    """Initialise, run ``post_init``, start handling, then ask Telegram to post to ``url``.

    The server taking the posts (:class:`bot.web.OpsServer`) must be listening. Updates
    that waited while the bot was down are kept (Telegram posts them now), and stopping
    leaves the webhook set, so Telegram keeps what arrives until the bot is back.
    """
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    updater = application.updater
    if isinstance(updater, DurableUpdater):
        await updater.take_over_inbox()  # what a previous run kept and did not finish
    await application.bot.set_webhook(url=url, secret_token=secret,
                                      allowed_updates=ALLOWED_UPDATES,
                                      drop_pending_updates=False)
    log.info("webhook set: Telegram posts updates to %s", url)


async def stop(application: Application) -> None:  # type: ignore[type-arg]
    """Stop polling, finish handling, run ``post_stop`` and shut down."""
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    if application.post_stop is not None:
        await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


async def serve(application: Application, settings: Settings,  # type: ignore[type-arg]
                stopping: asyncio.Event | None = None) -> None:
    """Run the bot until SIGINT/SIGTERM (or ``stopping`` is set), then stop cleanly.

    Webhook mode when ``WEBHOOK_URL`` is set (its server also answers /healthz and
    /metrics), else long polling; ``METRICS_PORT`` adds a server for those two.
    """
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stopping.set)
    endpoint = settings.webhook_endpoint
    secret = settings.webhook_secret_token
    mode = "webhook" if endpoint else "polling"
    servers: list[OpsServer] = []
    try:
        if endpoint:
            assert secret is not None  # the settings refuse a webhook without one
            hook = OpsServer(application, mode=mode, webhook_path=settings.webhook_path,
                             secret=secret.get_secret_value())
            servers.append(hook)
            await hook.start(settings.webhook_listen, settings.webhook_port)
        if settings.metrics_port is not None:
            ops = OpsServer(application, mode=mode)
            servers.append(ops)
            await ops.start(settings.metrics_host, settings.metrics_port)
        if endpoint:
            assert secret is not None
            await start_webhook(application, url=endpoint, secret=secret.get_secret_value())
        else:
            await start_polling(application)
        await stopping.wait()
        log.info("stopping")
    finally:
        for number in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(number)
        for server in servers:
            await server.stop()
        await stop(application)
