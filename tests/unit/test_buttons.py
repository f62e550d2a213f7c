"""Typed buttons: round trips, forged data, and Telegram's 64-byte limit for every kind."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Annotated, Literal

import pytest

from services.buttons import MAX_ARG, MAX_BYTES, Button, Chars, keyboard, parse_button


@dataclass(frozen=True)
class SampleStep(Button, prefix="zz"):
    action: Literal["ack", "show"]
    item_id: int
    note: Annotated[str, Chars(4)] = ""
    final: bool = False


def test_a_button_packs_and_reads_back() -> None:
    button = SampleStep("ack", 42, "ab", True)
    assert button.pack() == "zz:ack:42:ab:1"
    assert SampleStep.unpack("zz:ack:42:ab:1") == button
    assert SampleStep.unpack("zz:show:7") == SampleStep("show", 7)
    assert parse_button("zz:show:7") == SampleStep("show", 7)


@pytest.mark.parametrize("data", [
    None, "", "zz", "zz:ack", "zz:nope:1", "zz:ack:-1", "zz:ack:1_0", "zz:ack:١",
    f"zz:ack:{MAX_ARG + 1}", "zz:ack:" + "9" * 56, "zz:ack:1:toolong", "zz:ack:1:ab:2",
    "zz:ack:1:ab:1:extra", "yy:ack:1", "🚧", "garbage",
])
def test_forged_or_stale_data_is_not_a_button(data: str | None) -> None:
    assert SampleStep.unpack(data) is None
    assert parse_button(data) is None or not isinstance(parse_button(data), SampleStep)


def test_values_that_would_not_read_back_are_refused() -> None:
    with pytest.raises(ValueError):
        SampleStep("ack", -1).pack()
    with pytest.raises(ValueError):
        SampleStep("ack", 1, "a:b").pack()
    with pytest.raises(ValueError):
        SampleStep("nope", 1).pack()  # type: ignore[arg-type]


def test_a_kind_that_could_exceed_the_limit_is_caught() -> None:
    @dataclass(frozen=True)
    class TooWide(Button, prefix="wide"):
        text: Annotated[str, Chars(20)]

    try:
        with pytest.raises(ValueError):
            TooWide.check()
    finally:
        Button.registry["wide"].remove(TooWide)


def test_keyboard_is_plain_bot_api_data() -> None:
    assert keyboard([[("OK", SampleStep("ack", 1)), ("Web", "https://example.org")]]) == {
        "inline_keyboard": [[{"text": "OK", "callback_data": "zz:ack:1"},
                             {"text": "Web", "url": "https://example.org"}]]}


def test_every_button_kind_of_the_bot_fits_in_64_bytes() -> None:
    for package in ("handlers", "scheduler", "services"):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__):
            importlib.import_module(f"{package}.{info.name}")
    kinds = [kind for kinds in Button.registry.values() for kind in kinds]
    assert SampleStep in kinds
    for kind in kinds:
        assert len(kind.longest_data().encode("utf-8")) <= MAX_BYTES, kind
