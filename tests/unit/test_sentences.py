"""Texts that must read as sentences: the handover reminder, hazard history lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from content.render import Renderer
from domain.hazard import EventKind
from handlers.hazards import EVENT_NAMES, history_line

AT = datetime(2026, 11, 23, 0, 42, tzinfo=UTC)  # 08:42 in Shanghai


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


def _detail(lang: str, events: list[dict[str, Any]]) -> str:
    return Renderer().html(
        "hazard.detail", lang, code="YH-1", severity="S", state="ST", team="T", category="C",
        location="L", description=None, tz="Asia/Shanghai", events=events)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_hazard_event_kind_is_a_sentence_with_who_and_when(lang: str) -> None:
    renderer = Renderer()
    names = {"ws": "合成车间"}
    details = {EventKind.ESCALATED: {"level": "workshop", "unit": "ws", "watch": "ack"},
               EventKind.ESCALATION_SKIPPED: {"level": "authority", "why": "no such unit"},
               EventKind.HANDED_UP: {"from": "team-a", "to": "ws"},
               EventKind.REJECTED: {"reason": "不是隐患"},
               EventKind.FIVE_IN_PLACE: {"responsible": "王工", "deadline": "2026-11-30"}}
    kinds = [*EventKind, "some_future_kind"]
    events = [history_line(renderer, lang, kind, "李班长", details.get(kind, {}), names)
              | {"at": AT} for kind in kinds]
    text = _detail(lang, events)
    lines = text.split("\n")[-len(kinds):]
    assert all(line.startswith("• 11-23 08:42 ") for line in lines), text
    for kind, line in zip(kinds, lines, strict=True):
        # No stored name: Chinese lines have no Latin letters at all, English ones are
        # sentences (a word like "reported" may occur in one, never "five_in_place").
        assert "_" not in line and not line.endswith(f" {kind}"), line
        if lang == "zh":
            assert not re.search("[A-Za-z]", line), line
        event = events[kinds.index(kind)]
        sentence = renderer.html(f"hazard.event.{event['kind']}", lang, **event["facts"])
        assert line.endswith(sentence) and len(sentence) > 3, line
        if kind not in (EventKind.ESCALATED, EventKind.ESCALATION_SKIPPED):
            assert "李班长" in line, line  # who did it
    assert "合成车间" in lines[kinds.index(EventKind.ESCALATED)]
    assert "合成车间" in lines[kinds.index(EventKind.HANDED_UP)]
    assert "不是隐患" in lines[kinds.index(EventKind.REJECTED)]
    assert "王工" in lines[kinds.index(EventKind.FIVE_IN_PLACE)]


def test_every_event_the_code_records_is_a_known_kind() -> None:
    """The history speaks of every event written anywhere (a new kind needs a sentence)."""
    root = Path(__file__).parents[2]
    written: set[str] = set(EVENT_NAMES.values())
    for folder in ("handlers", "services", "storage", "scheduler"):
        for path in (root / folder).glob("*.py"):
            if path.name == "buttons.py":
                continue  # its docstring's example button is not an event
            source = path.read_text(encoding="utf-8")
            written |= set(re.findall(r'\baction="(\w+)"', source))
            written |= set(re.findall(r'\.event\(\w+, \w+, "(\w+)"', source))
    assert written >= {"reported", "escalated", "five_in_place", "duplicate_report"}
    assert written <= set(EventKind)
