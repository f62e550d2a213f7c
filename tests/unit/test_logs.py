"""LOG_FORMAT=json: one JSON object a line, with the fields a log collector indexes."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from bot.logs import JsonFormatter, configure_logging
from bot.settings import Settings


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    parsed: dict[str, object] = json.loads(text)
    return parsed


def test_a_record_becomes_one_json_line_with_its_extras() -> None:
    record = logging.LogRecord("safetybot.outbox", logging.WARNING, __file__, 1,
                               "outbox row %s to %s failed", (17, -100123), None)
    record.chat_id = -100123  # what ``extra={"chat_id": ...}`` puts on a record
    entry = _line(record)
    assert entry["level"] == "WARNING" and entry["logger"] == "safetybot.outbox"
    assert entry["message"] == "outbox row 17 to -100123 failed"
    assert entry["chat_id"] == -100123
    assert str(entry["time"]).endswith("+00:00")
    assert "args" not in entry and "msg" not in entry  # the record's plumbing stays out


def test_a_traceback_stays_inside_the_line() -> None:
    try:
        raise RuntimeError("隐患 escalation failed")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sweep failed", None,
                                   sys.exc_info())
    entry = _line(record)
    assert "RuntimeError: 隐患 escalation failed" in str(entry["exception"])


def test_configure_logging_switches_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    try:
        configure_logging("info", "json")
        logging.getLogger("safetybot.test").info("started", extra={"mode": "webhook"})
        configure_logging("info", "text")
        logging.getLogger("safetybot.test").info("plain")
    finally:
        root.handlers[:], root.level = saved_handlers, saved_level
    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["mode"] == "webhook"
    assert second.endswith("INFO safetybot.test: plain")


def test_the_setting_accepts_text_and_json_only() -> None:
    assert Settings().log_format == "text"
    assert Settings(log_format="json").log_format == "json"
    with pytest.raises(ValueError):
        Settings(log_format="xml")
