"""When a team's daily quiz question goes out: a clock time, or with the first briefing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.quiz_time import (
    BRIEFING,
    QuizTimeError,
    parse_quiz_time,
    quiz_starts_at,
    quiz_time_of,
    quiz_time_text,
)
from domain.shifts import parse_schedule
from services.quizzes import poll_due

ZONE = "Asia/Shanghai"
SCHEDULE = parse_schedule({"briefing_before": "20m", "shifts": [
    {"name": "早班", "start": "08:00", "end": "16:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    {"name": "中班", "start": "16:00", "end": "00:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
]}, ZONE)


@dataclass
class Row:
    extra_json: str | None


@pytest.mark.parametrize(("value", "expected"), [
    ("14:30", time(14, 30)), ("7:05", time(7, 5)), (" Briefing ", BRIEFING),
    (870, time(14, 30)),  # YAML 1.1 reads an unquoted 14:30 as 870 (base 60)
])
def test_a_quiz_time_is_read(value: object, expected: object) -> None:
    assert parse_quiz_time(value) == expected


@pytest.mark.parametrize("value", ["24:00", "14:3", "noon", "", None, True, 5000, "12:60"])
def test_a_bad_quiz_time_is_refused_with_what_it_may_be(value: object) -> None:
    with pytest.raises(QuizTimeError, match='"10:00", or "briefing"'):
        parse_quiz_time(value)


def test_the_nearest_setting_up_the_chain_holds() -> None:
    enterprise = Row(json.dumps({"quiz_time": "09:00"}))
    workshop = Row(None)
    team = Row(json.dumps({"shifts": {}, "quiz_time": "briefing"}))
    assert quiz_time_of([enterprise, workshop, Row(None)], time(10)) == time(9)
    assert quiz_time_of([enterprise, workshop, team], time(10)) == BRIEFING
    assert quiz_time_of([Row(None)], time(10)) == time(10)
    assert quiz_time_of([Row(json.dumps({"quiz_time": "bad"}))], time(10)) == time(10)
    assert quiz_time_text(time(7, 5)) == "07:05" and quiz_time_text(BRIEFING) == "briefing"


def test_with_the_briefing_means_the_first_briefing_of_the_day() -> None:
    monday, saturday = date(2026, 11, 23), date(2026, 11, 28)
    starts = quiz_starts_at(monday, ZONE, BRIEFING, SCHEDULE)
    assert starts == datetime(2026, 11, 22, 23, 40, tzinfo=UTC)  # 07:40 in Shanghai
    assert quiz_starts_at(saturday, ZONE, BRIEFING, SCHEDULE) is None  # no shift: no poll
    assert quiz_starts_at(monday, ZONE, BRIEFING, None) is None  # no schedule: no poll
    assert quiz_starts_at(monday, ZONE, time(10), None) == datetime(2026, 11, 23, 2, 0,
                                                                    tzinfo=UTC)


def test_the_poll_falls_due_within_its_window_only() -> None:
    window = timedelta(hours=2)
    before = datetime(2026, 11, 22, 23, 39, tzinfo=UTC)  # 07:39 Monday in Shanghai
    assert poll_due(before, ZONE, BRIEFING, window, SCHEDULE) is None
    assert poll_due(before + timedelta(minutes=1), ZONE, BRIEFING, window,
                    SCHEDULE) == "2026-11-23"
    assert poll_due(before + timedelta(minutes=1) + window, ZONE, BRIEFING, window,
                    SCHEDULE) is None
