"""Emergency drills (预案演练): the types, what a scheduler types, and the rules from the seeds.

The seeds ask for an on-site drill (现场处置演练) in every team at least every six
months and a comprehensive (综合) or special (专项) drill in every enterprise at
least every year. A rule is a table row here; whether a unit has fallen behind is
a pure function of the day it last drilled (or, never having drilled, the day it
joined the tree) and today. A lapse is named by its due day, so telling someone
about it once is a matter of remembering that day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.durations import DurationError, parse_duration
from domain.org import UnitKind


class DrillType(StrEnum):
    """The three kinds of emergency plan a drill exercises."""

    ONSITE = "onsite"  # 现场处置方案: a post's or a team's first response
    SPECIAL = "special"  # 专项应急预案: one kind of accident (fire, leak, …)
    COMPREHENSIVE = "comprehensive"  # 综合应急预案: the enterprise's whole response


# Words people type for a type, in both languages (the texts name them: drill.type_*).
TYPE_ALIASES: dict[str, DrillType] = {
    "onsite": DrillType.ONSITE, "on-site": DrillType.ONSITE, "现场": DrillType.ONSITE,
    "现场处置": DrillType.ONSITE, "special": DrillType.SPECIAL, "专项": DrillType.SPECIAL,
    "comprehensive": DrillType.COMPREHENSIVE, "综合": DrillType.COMPREHENSIVE,
}


@dataclass(frozen=True)
class DrillRule:
    """How often a level of the tree must drill, and which types count."""

    name: str  # names the period in the texts (drill.rule_<name>) and the lapse rows
    level: UnitKind
    types: frozenset[DrillType]
    every_months: int


TEAM_ONSITE = DrillRule("team_onsite", UnitKind.TEAM, frozenset({DrillType.ONSITE}), 6)
ENTERPRISE_MAJOR = DrillRule("enterprise_major", UnitKind.ENTERPRISE,
                             frozenset({DrillType.SPECIAL, DrillType.COMPREHENSIVE}), 12)
RULES = (TEAM_ONSITE, ENTERPRISE_MAJOR)

DEFAULT_DURATION = timedelta(minutes=60)
MIN_DURATION, MAX_DURATION = timedelta(minutes=10), timedelta(hours=24)
MAX_AHEAD = timedelta(days=366)  # a drill is planned within the year
MAX_SCENARIO = 1000
_DAY_TIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", re.ASCII)
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$", re.ASCII)


class DrillInputError(ValueError):
    """What a scheduler typed that cannot be a drill; ``code`` names the reason
    (``type``, ``when``, ``past``, ``too_far``, ``duration``, ``units``, ``scenario``)."""

    def __init__(self, code: str, value: str = "") -> None:
        super().__init__(f"{code}: {value}")
        self.code = code
        self.value = value[:40]


@dataclass(frozen=True)
class DrillRequest:
    """A drill as typed in one line: ``TYPE DAY HH:MM [DURATION] UNIT[,UNIT] SCENARIO``."""

    kind: DrillType
    starts_at: datetime
    duration: timedelta
    unit_keys: tuple[str, ...]
    scenario: str


def parse_type(text: str) -> DrillType:
    """The drill type a person typed (``onsite``, ``专项``, …)."""
    found = TYPE_ALIASES.get(text.strip().lower())
    if found is None:
        raise DrillInputError("type", text)
    return found


def parse_when(words: list[str], now: datetime, zone: str) -> tuple[datetime, timedelta, int]:
    """``YYYY-MM-DD HH:MM [DURATION]`` at the start of ``words``, in ``zone``.

    Returns the start, the duration (an hour unless given) and how many words were read.
    The start must be after ``now`` and within a year.
    """
    if len(words) < 2:
        raise DrillInputError("when", " ".join(words))
    day_match, clock_match = _DAY_TIME.match(words[0]), _CLOCK.match(words[1])
    if day_match is None or clock_match is None:
        raise DrillInputError("when", f"{words[0]} {words[1]}")
    try:
        day = date(*(int(part) for part in day_match.groups()))
    except ValueError as exc:
        raise DrillInputError("when", words[0]) from exc
    if not now.date() - timedelta(days=2) <= day <= (now + MAX_AHEAD).date():
        raise DrillInputError("past" if day < now.date() else "too_far", words[0])
    starts_at = datetime.combine(day, time(int(clock_match[1]), int(clock_match[2])),
                                 ZoneInfo(zone))
    if starts_at <= now:
        raise DrillInputError("past", f"{words[0]} {words[1]}")
    if starts_at > now + MAX_AHEAD:
        raise DrillInputError("too_far", words[0])
    used, duration = 2, DEFAULT_DURATION
    if len(words) > 2:
        try:
            duration = parse_duration(words[2], maximum=MAX_DURATION)
            used = 3
        except DurationError as exc:
            # Not a duration: the next word is the next field; a number that is one
            # but out of range is a mistake worth saying.
            if exc.code in ("too_long", "not_positive"):
                raise DrillInputError("duration", words[2]) from exc
    if duration < MIN_DURATION:
        raise DrillInputError("duration", words[2] if used == 3 else "")
    return starts_at, duration, used


def parse_unit_keys(text: str) -> tuple[str, ...]:
    """Unit keys separated by commas or spaces, each once, in order."""
    keys = [key for key in re.split(r"[,，\s]+", text.strip()) if key]
    if not keys:
        raise DrillInputError("units", text)
    return tuple(dict.fromkeys(keys))


def check_scenario(text: str) -> str:
    """The scenario, trimmed; refused when empty or longer than ``MAX_SCENARIO``."""
    scenario = text.strip()
    if not scenario or len(scenario) > MAX_SCENARIO:
        raise DrillInputError("scenario", scenario)
    return scenario


def parse_request(words: list[str], now: datetime, zone: str) -> DrillRequest:
    """``/drill TYPE YYYY-MM-DD HH:MM [DURATION] UNIT[,UNIT…] SCENARIO…`` in one line."""
    if not words:
        raise DrillInputError("type")
    kind = parse_type(words[0])
    starts_at, duration, used = parse_when(words[1:], now, zone)
    rest = words[1 + used:]
    if not rest:
        raise DrillInputError("units")
    return DrillRequest(kind=kind, starts_at=starts_at, duration=duration,
                        unit_keys=parse_unit_keys(rest[0]),
                        scenario=check_scenario(" ".join(rest[1:])))


# ---------------------------------------------------------------- the rules


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_on(rule: DrillRule, last_drill: date | None, joined: date) -> date:
    """The last day by which the next drill under ``rule`` must be held."""
    return add_months(last_drill if last_drill is not None else joined, rule.every_months)


def is_lapsed(rule: DrillRule, last_drill: date | None, joined: date, today: date) -> bool:
    """Whether a unit has fallen behind ``rule`` on ``today`` (the due day itself is in time)."""
    return today > due_on(rule, last_drill, joined)


def latest(days: list[date]) -> date | None:
    """The most recent of some days, or None when there are none."""
    return max(days) if days else None
