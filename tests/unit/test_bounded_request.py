"""At most N requests to Telegram in flight; the rest wait their turn, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.request import HTTPXRequest

from bot.app import BoundedRequest


async def test_requests_beyond_the_bound_wait_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    in_flight, most, started = 0, 0, []
    release = asyncio.Event()

    async def fake_request(self: HTTPXRequest, url: str, *args: Any,
                           **kwargs: Any) -> tuple[int, bytes]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        started.append(url)
        await release.wait()
        in_flight -= 1
        return 200, b"{}"

    monkeypatch.setattr(HTTPXRequest, "do_request", fake_request)
    request = BoundedRequest(2)
    calls = [asyncio.create_task(request.do_request(f"u{n}", "POST")) for n in range(6)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == ["u0", "u1"]  # the others wait, not in httpcore's pool
    release.set()
    assert await asyncio.gather(*calls) == [(200, b"{}")] * 6
    assert most == 2 and started == [f"u{n}" for n in range(6)]
