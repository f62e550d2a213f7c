"""The HTTP face of the test server: ``/bot<token>/<method>`` and file downloads."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from tgserver.api import Api, decode_params
from tgserver.limits import Faults, FloodControl
from tgserver.rules import ApiError
from tgserver.webhooks import WebhookSender
from tgserver.world import BotState, ErrorRecord, StoredFile, User, World

log = logging.getLogger(__name__)


class TelegramTestServer:
    """A Telegram Bot API server on 127.0.0.1 for tests and the local sandbox.

    Args:
        host: Where to listen (loopback only).
        port: 0 picks a free port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.world = World()
        self.faults = Faults()
        self.flood = FloodControl()
        self.api = Api(self.world, "")
        self._http: HTTPServer | None = None
        self.webhooks: WebhookSender | None = None
        self._bot_ids = iter(range(7000000001, 7999999999))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: what ``TELEGRAM_API_BASE_URL`` points at."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """PTB's ``base_url`` (the token is appended)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        """Listen; the port is known afterwards."""
        app = Application([
            (r"/bot([^/]+)/([A-Za-z]+)", _MethodHandler, {"server": self}),
            (r"/file/bot([^/]+)/(.+)", _FileHandler, {"server": self}),
        ], log_function=_log_request)
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._http = HTTPServer(app, max_body_size=60 * 1024 * 1024)
        self._http.add_sockets([sock])
        self.webhooks = WebhookSender(self.world)
        self.api.webhooks_changed = self.webhooks.changed

    async def stop(self) -> None:
        """Stop listening and release long polls."""
        for bot in self.world.bots.values():
            bot.arrived.set()
        if self.webhooks is not None:
            await self.webhooks.close()
            self.webhooks = None
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()
            self._http = None

    def create_bot(self, username: str = "SafetyTestBot", first_name: str = "Safety Bot", *,
                   can_read_all_group_messages: bool = False, token: str | None = None
                   ) -> BotState:
        """Register a bot account; its ``token`` authenticates API calls."""
        bot_id = next(self._bot_ids)
        user = User(bot_id, first_name, username=username, is_bot=True)
        self.world.users[bot_id] = user
        state = BotState(user, token or f"{bot_id}:TEST{bot_id:x}",
                         can_read_all_group_messages)
        self.world.bots[state.token] = state
        return state

    def driver(self, bot: BotState) -> Any:
        """A driver that plays the humans around ``bot``."""
        from tgserver.driver import Driver

        return Driver(self, bot)

    async def handle(self, token: str, method: str, params: dict[str, Any],
                     uploads: dict[str, StoredFile]) -> tuple[int, dict[str, Any]]:
        """Answer one API call as (HTTP status, JSON body)."""
        bot = self.world.bots.get(token)
        if bot is None:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        chat_id = _int_or_none(params.get("chat_id"))
        try:
            fault = self.faults.take(method, chat_id)
            if fault is not None:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.drop:
                    raise _Drop
                if fault.retry_after is not None:
                    raise ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                                   {"retry_after": fault.retry_after})
                if fault.status is not None:
                    raise ApiError(fault.status, "Bad Gateway" if fault.status == 502
                                   else "Internal Server Error")
            self.flood.check(method, chat_id, token)
            decoded = decode_params(params)
            decoded["_uploads"] = uploads
            result = await self.api.call(bot, method, decoded)
            if fault is not None and fault.release is not None and fault.reached is not None:
                fault.reached.set()
                self.world.touch()
                await fault.release.wait()
            return 200, {"ok": True, "result": result}
        except ApiError as error:
            bot.errors.append(ErrorRecord(method, {k: v for k, v in params.items()},
                                          error.code, error.description))
            body: dict[str, Any] = {"ok": False, "error_code": error.code,
                                    "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return error.code, body
        finally:
            self.world.touch()


def listening_socket(host: str, port: int) -> socket.socket:
    """A non-blocking socket listening on ``host:port`` (port 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _log_request(handler: RequestHandler) -> None:
    """Errors are the bot's business (and in ``driver.errors``): log requests at debug."""
    log.debug("%d %s %.1fms", handler.get_status(), handler.request.path,
              1000 * handler.request.request_time())


class _Drop(Exception):
    """Close the connection without an answer."""


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class _MethodHandler(RequestHandler):
    def initialize(self, server: TelegramTestServer) -> None:
        self.server = server

    def check_xsrf_cookie(self) -> None:  # an API, not a web form
        return

    async def get(self, token: str, method: str) -> None:
        await self._answer(token, method)

    async def post(self, token: str, method: str) -> None:
        await self._answer(token, method)

    async def _answer(self, token: str, method: str) -> None:
        params: dict[str, Any] = {k: self.get_argument(k) for k in self.request.arguments}
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.startswith("application/json") and self.request.body:
            params.update(json.loads(self.request.body))
        uploads: dict[str, StoredFile] = {}
        for name, files in self.request.files.items():
            upload = files[0]
            stored = self.server.api.new_file(upload["body"], "uploads",
                                              upload.get("filename") or name)
            uploads[name] = stored
        try:
            status, body = await self.server.handle(token, method, params, uploads)
        except _Drop:
            self.request.connection.close()  # type: ignore[union-attr]
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, ensure_ascii=False))


class _FileHandler(RequestHandler):
    def initialize(self, server: TelegramTestServer) -> None:
        self.server = server

    def get(self, token: str, path: str) -> None:
        if token not in self.server.world.bots:
            self.set_status(401)
            self.finish()
            return
        for stored in self.server.world.files.values():
            if stored.path == path:
                self.set_header("Content-Type", "application/octet-stream")
                self.finish(stored.content)
                return
        self.set_status(404)
        self.finish()
