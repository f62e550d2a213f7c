"""Texts that must read as sentences: the handover reminder, hazard history lines."""

from __future__ import annotations

import pytest

from content.render import Renderer


def test_the_handover_reminder_addresses_the_incoming_leader_in_a_sentence() -> None:
    renderer = Renderer()
    zh = renderer.html("handover.reminder", "zh", outgoing="王建国", incoming_id=7,
                       incoming="李明")
    assert zh.startswith('⏰ <a href="tg://user?id=7">李明</a>：王建国 交给你的交接班还没有确认')
    en = renderer.html("handover.reminder", "en", outgoing="Wang", incoming_id=7,
                       incoming="Li")
    assert en.startswith('⏰ <a href="tg://user?id=7">Li</a>: the handover from Wang to you')


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_handover_reminder_never_puts_two_names_side_by_side(lang: str) -> None:
    renderer = Renderer()
    text = renderer.html("handover.reminder", lang, outgoing="OUT", incoming_id=7,
                         incoming="IN")
    assert "</a> OUT" not in text and "IN OUT" not in text
    nobody = renderer.html("handover.reminder", lang, outgoing="OUT", incoming_id=None,
                           incoming="")
    assert "OUT" in nobody and "<a " not in nobody
