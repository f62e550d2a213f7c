"""Clock, people, languages and the outbox retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.clock import ManualClock, as_utc
from domain.delivery import FailureKind, RetryPolicy
from domain.language import negotiate, parse_language_choice
from domain.people import GROUP_ANONYMOUS_BOT_ID, display_name, is_person

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_manual_clock_moves_only_forward() -> None:
    clock = ManualClock(T0)
    assert clock.advance(timedelta(hours=4)) == T0 + timedelta(hours=4)
    assert clock.advance(30) == T0 + timedelta(hours=4, seconds=30)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert as_utc(datetime(2026, 1, 1)).tzinfo is UTC


def test_anonymous_admins_and_channels_are_not_people() -> None:
    assert is_person(42, is_bot=False, sender_chat_id=None)
    assert not is_person(GROUP_ANONYMOUS_BOT_ID, is_bot=True, sender_chat_id=-100)
    # Even if a client claimed is_bot False, the placeholder id is never a person.
    assert not is_person(GROUP_ANONYMOUS_BOT_ID, is_bot=False, sender_chat_id=None)
    assert not is_person(42, is_bot=False, sender_chat_id=-1001)
    assert not is_person(777000, is_bot=False, sender_chat_id=None)
    assert display_name(" 王 ", "建国") == "王 建国"


@pytest.mark.parametrize(("code", "expected"), [
    ("zh-hans", "zh"), ("zh-CN", "zh"), ("en", "en"), ("en-GB", "en"), ("de", "zh"), (None, "zh"),
])
def test_language_negotiation(code: str | None, expected: str) -> None:
    assert negotiate(code) == expected


def test_language_choice_words() -> None:
    assert parse_language_choice("English") == "en"
    assert parse_language_choice("中文") == "zh"
    assert parse_language_choice("klingon") is None


def test_retry_policy() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=2, max_delay=10)
    assert policy.next_attempt_at(T0, 1, FailureKind.SERVER) == T0 + timedelta(seconds=2)
    assert policy.next_attempt_at(T0, 2, FailureKind.TIMEOUT) == T0 + timedelta(seconds=4)
    assert policy.next_attempt_at(T0, 3, FailureKind.SERVER) is None  # gave up
    # 429 waits exactly what Telegram asked, even past max_attempts
    assert policy.next_attempt_at(T0, 9, FailureKind.FLOOD, 7) == T0 + timedelta(seconds=7)
    assert policy.next_attempt_at(T0, 1, FailureKind.MIGRATED) == T0
    assert policy.next_attempt_at(T0, 1, FailureKind.FORBIDDEN) is None
    assert policy.next_attempt_at(T0, 1, FailureKind.REJECTED) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4)),
    ("3d", timedelta(days=3)), ("1h30m", timedelta(minutes=90)), (45, timedelta(seconds=45)),
])
def test_durations(text: str | int, expected: timedelta) -> None:
    from domain.durations import format_duration, parse_duration

    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["", "4", "h", "-1h", "0s", "4x", "4h soon", 0])
def test_bad_durations(bad: str | int) -> None:
    from domain.durations import parse_duration

    with pytest.raises(ValueError):
        parse_duration(bad)
