"""The monthly report's rules: months, the report day, which month /stats means."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from domain.monthly import (
    Month,
    ReportDayError,
    check_report_day,
    median,
    rate,
    report_due,
    reported_month,
    stats_month,
)


def test_months_parse_shift_and_bound_in_a_zone() -> None:
    assert Month.parse("2026-1") == Month(2026, 1) and str(Month(2026, 1)) == "2026-01"
    for bad in ("2026-13", "2026-00", "26-11", "november", "", "2026-11-01"):
        assert Month.parse(bad) is None
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)
    assert Month(2026, 12).shifted(1) == Month(2027, 1)
    start, end = Month(2026, 11).bounds("Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert [str(m) for m in Month(2026, 3).trend()][:2] == ["2025-04", "2025-05"]
    assert len(Month(2026, 3).trend()) == 12


def test_the_report_day_is_before_the_25th() -> None:
    assert check_report_day(1) == 1 and check_report_day(24) == 24
    for bad in (25, 31, 0, -1, True, "20", 20.0):
        with pytest.raises(ReportDayError):
            check_report_day(bad)


def test_due_from_the_day_and_hour_until_the_month_ends() -> None:
    nine = time(9, 0)
    assert not report_due(datetime(2026, 12, 19, 23, 59), 20, nine)
    assert not report_due(datetime(2026, 12, 20, 8, 59), 20, nine)
    assert report_due(datetime(2026, 12, 20, 9, 0), 20, nine)
    assert report_due(datetime(2026, 12, 31, 23, 0), 20, nine)  # late is still due
    assert reported_month(date(2026, 12, 20)) == Month(2026, 11)
    assert reported_month(date(2027, 1, 20)) == Month(2026, 12)


def test_stats_means_the_reported_month_or_one_named_not_yet_to_come() -> None:
    today = date(2026, 12, 5)
    assert stats_month(None, today) == Month(2026, 11)
    assert stats_month("2026-12", today) == Month(2026, 12)
    assert stats_month("2025-02", today) == Month(2025, 2)
    assert stats_month("2027-01", today) is None and stats_month("soon", today) is None


def test_median_and_rate() -> None:
    assert median([]) is None and median([5]) == 5 and median([30, 10]) == 20
    assert median([3, 1, 2]) == 2
    assert rate(1, 3) == 33.3 and rate(0, 0) is None
