"""Drill rules from the seeds, and what a scheduler types, as pure functions of dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.drills import (
    ENTERPRISE_MAJOR,
    TEAM_ONSITE,
    DrillInputError,
    DrillType,
    add_months,
    due_on,
    is_lapsed,
    parse_request,
    parse_type,
    parse_when,
)

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
ZONE = "Asia/Shanghai"


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 15), 6, date(2026, 7, 15)),
    (date(2026, 8, 31), 6, date(2027, 2, 28)),  # the month is shorter: its last day
    (date(2027, 8, 31), 6, date(2028, 2, 29)),  # a leap year
    (date(2026, 12, 1), 12, date(2027, 12, 1)),
    (date(2026, 7, 1), 0, date(2026, 7, 1)),
])
def test_months_are_added_on_the_calendar(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_a_team_must_drill_on_site_every_six_months() -> None:
    last = date(2026, 3, 10)
    assert due_on(TEAM_ONSITE, last, joined=date(2025, 1, 1)) == date(2026, 9, 10)
    assert not is_lapsed(TEAM_ONSITE, last, date(2025, 1, 1), date(2026, 9, 10))  # the due day
    assert is_lapsed(TEAM_ONSITE, last, date(2025, 1, 1), date(2026, 9, 11))


def test_a_team_that_never_drilled_counts_from_when_it_joined() -> None:
    joined = date(2026, 5, 20)
    assert not is_lapsed(TEAM_ONSITE, None, joined, date(2026, 11, 20))
    assert is_lapsed(TEAM_ONSITE, None, joined, date(2026, 11, 21))
    assert due_on(TEAM_ONSITE, None, joined) == date(2026, 11, 20)


def test_an_enterprise_needs_a_comprehensive_or_special_drill_every_year() -> None:
    assert ENTERPRISE_MAJOR.types == {DrillType.SPECIAL, DrillType.COMPREHENSIVE}
    assert DrillType.ONSITE not in ENTERPRISE_MAJOR.types
    last = date(2025, 12, 1)
    assert not is_lapsed(ENTERPRISE_MAJOR, last, date(2020, 1, 1), date(2026, 12, 1))
    assert is_lapsed(ENTERPRISE_MAJOR, last, date(2020, 1, 1), date(2026, 12, 2))


def test_a_new_drill_moves_the_due_day_so_a_lapse_is_named_once() -> None:
    joined = date(2026, 1, 1)
    first = due_on(TEAM_ONSITE, None, joined)
    later = due_on(TEAM_ONSITE, date(2026, 8, 1), joined)
    assert first == date(2026, 7, 1) and later == date(2027, 2, 1)


@pytest.mark.parametrize(("typed", "kind"), [
    ("onsite", DrillType.ONSITE), ("On-Site", DrillType.ONSITE), ("现场处置", DrillType.ONSITE),
    ("专项", DrillType.SPECIAL), ("comprehensive", DrillType.COMPREHENSIVE),
    ("综合", DrillType.COMPREHENSIVE),
])
def test_types_in_either_language(typed: str, kind: DrillType) -> None:
    assert parse_type(typed) == kind


def test_a_whole_drill_in_one_line() -> None:
    request = parse_request(["现场处置", "2026-12-05", "09:00", "90m", "team-a,team-b",
                             "3号罐区", "氨气泄漏"], NOW, ZONE)
    assert request.kind == DrillType.ONSITE
    assert request.starts_at == datetime(2026, 12, 5, 9, 0, tzinfo=ZoneInfo(ZONE))
    assert request.duration == timedelta(minutes=90)
    assert request.unit_keys == ("team-a", "team-b") and request.scenario == "3号罐区 氨气泄漏"
    short = parse_request(["special", "2026-12-05", "14:30", "ws", "fire"], NOW, ZONE)
    assert short.duration == timedelta(hours=1) and short.unit_keys == ("ws",)


@pytest.mark.parametrize(("words", "code"), [
    ([], "type"),
    (["drill", "2026-12-05", "09:00", "t", "x"], "type"),
    (["onsite", "2026-12-05"], "when"),
    (["onsite", "12/05", "09:00", "t", "x"], "when"),
    (["onsite", "2026-02-30", "09:00", "t", "x"], "when"),
    (["onsite", "2026-12-05", "25:00", "t", "x"], "when"),
    (["onsite", "2026-11-23", "08:00", "t", "x"], "past"),  # earlier today
    (["onsite", "2020-01-01", "08:00", "t", "x"], "past"),
    (["onsite", "2028-01-01", "08:00", "t", "x"], "too_far"),
    (["onsite", "2026-12-05", "09:00", "5m", "t", "x"], "duration"),
    (["onsite", "2026-12-05", "09:00", "2d", "t", "x"], "duration"),
    (["onsite", "2026-12-05", "09:00"], "units"),
    (["onsite", "2026-12-05", "09:00", "team-a"], "scenario"),
    (["onsite", "2026-12-05", "09:00", "team-a", "x" * 1001], "scenario"),
])
def test_what_cannot_be_a_drill_is_named(words: list[str], code: str) -> None:
    with pytest.raises(DrillInputError) as caught:
        parse_request(words, NOW, ZONE)
    assert caught.value.code == code


def test_the_time_is_the_units_local_time() -> None:
    starts_at, _, used = parse_when(["2026-12-05", "09:00"], NOW, "Europe/Berlin")
    assert starts_at.astimezone(UTC) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC) and used == 2
