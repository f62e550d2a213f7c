"""Dates and deadlines typed by people, within bounds the bot can compute with.

``datetime`` overflows near the years 1 and 9999 (``9999-12-31`` plus a day is an
OverflowError), and a database may refuse what Python accepts. Everything a person
types is read here and refused with a reason before any arithmetic: days between
``MIN_DAY`` and ``MAX_DAY``, deadlines in the future and at most ``MAX_DEADLINE``
ahead.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.durations import DurationError, parse_duration

MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2100, 12, 31)
# A hazard's rectification may take a budget cycle, not a decade.
MAX_DEADLINE = timedelta(days=2 * 365)
DEADLINE_HOUR = time(18)  # a deadline given as a day means the end of its working day
DEFAULT_PERIOD = timedelta(days=90)
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)


class DateError(ValueError):
    """A date, period or deadline the bot does not accept.

    ``code`` names the reason (``format``, ``no_such_day``, ``out_of_range``,
    ``order``, ``past``, ``too_far``); ``params`` are its values for the texts.
    """

    def __init__(self, message: str, code: str, **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def parse_day(text: str) -> date:
    """A day written ``YYYY-MM-DD``, between ``MIN_DAY`` and ``MAX_DAY``.

    Raises:
        DateError: ``format``, ``no_such_day`` (2026-02-30) or ``out_of_range``.
    """
    value = str(text).strip()
    match = _DAY.match(value) if len(value) <= 10 else None
    if match is None:
        raise DateError(f"{value[:32]!r} is not a date like 2026-11-30", "format",
                        value=value[:32])
    try:
        day = date(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise DateError(f"there is no day {value}", "no_such_day", value=value) from exc
    if not MIN_DAY <= day <= MAX_DAY:
        raise DateError(f"{value} is not between {MIN_DAY} and {MAX_DAY}", "out_of_range",
                        value=value, first=MIN_DAY.isoformat(), last=MAX_DAY.isoformat())
    return day


def parse_period(args: list[str], now: datetime, zone: str) -> tuple[datetime, datetime]:
    """``[FROM [TO]]`` as local days of ``zone``, TO inclusive; default the last 90 days.

    Returns the half-open interval ``[since, until)`` as aware datetimes.

    Raises:
        DateError: a bad day (see :func:`parse_day`), more than two days, or TO before FROM.
    """
    if len(args) > 2:
        raise DateError("at most two dates: FROM and TO", "format", value=" ".join(args)[:32])
    tz = ZoneInfo(zone)
    days = [parse_day(arg) for arg in args]
    since = datetime.combine(days[0], time(), tz) if days else now - DEFAULT_PERIOD
    until = datetime.combine(days[1] + timedelta(days=1), time(), tz) if len(days) > 1 \
        else now + timedelta(seconds=1)
    if since >= until:
        raise DateError("the first date is after the last one", "order",
                        first=args[0] if args else "", last=args[1] if len(args) > 1 else "")
    return since, until


def parse_deadline(text: str, now: datetime, zone: str, *,
                   maximum: timedelta = MAX_DEADLINE) -> datetime:
    """A deadline as a day (its end of work, 18:00 in ``zone``) or a duration from ``now``.

    Raises:
        DateError: ``format``, ``no_such_day``, ``past`` (not after ``now``) or
        ``too_far`` (more than ``maximum`` ahead).
    """
    value = str(text).strip()
    match = _DAY.match(value)
    if match:
        try:
            day = date(*(int(part) for part in match.groups()))
        except ValueError as exc:
            raise DateError(f"there is no day {value}", "no_such_day", value=value) from exc
        # Compare days before making a moment: 9999-12-31 18:00 in a zone west of UTC
        # is already past what datetime can hold.
        if day > (now + maximum).date() + timedelta(days=1):
            raise DateError(f"{value} is too far ahead", "too_far", value=value,
                            days=str(maximum.days))
        if day < now.date() - timedelta(days=1):
            raise DateError("a deadline must be in the future", "past", value=value)
        moment = datetime.combine(day, DEADLINE_HOUR, ZoneInfo(zone))
    else:
        try:
            moment = now + parse_duration(value, maximum=maximum)
        except DurationError as exc:
            if exc.code == "too_long":
                raise DateError(f"{value[:32]} is too far ahead", "too_far",
                                value=value[:32], days=str(maximum.days)) from exc
            if exc.code == "not_positive":
                raise DateError("a deadline must be in the future", "past",
                                value=value[:32]) from exc
            raise DateError(f"{value[:32]!r} is neither a date nor a duration", "format",
                            value=value[:32]) from exc
    if moment <= now:
        raise DateError("a deadline must be in the future", "past", value=value[:32])
    if moment > now + maximum:
        raise DateError(f"{value} is too far ahead", "too_far", value=value[:32],
                        days=str(maximum.days))
    return moment
