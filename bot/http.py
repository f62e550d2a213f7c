"""How the bot talks HTTP to the Bot API: aiohttp under PTB's ``BaseRequest``.

PTB's default client (httpx over httpcore) looks at every pooled connection — a
system call each — whenever a request starts or ends. At a shift start, with the
button answers of hundreds of taps in flight, that bookkeeping cost more than the
answers themselves (about a third of the bot's time in ``bench/checkin_taps.py``),
and it grows with the pool, which real Telegram's round trips make large. aiohttp
keeps idle connections in a queue per host and parses HTTP in C.

Requests are sent as PTB's own client sends them: form fields with JSON-encoded
values, multipart when there are files. Time-outs become ``TimedOut`` and other
network failures ``NetworkError``, so PTB's error handling, the outbox's retries and
the polling's back-off see what they saw before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class BotApiHTTP(BaseRequest):
    """PTB's request interface over one aiohttp session.

    Args:
        connections: The most requests in flight at once (pooled connections); more
            wait for one, in order, as long as it takes (a shift start's answers queue
            here rather than fail; sends wait for the flood limiter before they come).
        read_timeout, write_timeout, connect_timeout: Default time-outs in seconds, as
            PTB's ``HTTPXRequest`` takes them. aiohttp has no write time-out of its own:
            the write counts against the read time-out. A pool time-out a call passes
            is not applied (see ``connections``).
        media_write_timeout: The write time-out of uploads.
        on_answer: Told the method and HTTP status of every answer (the metrics).
    """

    def __init__(self, connections: int = 8, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 media_write_timeout: float | None = 20.0,
                 on_answer: Callable[[str, int], None] | None = None) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._on_answer = on_answer
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read time-out (PTB adds it to a long poll's own wait)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (its connections open as requests need them)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, limit_per_host=0),
                headers={"User-Agent": self.USER_AGENT},
                skip_auto_headers=("Accept-Encoding",))

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; its HTTP status and body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("BotApiHTTP is not initialized")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files
                       else self._write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=_given(connect_timeout, self._connect_timeout),
            sock_read=None if read is None else read + (write or 0.0))
        headers: dict[str, str] | None = None
        body: Any = None
        if files:
            body = _multipart(fields or {}, files)
        elif fields:
            # Encoded here: aiohttp's form builder cost more than the request.
            body = urlencode(fields).encode()
            headers = _FORM
        try:
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout) as response:
                status, payload = response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        if self._on_answer is not None:
            self._on_answer(url.rsplit("/", 1)[-1], status)  # the method, never the token
        return status, payload


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


def _multipart(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    """The form of an upload: the parameters, then each file part."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, part in files.items():
        if isinstance(part, tuple):
            filename, content, *rest = part
            form.add_field(name, content, filename=filename,
                           content_type=rest[0] if rest else "application/octet-stream")
        else:
            form.add_field(name, part)
    return form
