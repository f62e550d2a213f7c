"""The bot's own HTTP server: Telegram's webhook posts, ``/healthz`` and ``/metrics``.

In webhook mode one server on ``WEBHOOK_LISTEN:WEBHOOK_PORT`` takes Telegram's
posts at ``/WEBHOOK_PATH`` and answers the two operational endpoints; a reverse
proxy in front should forward only the webhook path. With ``METRICS_PORT`` set a
second server (no webhook) answers them on ``METRICS_HOST`` (the loopback by
default), in polling mode too.

A post is taken only with the right ``X-Telegram-Bot-Api-Secret-Token``
(compared in constant time); anything else is refused with 403 before its body
is read as an update. A taken update is put on the Application's queue and
answered 200 at once: handling happens behind (in order per chat, each once;
see :mod:`bot.updates`), so Telegram never waits for a handler.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from typing import Any

from telegram import Update
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application as WebApplication
from tornado.web import RequestHandler

from bot import health
from bot.metrics import CONTENT_TYPE
from bot.polling import DurableUpdater
from bot.services import Services, get_services

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024  # an update is a few kB; a megabyte is no update


class ListenError(Exception):
    """The server could not listen where it was told (port taken, address not here)."""


class OpsServer:
    """Serves ``/healthz``, ``/metrics`` and, in webhook mode, the webhook path.

    Args:
        app: The running bot.
        mode: ``"webhook"`` or ``"polling"``, as /healthz reports it.
        webhook_path: Where Telegram posts (None: no webhook on this server).
        secret: The secret token Telegram sends with every post.
    """

    def __init__(self, app: Application, *, mode: str,  # type: ignore[type-arg]
                 webhook_path: str | None = None, secret: str | None = None) -> None:
        if webhook_path is not None and not secret:
            raise ValueError("a webhook needs its secret token")
        self.app = app
        self.mode = mode
        self.webhook_path = webhook_path
        self.secret = secret
        self.host = ""
        self.port = 0
        self._http: HTTPServer | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (port 0: any free port); returns the port."""
        shared = {"server": self}
        routes: list[Any] = [(r"/healthz", _HealthHandler, shared),
                             (r"/metrics", _MetricsHandler, shared)]
        if self.webhook_path is not None:
            routes.append((rf"/{self.webhook_path}/?", _WebhookHandler, shared))
        web = WebApplication(routes, log_function=_log_request)
        try:
            sockets = bind_sockets(port, address=host or None, family=socket.AF_UNSPEC)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host or '*'}:{port}: "
                              f"{exc.strerror or exc}") from exc
        self.host, self.port = host, sockets[0].getsockname()[1]
        self._http = HTTPServer(web, max_body_size=MAX_UPDATE_BYTES, xheaders=True)
        self._http.add_sockets(sockets)
        log.info("serving %s on %s:%d", ", ".join(
            (["/" + self.webhook_path] if self.webhook_path else []) + ["/healthz", "/metrics"]),
            host or "*", self.port)
        return self.port

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._http is not None:
            http, self._http = self._http, None
            http.stop()
            await http.close_all_connections()

    @property
    def services(self) -> Services:
        """The bot's services (database, clock, metrics)."""
        return get_services(self.app.bot_data)

    def secret_matches(self, given: str | None) -> bool:
        """Whether ``given`` is the webhook's secret (constant time)."""
        if given is None or self.secret is None:
            return False
        return hmac.compare_digest(given.encode(), self.secret.encode())


def _log_request(handler: RequestHandler) -> None:
    """Probes come every few seconds: at debug, except refusals and errors."""
    status = handler.get_status()
    level = logging.WARNING if status >= 400 and status != 503 else logging.DEBUG
    log.log(level, "%d %s %s %.1fms", status, handler.request.method, handler.request.path,
            1000 * handler.request.request_time())


class _Handler(RequestHandler):
    def initialize(self, server: OpsServer) -> None:
        self.server = server

    def check_xsrf_cookie(self) -> None:  # an API, not a web form
        return

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()  # the status says it; no page, no details


class _HealthHandler(_Handler):
    async def get(self) -> None:
        report = await health.check(self.server.app, self.server.services,
                                    mode=self.server.mode)
        self.set_status(report.status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report.body, ensure_ascii=False))


class _MetricsHandler(_Handler):
    async def get(self) -> None:
        services = self.server.services
        try:
            await services.metrics.refresh(services.db, services.clock)
        except Exception as exc:  # the counters are still worth serving
            log.warning("metrics: the outbox backlog could not be read: %s",
                        exc or type(exc).__name__)
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(services.metrics.exposition())


class _WebhookHandler(_Handler):
    async def post(self) -> None:
        if not self.server.secret_matches(self.request.headers.get(SECRET_HEADER)):
            # Not Telegram: nothing of the body is read.
            self.send_error(403)
            return
        app = self.server.app
        if not app.running:
            self.send_error(503)  # Telegram retries; nothing is lost
            return
        try:
            data = json.loads(self.request.body)
            update = Update.de_json(data, app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            log.error("webhook: a post that is no update was refused: %s", exc)
            self.send_error(400)
            return
        if update is None:
            self.send_error(400)
            return
        updater = app.updater
        if isinstance(updater, DurableUpdater):
            # Kept before Telegram hears "200": a kill -9 now loses nothing.
            try:
                await updater.receive([data])
            except Exception:
                log.exception("webhook: the update could not be stored; Telegram retries")
                self.send_error(503)
                return
        else:
            if isinstance(app.bot, ExtBot):
                app.bot.insert_callback_data(update)
            await app.update_queue.put(update)
        self.set_status(200)
        self.finish()
