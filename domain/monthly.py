"""The monthly report's rules: which month, when it is due, and the arithmetic of its figures.

The report goes out on a day set per enterprise (``report_day``, default the 20th;
the seeds ask for it before the 25th) and covers the calendar month before it, in
the enterprise's time zone. Pure: no storage, no clock of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_REPORT_DAY = 20
LAST_REPORT_DAY = 24  # "before the 25th": a report day of 25 or later is refused
TREND_MONTHS = 12
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


class ReportDayError(ValueError):
    """A report day outside 1–24."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, e.g. ``Month(2026, 11)`` (shown ``2026-11``)."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @classmethod
    def of(cls, day: date) -> Month:
        """The month a date falls in."""
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month | None:
        """``2026-11`` (or ``2026-1``) → the month; anything else → None."""
        found = _MONTH.fullmatch(text.strip())
        if found is None:
            return None
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12 or not 2000 <= year <= 2999:
            return None
        return cls(year, month)

    def shifted(self, months: int) -> Month:
        """The month ``months`` later (earlier when negative)."""
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def first_day(self) -> date:
        """The first day of the month."""
        return date(self.year, self.month, 1)

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month in the zone, as aware datetimes."""
        tz = ZoneInfo(zone)
        start = datetime.combine(self.first_day(), time(0), tzinfo=tz)
        end = datetime.combine(self.shifted(1).first_day(), time(0), tzinfo=tz)
        return start, end

    def trend(self, count: int = TREND_MONTHS) -> list[Month]:
        """This month and the ``count - 1`` before it, oldest first."""
        return [self.shifted(offset) for offset in range(1 - count, 1)]


def check_report_day(value: object) -> int:
    """A report day as the org file gives it: a whole number from 1 to 24.

    Raises:
        ReportDayError: anything else (the 25th and later are refused: the report
            must reach the level above before the 25th).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportDayError(f"report_day is a day of the month (1–{LAST_REPORT_DAY}), "
                             f"not {value!r}")
    if not 1 <= value <= LAST_REPORT_DAY:
        raise ReportDayError(f"report_day {value} is not allowed: the monthly report goes "
                             f"out before the 25th (1–{LAST_REPORT_DAY})")
    return value


def reported_month(local_today: date) -> Month:
    """The month the report sent on ``local_today`` covers: the month before."""
    return Month.of(local_today).shifted(-1)


def report_due(local_now: datetime, report_day: int, send_at: time) -> bool:
    """Whether this month's report is due by ``local_now`` (the day and time have come).

    Late is still due within the month (the bot was down on the day); the sweep
    sends each person's report once, so "due" may stay true all month.
    """
    return (local_now.day, local_now.time()) >= (report_day, send_at)


def stats_month(argument: str | None, local_today: date) -> Month | None:
    """The month ``/stats [month]`` asks for: the month named, or the one the report covers.

    A month after the current one is refused (None), as is anything not a month.
    """
    if not argument:
        return reported_month(local_today)
    month = Month.parse(argument)
    if month is None or month > Month.of(local_today):
        return None
    return month


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def hours(delta: timedelta) -> float:
    """A duration in hours."""
    return delta.total_seconds() / 3600


def rate(part: float, whole: float) -> float | None:
    """``part / whole`` as a percentage with one decimal, or None when there is no whole."""
    if not whole:
        return None
    return round(100.0 * part / whole, 1)
