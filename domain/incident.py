"""Accident quick reports (事故快报): what a report says, and what a person may type.

Seed 000 asks for a first report fast, follow-ups complete and a final report
accurate. A report is open until its final report (cause, measures, lessons)
closes it; in between, follow-ups change the casualty count, say the situation is
under control, or add a line. Nothing here touches storage: the service reads the
answers a person types through these functions and refuses what is absurd before
anything is stored or sent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain.org import Grant, Role, has_role_over

# More people hurt than this in one team's accident is a typo, not a report: the
# largest industrial accidents count hundreds. A clear refusal beats an alarm to
# every level saying 50,000 people were hurt.
MAX_CASUALTIES = 1000
MAX_TEXT = 1000  # what happened, the immediate action, a follow-up, each final-report part
MAX_PLACE = 200
# An accident is reported as it happens: a time in the future (beyond a clock's
# slack) or weeks ago is a typo too.
FUTURE_SLACK = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)
NOW_WORDS = frozenset({"现在", "刚才", "刚刚", "now", "just now", "-"})
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$", re.ASCII)
_DAY_CLOCK = re.compile(r"^(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})$", re.ASCII)
_COUNT = re.compile(r"^([+-]?\d+)\s*(人|名|people|persons?)?$", re.ASCII | re.IGNORECASE)


class Injury(StrEnum):
    """How badly people were hurt: the worst case among them."""

    NONE = "none"
    MINOR = "minor"      # 轻伤
    SERIOUS = "serious"  # 重伤
    FATAL = "fatal"      # 死亡


class IncidentState(StrEnum):
    """Where an incident is: reported, under control, closed by its final report."""

    OPEN = "open"
    CONTROLLED = "controlled"
    CLOSED = "closed"


class IncidentEventKind(StrEnum):
    """Each step of an incident, as its history records it."""

    REPORTED = "reported"
    CASUALTIES = "casualties"    # the count (or how badly) changed
    CONTROLLED = "controlled"    # the situation is under control
    NOTE = "note"                # free text
    CLOSED = "closed"            # the final report


class InputError(ValueError):
    """An answer the report refuses; ``code`` names why for the texts, ``params`` its values."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _ascii(text: str) -> str:
    """Full-width digits and signs (１２, －, ：) as their ASCII twins; spaces trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_casualties(text: str | None) -> int:
    """The number of people hurt, as typed (``3``, ``3人``, ``０``).

    Raises:
        InputError: ``not_number``, ``negative`` or ``too_many`` (over
            :data:`MAX_CASUALTIES`), with ``value`` and ``limit`` for the text.
    """
    value = _ascii(text or "")
    shown = value[:20]
    match = _COUNT.match(value) if len(value) <= 20 else None
    if match is None:
        raise InputError("not_number", value=shown, limit=str(MAX_CASUALTIES))
    number = int(match.group(1))
    if number < 0:
        raise InputError("negative", value=shown, limit=str(MAX_CASUALTIES))
    if number > MAX_CASUALTIES:
        raise InputError("too_many", value=shown, limit=str(MAX_CASUALTIES))
    return number


def parse_when(text: str | None, now: datetime, timezone: str) -> datetime:
    """When it happened: "now" (现在, 刚才), ``HH:MM``, ``MM-DD HH:MM`` or
    ``YYYY-MM-DD HH:MM`` in the team's zone. A bare time later than now means yesterday.

    Raises:
        InputError: ``format``, ``future`` or ``too_old`` (over :data:`MAX_AGE` ago).
    """
    value = _ascii(text or "")
    if value.lower() in NOW_WORDS:
        return now
    local_now = now.astimezone(ZoneInfo(timezone))
    try:
        at = _read_time(value, local_now)
    except ValueError:  # 25:00, 11-31 …
        at = None
    if at is None:
        raise InputError("format", value=value[:20])
    if at > local_now + FUTURE_SLACK:
        raise InputError("future", value=value[:20])
    if at < local_now - MAX_AGE:
        raise InputError("too_old", value=value[:20], days=str(MAX_AGE.days))
    return at.astimezone(now.tzinfo)


def _read_time(value: str, local_now: datetime) -> datetime | None:
    """``HH:MM`` (today, or yesterday when later than now) or ``[YYYY-]MM-DD HH:MM``;
    None when the text is neither. Raises ValueError for a day or time that does not exist."""
    if len(value) > 20:
        return None
    clock = _CLOCK.match(value)
    if clock is not None:
        at = local_now.replace(hour=int(clock.group(1)), minute=int(clock.group(2)),
                               second=0, microsecond=0)
        # "23:50" said at 00:10 is last night, not tonight.
        return at - timedelta(days=1) if at > local_now + FUTURE_SLACK else at
    day_clock = _DAY_CLOCK.match(value)
    if day_clock is None:
        return None
    year, month, day, hour, minute = day_clock.groups()
    return local_now.replace(year=int(year) if year else local_now.year, month=int(month),
                             day=int(day), hour=int(hour), minute=int(minute), second=0,
                             microsecond=0)


def check_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """A typed answer, trimmed; refused when empty or longer than ``limit``.

    Raises:
        InputError: ``empty`` or ``too_long`` (with ``length`` and ``limit``).
    """
    value = (text or "").strip()
    if not value:
        raise InputError("empty")
    if len(value) > limit:
        raise InputError("too_long", length=str(len(value)), limit=str(limit))
    return value


def may_follow_up(grants: list[Grant], team_path: str, *, is_bot_admin: bool = False) -> bool:
    """Follow-ups and the final report: the team's leaders and anyone above them
    (officers and managers of the workshop, enterprise, authority), never a worker."""
    return has_role_over(grants, team_path, Role.TEAM_LEADER, is_bot_admin=is_bot_admin)


def injury_for(count: int, chosen: Injury | None) -> Injury | None:
    """How badly, given the count: nobody hurt is ``none``; people hurt need a degree
    other than ``none`` (None: ask for it)."""
    if count == 0:
        return Injury.NONE
    if chosen is None or chosen is Injury.NONE:
        return None
    return chosen


@dataclass(frozen=True)
class IncidentRow:
    """One incident as the ledger sheet (事故台账) shows it, in the reader's language."""

    code: str
    occurred_at: datetime
    reported_at: datetime
    team: str
    reporter: str
    what: str
    place: str
    injured: int
    injury: str
    action: str
    state: str
    controlled_at: datetime | None
    closed_at: datetime | None
    closed_by: str
    cause: str
    measures: str
    lessons: str
    history: str
