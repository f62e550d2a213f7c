"""Telegram's rules as the test server enforces them."""

from __future__ import annotations

import pytest

from tgserver.limits import Faults, FloodControl
from tgserver.rules import ApiError, check_markup, check_text, parse_html, utf16_len


def test_html_to_text_and_entities() -> None:
    text, entities = parse_html('<b>粗</b> &lt;x&gt; &amp; <a href="https://e.x">l</a> &#34;😀')
    assert text == '粗 <x> & l "😀'
    assert entities[0] == {"type": "bold", "offset": 0, "length": 1}
    assert entities[1]["type"] == "text_link" and entities[1]["url"] == "https://e.x"
    assert utf16_len(text) == len(text) + 1  # the emoji is two UTF-16 units


@pytest.mark.parametrize(("html", "reason"), [
    ("<foo>x</foo>", 'Unsupported start tag "foo"'),
    ("<b>x", "Can't find end tag"),
    ("x</b>", "Unexpected end tag"),
    ("<b><i>x</b></i>", "Can't find end tag"),
    ("a &nbsp; b", "Unsupported HTML entity"),
    ('<span class="x">s</span>', "tg-spoiler"),
])
def test_bad_html_is_refused_like_telegram(html: str, reason: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_html(html)
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert reason in caught.value.description and "at byte offset" in caught.value.description


def test_lengths() -> None:
    check_text("x" * 4096)
    with pytest.raises(ApiError, match="message is too long"):
        check_text("x" * 4097)
    with pytest.raises(ApiError, match="message is too long"):
        check_text("😀" * 2049)  # 4098 UTF-16 units
    with pytest.raises(ApiError, match="message text is empty"):
        check_text("  ")
    with pytest.raises(ApiError, match="caption is too long"):
        check_text("x" * 1025, caption=True)


def test_callback_data_limit() -> None:
    check_markup({"inline_keyboard": [[{"text": "ok", "callback_data": "x" * 64}]]})
    with pytest.raises(ApiError, match="BUTTON_DATA_INVALID"):
        check_markup({"inline_keyboard": [[{"text": "ok", "callback_data": "字" * 22}]]})
    with pytest.raises(ApiError, match="BUTTON_DATA_INVALID"):
        check_markup({"inline_keyboard": [[{"text": "ok", "callback_data": ""}]]})


def test_flood_limits_with_an_injected_clock() -> None:
    now = [0.0]
    flood = FloodControl(clock=lambda: now[0])
    flood.enabled = True
    for _ in range(20):
        flood.check("sendMessage", -1)
    with pytest.raises(ApiError) as caught:
        flood.check("sendMessage", -1)
    assert caught.value.code == 429 and caught.value.parameters == {"retry_after": 60}
    flood.check("getMe", -1)  # reading is not sending
    now[0] = 60.0
    flood.check("sendMessage", -1)
    flood.check("sendMessage", 5)
    with pytest.raises(ApiError):
        flood.check("sendMessage", 5)  # one per second into a private chat
    flood.speed = 10.0
    now[0] = 60.2
    flood.check("sendMessage", 5)  # windows are ten times shorter


def test_each_bot_has_its_own_flood_budget() -> None:
    flood = FloodControl(clock=lambda: 0.0)
    flood.enabled = True
    for n in range(30):
        flood.check("sendMessage", -n - 1, "bot-a")
    with pytest.raises(ApiError):
        flood.check("sendMessage", -100, "bot-a")  # the 31st in a second
    for _ in range(20):
        flood.check("sendMessage", -1, "bot-b")  # another bot: its own 30/s and 20/min
    with pytest.raises(ApiError):
        flood.check("sendMessage", -1, "bot-b")


def test_faults_fire_the_given_number_of_times() -> None:
    faults = Faults()
    faults.add("sendMessage", status=502, times=2, chat_id=-1)
    assert faults.take("sendMessage", -2) is None
    assert faults.take("SENDMESSAGE", -1) is not None
    assert faults.take("sendMessage", -1) is not None
    assert faults.take("sendMessage", -1) is None
