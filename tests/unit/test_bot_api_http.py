"""The bot's HTTP client: requests as PTB sends them, a bounded pool that queues in
order, and failures as PTB's errors (a local aiohttp server plays Telegram)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.http import BotApiHTTP


class FakeTelegram:
    """Answers every POST with what it received; ``/slow`` waits for ``release``."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()
        self.two_arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            form = await request.post()
            seen: dict[str, object] = {}
            for name, value in form.items():
                seen[name] = (value.filename, value.file.read()) \
                    if isinstance(value, web.FileField) else value
            self.received.append({"path": request.path, **seen})
            if len(self.received) >= 2:
                self.two_arrived.set()
            if request.path.endswith("/slow"):
                await self.release.wait()
            return web.json_response({"ok": True, "result": True}, status=200)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram()
    app = web.Application()
    app.router.add_post("/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    fake.release.set()
    await runner.cleanup()


def _data(**values: object) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in values.items()])


async def test_fields_go_as_ptb_sends_them(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    request = BotApiHTTP(2)
    await request.initialize()
    status, body = await request.do_request(
        f"{url}/botT/sendMessage", "POST",
        _data(chat_id=-5, text="<b>检查</b> & 签到", reply_markup={"k": [1, 2]}))
    await request.shutdown()
    assert status == 200 and json.loads(body) == {"ok": True, "result": True}
    assert fake.received == [{"path": "/botT/sendMessage", "chat_id": "-5",
                              "text": "<b>检查</b> & 签到", "reply_markup": '{"k": [1, 2]}'}]


async def test_files_go_as_multipart(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    request = BotApiHTTP(2)
    await request.initialize()
    photo = InputFile(b"\x89PNG...", filename="hazard.png")
    await request.do_request(f"{url}/botT/sendPhoto", "POST",
                             _data(chat_id=7, caption="隐患", photo=photo))
    await request.shutdown()
    [sent] = fake.received
    assert sent["chat_id"] == "7" and sent["caption"] == "隐患"
    assert sent["photo"] == ("hazard.png", b"\x89PNG...")


async def test_requests_beyond_the_bound_wait_in_order(
        telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    request = BotApiHTTP(2)
    await request.initialize()
    calls = [asyncio.create_task(request.do_request(f"{url}/botT/slow", "POST",
                                                    _data(n=n))) for n in range(6)]
    await asyncio.wait_for(fake.two_arrived.wait(), 10)
    assert [r["n"] for r in fake.received] == ["0", "1"]  # the others wait their turn
    fake.release.set()
    answers = await asyncio.gather(*calls)
    await request.shutdown()
    assert [status for status, _ in answers] == [200] * 6
    assert fake.most == 2 and [r["n"] for r in fake.received] == [str(n) for n in range(6)]


async def test_a_read_time_out_is_timed_out(telegram: tuple[FakeTelegram, str]) -> None:
    _, url = telegram
    request = BotApiHTTP(1, read_timeout=0.05, write_timeout=0.0)
    await request.initialize()
    with pytest.raises(TimedOut):
        await request.do_request(f"{url}/botT/slow", "POST", _data(n=1))
    await request.shutdown()


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    request = BotApiHTTP(1)
    await request.initialize()
    with pytest.raises(NetworkError):
        await request.do_request(f"http://127.0.0.1:{port}/botT/getMe", "POST")
    await request.shutdown()


async def test_the_metrics_hear_each_method_never_the_token(
        telegram: tuple[FakeTelegram, str]) -> None:
    _, url = telegram
    heard: list[tuple[str, int]] = []
    request = BotApiHTTP(1, on_answer=lambda method, status: heard.append((method, status)))
    await request.initialize()
    await request.do_request(f"{url}/bot123:SECRET/answerCallbackQuery", "POST",
                             _data(callback_query_id="q"))
    await request.shutdown()
    assert heard == [("answerCallbackQuery", 200)]
