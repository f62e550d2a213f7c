"""The sandbox page and its JSON API: people in a simulated Telegram, in a browser.

The page (``static/``) is plain HTML and JavaScript, no build step and no CDN.
It reads and acts through the JSON API below and refreshes on server-sent
events (``/api/events``) whenever the simulated world changes.

API (JSON in, JSON out; an error is ``{"ok": false, "error": "..."}`` with a 4xx status):

    GET  /api/state                         bot, personas, clock, clock steps
    GET  /api/chats?persona=P               the chats P sees
    GET  /api/chats/C?persona=P             messages, command menu, reply suggestion
    POST /api/chats/C/send                  {persona, text?, reply_to?, sample_photo?,
                                             location?: {latitude, longitude}}
    POST /api/chats/C/upload                multipart: persona, file, as=photo|document,
                                             reply_to?, caption?
    POST /api/chats/C/click                 {persona, message_id, data} → the bot's answer
    POST /api/chats/C/vote                  {persona, message_id, options: [i, …]}
    POST /api/start                         {persona, payload} (a t.me/<bot>?start= link)
    POST /api/clock                         {minutes}: move the clock, run what fell due
    GET  /api/events                        server-sent events: "change" on every change
    GET  /files/<file_id>                   a photo or document, to show or download
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.web import Application, HTTPError, RequestHandler, StaticFileHandler

from tgserver.driver import Driver, UserHandle
from tgserver.sandbox.view import (
    commands_for,
    may_open,
    message_view,
    reply_suggestion,
)
from tgserver.server import TelegramTestServer, listening_socket
from tgserver.world import Chat, Message

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SAMPLE_PHOTO = STATIC / "sample-hazard.png"
UPLOAD_LIMIT = 20 * 1024 * 1024  # what a bot may download from Telegram
CLOCK_STEPS = (15, 60, 240, 1440)  # minutes: +15 min, +1 h, +4 h, +1 day
TEXT_LIMIT = 4096
ANSWER_WAIT = 5.0  # seconds the page waits for the bot to answer a button


@dataclass
class Persona:
    """Someone a visitor can be: a person of the demo organisation."""

    key: str
    user: UserHandle
    role: dict[str, str]  # {"zh": ..., "en": ...}

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.key, "user_id": self.user.id, "name": self.user.name,
                "role": self.role, "language": self.user.user.language_code}


@dataclass
class Controls:
    """What the page may ask of the wiring around the server (the bot's clock)."""

    now: Callable[[], datetime]
    advance: Callable[[timedelta], Awaitable[None]]
    timezone: str = "UTC"


class SandboxError(Exception):
    """Bad input from the page: answered as JSON with a status and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SandboxWeb:
    """Serves the page and the API for one bot on a running test server.

    Args:
        server: The running Telegram test server.
        driver: The driver of the bot the page talks to.
        personas: Who a visitor can be, in the order shown.
        controls: The clock control.
        host: Where to listen (127.0.0.1 unless told otherwise).
        port: 0 picks a free port.
        upload_limit: The largest file a visitor may send, in bytes.
    """

    def __init__(self, server: TelegramTestServer, driver: Driver, personas: list[Persona],
                 controls: Controls, *, host: str = "127.0.0.1", port: int = 8080,
                 upload_limit: int = UPLOAD_LIMIT) -> None:
        self.server = server
        self.driver = driver
        self.world = server.world
        self.personas = {p.key: p for p in personas}
        self.controls = controls
        self.host = host
        self.port = port
        self.upload_limit = upload_limit
        self._http: HTTPServer | None = None
        self._clock_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        """Where the page is."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; the port is known afterwards."""
        routes: list[Any] = [
            (r"/", _IndexHandler),
            (r"/favicon.ico", _NoIconHandler),
            (r"/static/(.*)", StaticFileHandler, {"path": str(STATIC)}),
            (r"/api/state", _StateHandler, {"web": self}),
            (r"/api/chats", _ChatsHandler, {"web": self}),
            (r"/api/chats/(-?\d+)", _ChatHandler, {"web": self}),
            (r"/api/chats/(-?\d+)/send", _SendHandler, {"web": self}),
            (r"/api/chats/(-?\d+)/upload", _UploadHandler, {"web": self}),
            (r"/api/chats/(-?\d+)/click", _ClickHandler, {"web": self}),
            (r"/api/chats/(-?\d+)/vote", _VoteHandler, {"web": self}),
            (r"/api/start", _StartHandler, {"web": self}),
            (r"/api/clock", _ClockHandler, {"web": self}),
            (r"/api/events", _EventsHandler, {"web": self}),
            (r"/files/([A-Za-z0-9_-]+)", _FileHandler, {"web": self}),
            (r"/api/.*", _NotFoundHandler, {"web": self}),
        ]
        app = Application(routes, log_function=_log_request)
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        # Past the upload limit the handler still answers (413, in JSON); far past it
        # Tornado closes the connection before reading it all.
        self._http = HTTPServer(app, max_body_size=self.upload_limit + 8 * 1024 * 1024)
        self._http.add_sockets([sock])

    async def stop(self) -> None:
        """Stop listening."""
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()
            self._http = None

    # ---- what the handlers use

    def persona(self, key: object) -> Persona:
        """The persona of this key, or a 404 naming the ones that exist."""
        persona = self.personas.get(str(key or ""))
        if persona is None:
            known = ", ".join(self.personas)
            raise SandboxError(404, f"unknown persona {key!r}; the personas are: {known}")
        return persona

    def chat(self, chat_id: str | int, persona: Persona) -> Chat:
        """A chat the persona may open, or a 404/403."""
        chat = self.world.chats.get(int(chat_id))
        if chat is None and int(chat_id) == persona.user.id:
            chat = self.world.private_chat(persona.user.user)
        if chat is None:
            raise SandboxError(404, f"unknown chat {chat_id}")
        if not may_open(chat, persona.user.user):
            raise SandboxError(403, f"{persona.user.name} is not in chat {chat_id}")
        return chat

    def message(self, chat: Chat, message_id: object) -> Message:
        """A message of the chat that is still there, or a 404."""
        try:
            found = self.world.find_message(chat.id, int(str(message_id)))
        except ValueError:
            found = None
        if found is None:
            raise SandboxError(404, f"no message {message_id!r} in chat {chat.id}")
        return found

    def chats_of(self, persona: Persona) -> list[dict[str, Any]]:
        """The persona's chats: their groups, then the private chat with the bot."""
        bot_user = self.driver.bot.user
        groups = [c for c in self.world.chats.values()
                  if c.type != "private" and may_open(c, persona.user.user)]
        listed: list[dict[str, Any]] = []
        for chat in sorted(groups, key=lambda c: c.title or ""):
            listed.append({"id": chat.id, "type": chat.type, "title": chat.title,
                           "bot_here": chat.status(bot_user.id) in ("member", "administrator",
                                                                    "creator"),
                           **self._last(chat)})
        private = self.world.private_chat(persona.user.user)
        listed.append({"id": private.id, "type": "private", "title": bot_user.name,
                       "bot_here": True, **self._last(private)})
        return listed

    def _last(self, chat: Chat) -> dict[str, Any]:
        shown = [m for m in self.world.messages.get(chat.id, []) if not m.deleted]
        if not shown:
            return {"last": "", "count": 0}
        last = shown[-1]
        text = last.text or last.caption or ("📷" if last.photo else "📄" if last.document
                                             else "")
        return {"last": text[:60], "count": len(shown)}

    def signature(self) -> str:
        """Changes whenever anything the page shows changes (SSE sends only then)."""
        total = edits = deleted = 0
        for history in self.world.messages.values():
            total += len(history)
            for message in history:
                edits += message.edits
                deleted += message.deleted
        answers = len(self.driver.bot.callback_answers)
        return f"{total}.{edits}.{deleted}.{answers}.{self.controls.now().isoformat()}"

    async def wait_for_answer(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answer to a button press, once it came (or None after a while)."""
        with contextlib.suppress(TimeoutError):
            await self.driver.wait_for(lambda: query_id in self.driver.bot.callback_answers,
                                       timeout=ANSWER_WAIT)
        return self.driver.bot.callback_answers.get(query_id)


def _log_request(handler: RequestHandler) -> None:
    log.debug("%d %s %.1fms", handler.get_status(), handler.request.path,
              1000 * handler.request.request_time())


class _Base(RequestHandler):
    def initialize(self, web: SandboxWeb) -> None:
        self.web = web

    def check_xsrf_cookie(self) -> None:  # a local API without cookies
        return

    def prepare(self) -> None:
        # Another web site open in the same browser may post here (a form needs no
        # permission): only the page itself may act.
        origin = self.request.headers.get("Origin")
        if self.request.method == "POST" and origin and urlsplit(origin).netloc != \
                self.request.host:
            raise SandboxError(403, "cross-site request refused: use the sandbox page")

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SandboxError(400, "the request body is not JSON") from exc
        if not isinstance(data, dict):
            raise SandboxError(400, "the request body must be a JSON object")
        return data

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data, ensure_ascii=False))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, SandboxError):
            self.reply({"ok": False, "error": e.message}, e.status)
            return
        if isinstance(e, HTTPError):
            self.reply({"ok": False, "error": e.log_message or e.reason or "bad request"},
                       e.status_code)
            return
        log.exception("sandbox API error", exc_info=e)
        if not self._finished:
            self.reply({"ok": False, "error": f"internal error: {e}"}, 500)


class _NotFoundHandler(_Base):
    def get(self) -> None:
        raise SandboxError(404, f"no such API: {self.request.path}")

    def post(self) -> None:
        raise SandboxError(404, f"no such API: {self.request.path}")


class _IndexHandler(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish((STATIC / "index.html").read_bytes())


class _NoIconHandler(RequestHandler):
    def get(self) -> None:
        self.set_status(204)
        self.finish()


class _StateHandler(_Base):
    def get(self) -> None:
        bot = self.web.driver.bot.user
        self.reply({"ok": True, "bot": {"name": bot.name, "username": bot.username},
                    "personas": [p.to_dict() for p in self.web.personas.values()],
                    "clock": self.web.controls.now().isoformat(),
                    "timezone": self.web.controls.timezone,
                    "steps": list(CLOCK_STEPS), "upload_limit": self.web.upload_limit})


class _ChatsHandler(_Base):
    def get(self) -> None:
        persona = self.web.persona(self.get_query_argument("persona", ""))
        self.reply({"ok": True, "chats": self.web.chats_of(persona)})


class _ChatHandler(_Base):
    def get(self, chat_id: str) -> None:
        persona = self.web.persona(self.get_query_argument("persona", ""))
        chat = self.web.chat(chat_id, persona)
        history = self.web.world.messages.get(chat.id, [])
        bot = self.web.driver.bot
        user = persona.user.user
        self.reply({"ok": True,
                    "chat": {"id": chat.id, "type": chat.type,
                             "title": chat.title if chat.type != "private" else bot.user.name},
                    "messages": [message_view(m, bot, user) for m in history
                                 if not m.deleted],
                    "commands": commands_for(bot, chat, user),
                    "reply_to": reply_suggestion(history, user)})


class _SendHandler(_Base):
    def post(self, chat_id: str) -> None:
        body = self.body()
        persona = self.web.persona(body.get("persona"))
        chat = self.web.chat(chat_id, persona)
        reply_to = self.web.message(chat, body["reply_to"]) if body.get("reply_to") else None
        user = persona.user
        if body.get("sample_photo"):
            caption = body.get("text") or None
            sent = user.send_photo_file(chat.id, SAMPLE_PHOTO.read_bytes(), "sample-hazard.png",
                                        caption=caption, reply_to=reply_to)
        elif isinstance(body.get("location"), dict):
            try:
                latitude = float(body["location"]["latitude"])
                longitude = float(body["location"]["longitude"])
            except (KeyError, TypeError, ValueError) as exc:
                raise SandboxError(400, "a location needs numeric latitude and longitude") \
                    from exc
            if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
                raise SandboxError(400, "latitude or longitude out of range")
            sent = user.send_location(chat.id, latitude, longitude, reply_to=reply_to)
        else:
            text = str(body.get("text") or "")
            if not text.strip():
                raise SandboxError(400, "the message is empty")
            if len(text) > TEXT_LIMIT:
                raise SandboxError(400, f"a message holds at most {TEXT_LIMIT} characters")
            sent = user.send(chat.id, text, reply_to=reply_to)
        self.reply({"ok": True, "message": message_view(sent, self.web.driver.bot,
                                                        user.user)})


class _UploadHandler(_Base):
    def post(self, chat_id: str) -> None:
        persona = self.web.persona(self.get_body_argument("persona", ""))
        chat = self.web.chat(chat_id, persona)
        files = self.request.files.get("file")
        if not files:
            raise SandboxError(400, "no file in the upload (field 'file')")
        upload = files[0]
        content = upload["body"]
        if len(content) > self.web.upload_limit:
            raise SandboxError(413, f"the file is {len(content)} bytes; the sandbox takes "
                                    f"at most {self.web.upload_limit}")
        reply_id = self.get_body_argument("reply_to", "")
        reply_to = self.web.message(chat, reply_id) if reply_id else None
        caption = self.get_body_argument("caption", "") or None
        name = Path(upload.get("filename") or "file").name or "file"
        mime = upload.get("content_type") or mimetypes.guess_type(name)[0] or \
            "application/octet-stream"
        kind = self.get_body_argument("as", "photo" if mime.startswith("image/") else "document")
        user = persona.user
        if kind == "photo":
            sent = user.send_photo_file(chat.id, content, name, caption=caption,
                                        reply_to=reply_to)
        elif kind == "document":
            sent = user.send_document(chat.id, name, content, mime, caption, reply_to=reply_to)
        else:
            raise SandboxError(400, "'as' must be photo or document")
        self.reply({"ok": True, "message": message_view(sent, self.web.driver.bot,
                                                        user.user)})


class _ClickHandler(_Base):
    async def post(self, chat_id: str) -> None:
        body = self.body()
        persona = self.web.persona(body.get("persona"))
        chat = self.web.chat(chat_id, persona)
        message = self.web.message(chat, body.get("message_id"))
        data = str(body.get("data") or "")
        known = [str(b.get("callback_data")) for row in
                 (message.reply_markup or {}).get("inline_keyboard", []) for b in row
                 if "callback_data" in b]
        if data not in known:
            raise SandboxError(400, f"message {message.message_id} has no button with that data")
        query_id = persona.user.click_data(message, data)
        answer = await self.web.wait_for_answer(query_id)
        self.reply({"ok": True, "answer": answer})


class _VoteHandler(_Base):
    def post(self, chat_id: str) -> None:
        body = self.body()
        persona = self.web.persona(body.get("persona"))
        chat = self.web.chat(chat_id, persona)
        message = self.web.message(chat, body.get("message_id"))
        poll = message.extra.get("poll")
        if not isinstance(poll, dict):
            raise SandboxError(400, f"message {message.message_id} is not a poll")
        if poll.get("is_closed"):
            raise SandboxError(400, "the poll is closed")
        options = body.get("options")
        if not isinstance(options, list) or not options or not all(
                isinstance(o, int) and 0 <= o < len(poll["options"]) for o in options):
            raise SandboxError(400, "options must list option numbers of the poll")
        persona.user.answer_poll(message, options)
        self.reply({"ok": True})


class _StartHandler(_Base):
    def post(self) -> None:
        body = self.body()
        persona = self.web.persona(body.get("persona"))
        payload = str(body.get("payload") or "").strip()
        if len(payload) > 64 or not all(c.isalnum() or c in "_-" for c in payload):
            raise SandboxError(400, "a start parameter is up to 64 letters, digits, _ or -")
        chat = self.web.driver.private_chat(persona.user)
        persona.user.send(chat, f"/start {payload}".strip())
        self.reply({"ok": True, "chat_id": chat.id})


class _ClockHandler(_Base):
    async def post(self) -> None:
        body = self.body()
        try:
            minutes = int(body.get("minutes"))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise SandboxError(400, "minutes must be a whole number") from exc
        if not 1 <= minutes <= 7 * 24 * 60:
            raise SandboxError(400, "the clock moves forward by 1 minute to 7 days")
        async with self.web._clock_lock:  # one move at a time, in order
            await self.web.controls.advance(timedelta(minutes=minutes))
        self.web.world.touch()
        self.reply({"ok": True, "clock": self.web.controls.now().isoformat()})


class _EventsHandler(_Base):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        changed = asyncio.Event()
        self.web.world.listeners.append(changed.set)
        self._closed = False
        sent = ""
        try:
            while not self._closed:
                now = self.web.signature()
                if now != sent:
                    sent = now
                    self.write(f"event: change\ndata: {json.dumps(now)}\n\n")
                    await self.flush()
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    # A comment every 15 s keeps proxies from closing an idle stream.
                    await asyncio.wait_for(changed.wait(), 15)
                if not changed.is_set():
                    self.write(": idle\n\n")
                    await self.flush()
        except StreamClosedError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self.web.world.listeners.remove(changed.set)

    def on_connection_close(self) -> None:
        self._closed = True


class _FileHandler(_Base):
    def get(self, file_id: str) -> None:
        stored = self.web.world.files.get(file_id)
        if stored is None:
            raise SandboxError(404, f"no file {file_id}")
        name = stored.path.rsplit("/", 1)[-1].split("_", 1)[-1]
        kind = _sniff(stored.content) or mimetypes.guess_type(name)[0] or \
            "application/octet-stream"
        self.set_header("Content-Type", kind)
        if self.get_query_argument("download", ""):
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(stored.content)


def _sniff(content: bytes) -> str | None:
    """The type of an image by its first bytes (names of generated files say little)."""
    if content.startswith(b"\x89PNG"):
        return "image/png"
    if content.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if content.startswith(b"%PDF"):
        return "application/pdf"
    return None
