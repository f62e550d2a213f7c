"""When a team's daily quiz question is posted: a clock time, or with the first briefing.

A unit may set ``quiz_time`` in the org file (``"14:30"``, or ``"briefing"``: with the
first pre-shift briefing of the day); a team takes the nearest setting up its chain,
else the deployment's ``QUIZ_TIME``. Pure rules: the sweep in services/quizzes.py
asks them once a minute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from domain.shifts import ShiftSchedule, occurrences

BRIEFING: Literal["briefing"] = "briefing"
QuizTime = time | Literal["briefing"]
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


class QuizTimeError(ValueError):
    """A quiz_time that is neither HH:MM nor "briefing"."""


class HasExtra(Protocol):
    """A unit row, as far as these rules read it."""

    extra_json: str | None


def parse_quiz_time(value: Any) -> QuizTime:
    """``"14:30"`` → 14:30; ``"briefing"`` → with the first briefing of the day.

    An unquoted ``14:30`` in YAML 1.1 is the number 870 (base 60): read as the time.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text == BRIEFING:
        return BRIEFING
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise QuizTimeError(f'quiz_time must be a time such as "10:00", or "briefing" '
                            f"(with the first pre-shift briefing), not {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def quiz_time_text(at: QuizTime) -> str:
    """How a quiz time is written back: ``"14:30"`` or ``"briefing"``."""
    return at if isinstance(at, str) else f"{at:%H:%M}"


def quiz_time_of(chain: Sequence[HasExtra], default: QuizTime) -> QuizTime:
    """The quiz time that holds for the last unit of ``chain`` (root first)."""
    for unit in reversed(chain):
        extra = json.loads(unit.extra_json) if unit.extra_json else {}
        if "quiz_time" in extra:
            try:
                return parse_quiz_time(extra["quiz_time"])
            except QuizTimeError:  # the org file refuses it; a hand-edited row falls back
                continue
    return default


def quiz_starts_at(day: date, zone: str, at: QuizTime,
                   schedule: ShiftSchedule | None) -> datetime | None:
    """When ``day``'s question goes out: the clock time, or the day's first briefing
    (None on a day without shifts, or for a team without a schedule)."""
    tz = ZoneInfo(zone)
    if at != BRIEFING:
        assert isinstance(at, time)
        return datetime.combine(day, at, tz)
    if schedule is None:
        return None
    start = datetime.combine(day, time(0), tz)
    first = next(occurrences(schedule, start, start + timedelta(days=1)), None)
    return first.starts_at - schedule.briefing_before if first is not None else None
