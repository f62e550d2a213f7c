"""Shift schedules (班次): when each shift of a team starts and ends.

A team's schedule lives in the org file under the team (``shifts:``)::

    shifts:
      timezone: Asia/Shanghai          # optional: the team's zone by default
      briefing_before: 15m             # pre-shift meeting reminder lead time
      shifts:
        - {name: 早班, start: "08:00", end: "16:00", days: [mon, tue, wed, thu, fri]}
        - {name: 夜班, start: "22:00", end: "06:00", days: [mon, tue, wed, thu, fri],
           leader: 200001}             # optional: who leads it (Telegram id); the handover
                                       # before it is offered to them first
      holidays: ["2026-10-01"]         # no shifts on these days
      workdays: ["2026-10-11"]         # make-up working days (调休): every shift runs

A shift whose end is not after its start crosses midnight and belongs to the
day it starts. Times are local to the team; instants are computed in UTC, so
daylight-saving changes (none in China) shift nothing but the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.dates import MAX_DAY, MIN_DAY, DateError, parse_day
from domain.durations import DurationError, format_duration, parse_duration

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
            "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6}
ALL_DAYS = frozenset(range(7))
MAX_LEAD = timedelta(hours=12)  # a briefing is for the shift about to start, not next week's
MAX_TELEGRAM_ID = 2**63 - 1  # the database keeps Telegram ids as signed 64-bit numbers


class ScheduleError(ValueError):
    """A problem in a shift schedule, in words an admin understands.

    ``code`` and ``params`` let the chat say the same in the leader's language.
    """

    def __init__(self, message: str, code: str = "invalid", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Shift:
    """One recurring shift."""

    name: str
    start: time
    end: time
    days: frozenset[int] = ALL_DAYS  # 0 = Monday
    leader: int | None = None  # Telegram id of the leader who usually leads it

    @property
    def crosses_midnight(self) -> bool:
        """Whether the shift ends on the next day."""
        return self.end <= self.start

    @property
    def length(self) -> timedelta:
        """How long the shift lasts."""
        start = datetime.combine(date(2000, 1, 3), self.start)
        end = datetime.combine(date(2000, 1, 4 if self.crosses_midnight else 3), self.end)
        return end - start


@dataclass(frozen=True)
class ShiftSchedule:
    """A team's shifts, working days and exceptions."""

    timezone: str
    shifts: tuple[Shift, ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    briefing_before: timedelta = timedelta(minutes=15)

    def runs_on(self, shift: Shift, day: date) -> bool:
        """Whether ``shift`` starts on local ``day``."""
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() in shift.days


@dataclass(frozen=True)
class ShiftOccurrence:
    """One shift on one day, as UTC instants."""

    shift: Shift
    day: date  # the local day the shift starts
    starts_at: datetime
    ends_at: datetime

    @property
    def key(self) -> str:
        """A stable id for reminders and handovers: ``2026-11-23/早班``."""
        return f"{self.day.isoformat()}/{self.shift.name}"


def briefed_shift_now(schedule: ShiftSchedule, shift_key: str,
                      starts_at: datetime) -> ShiftOccurrence | None:
    """The shift a briefed meeting belongs to under the schedule as it is now.

    The schedule may have changed since the briefing: the same day's shift of the same
    name (perhaps moved), else a shift at the same start (renamed), else None — the
    shift was cancelled (a holiday declared, the shift removed).
    """
    window = list(occurrences(schedule, starts_at - timedelta(days=2),
                              starts_at + timedelta(days=2)))
    return next((o for o in window if o.key == shift_key), None) \
        or next((o for o in window if o.starts_at == starts_at), None)


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def occurrences(schedule: ShiftSchedule, start: datetime, end: datetime
                ) -> Iterator[ShiftOccurrence]:
    """Every shift starting in [start, end), in order of start."""
    zone = ZoneInfo(schedule.timezone)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found = []
    day = first
    while day <= last:
        for shift in schedule.shifts:
            if not schedule.runs_on(shift, day):
                continue
            begins = _instant(day, shift.start, zone)
            ends = _instant(day + timedelta(days=1 if shift.crosses_midnight else 0),
                            shift.end, zone)
            if start <= begins < end:
                found.append(ShiftOccurrence(shift, day, begins, ends))
        day += timedelta(days=1)
    yield from sorted(found, key=lambda o: o.starts_at)


def next_occurrence(schedule: ShiftSchedule, after: datetime,
                    horizon: timedelta = timedelta(days=45)) -> ShiftOccurrence | None:
    """The first shift starting at or after ``after`` (None within the horizon: no shifts)."""
    return next(occurrences(schedule, after, after + horizon), None)


def incoming_shift(schedule: ShiftSchedule, at: datetime,
                   late_by: timedelta = timedelta(hours=2)) -> ShiftOccurrence | None:
    """The shift a handover made at ``at`` hands over to.

    The first shift starting after ``at - late_by``: a handover made a little after
    the next shift began still goes to that shift, not to the one after it.
    """
    return next_occurrence(schedule, at - late_by)


def current_occurrence(schedule: ShiftSchedule, at: datetime) -> ShiftOccurrence | None:
    """The shift running at ``at`` (a night shift after midnight belongs to the day before)."""
    longest = max((s.length for s in schedule.shifts), default=timedelta(0))
    running = [o for o in occurrences(schedule, at - longest, at + timedelta(seconds=1))
               if o.starts_at <= at < o.ends_at]
    return running[-1] if running else None


def parse_schedule(data: Any, default_timezone: str) -> ShiftSchedule:
    """Read a ``shifts:`` section (a mapping as documented, or just the list of shifts).

    Raises:
        ScheduleError: what is wrong, naming the shift.
    """
    if isinstance(data, list):
        data = {"shifts": data}
    if not isinstance(data, dict):
        raise ScheduleError("shifts must be a mapping (timezone, shifts, holidays…) or a list")
    unknown = set(data) - {"timezone", "briefing_before", "shifts", "holidays", "workdays"}
    if unknown:
        raise ScheduleError(f"unknown field(s) in shifts: {', '.join(sorted(unknown))}")
    zone = str(data.get("timezone") or default_timezone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown timezone {zone!r}") from exc
    raw_shifts = data.get("shifts") or []
    if not isinstance(raw_shifts, list) or not raw_shifts:
        raise ScheduleError("a schedule needs at least one shift", "no_shifts")
    shifts = tuple(_shift(item) for item in raw_shifts)
    names = [s.name for s in shifts]
    if len(set(names)) != len(names):
        raise ScheduleError("shift names must be different", "duplicate_names")
    _check_overlaps(shifts)
    try:
        lead = parse_duration(data.get("briefing_before", "15m"), maximum=MAX_LEAD)
    except DurationError as exc:
        if exc.code == "too_long":
            raise ScheduleError(f"briefing_before: at most {format_duration(MAX_LEAD)}",
                                "lead_too_long", value=str(data.get("briefing_before"))[:32],
                                maximum=format_duration(MAX_LEAD)) from exc
        raise ScheduleError(f"briefing_before: {exc}", "bad_lead",
                            value=str(data.get("briefing_before"))[:32]) from exc
    return ShiftSchedule(timezone=zone, shifts=shifts,
                         holidays=_days(data.get("holidays"), "holidays"),
                         workdays=_days(data.get("workdays"), "workdays"),
                         briefing_before=lead)


def _shift(item: Any) -> Shift:
    if not isinstance(item, dict):
        raise ScheduleError("each shift needs name, start and end")
    name = str(item.get("name") or "").strip()
    if not name or len(name) > 32:
        raise ScheduleError("each shift needs a name of at most 32 characters", "bad_name")
    start, end = _time(item.get("start"), name, "start"), _time(item.get("end"), name, "end")
    if start == end:
        raise ScheduleError(f"shift {name!r} starts and ends at the same time", "same_time",
                            shift=name)
    days = item.get("days")
    if days is None:
        weekdays = ALL_DAYS
    else:
        if not isinstance(days, list) or not days:
            raise ScheduleError(f"shift {name!r}: days is a list such as [mon, tue]")
        try:
            weekdays = frozenset(WEEKDAYS[str(d).strip().lower()] for d in days)
        except KeyError as exc:
            raise ScheduleError(f"shift {name!r}: unknown day {exc.args[0]!r} "
                                "(mon … sun)", "unknown_day", shift=name,
                                value=str(exc.args[0])) from exc
    leader = item.get("leader")
    if leader is not None and (isinstance(leader, bool) or not isinstance(leader, int)
                               or not 0 < leader <= MAX_TELEGRAM_ID):
        raise ScheduleError(f"shift {name!r}: leader is a Telegram user id such as 200001")
    return Shift(name=name, start=start, end=end, days=weekdays, leader=leader)


def _time(value: Any, name: str, what: str) -> time:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML reads an unquoted 08:00 as a sexagesimal number (480).
        value = f"{value // 60:02d}:{value % 60:02d}"
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise ScheduleError(f"shift {name!r}: {what} {value!r} is not a time like 08:00",
                            "bad_time", shift=name, value=str(value)) from exc


def _days(value: Any, what: str) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise ScheduleError(f"{what} is a list of dates like 2026-10-01")
    days = set()
    for item in value:
        try:
            day = item if isinstance(item, date) else parse_day(str(item))
        except DateError as exc:
            if exc.code != "out_of_range":
                raise ScheduleError(f"{what}: {exc}", "bad_date", value=str(item)[:32]) from exc
            day = date.max  # a real day, but out of range: said below
        if not MIN_DAY <= day <= MAX_DAY:
            raise ScheduleError(f"{what}: {str(item)[:32]} is not between {MIN_DAY} and "
                                f"{MAX_DAY}", "date_out_of_range", value=str(item)[:32],
                                first=MIN_DAY.isoformat(), last=MAX_DAY.isoformat())
        days.add(day)
    return frozenset(days)


def _check_overlaps(shifts: tuple[Shift, ...]) -> None:
    """No two shifts of a team may run at the same time on any day of the week."""
    week = date(2026, 1, 5)  # a Monday
    spans = []
    for shift in shifts:
        for offset in range(7):
            day = week + timedelta(days=offset)
            if day.weekday() in shift.days:
                begins = datetime.combine(day, shift.start)
                spans.append((begins, begins + shift.length, shift.name))
    # Wrap the week so Sunday's night shift meets Monday's morning.
    spans += [(b + timedelta(days=7), e + timedelta(days=7), n) for b, e, n in spans]
    spans.sort()
    latest_end, latest_name = datetime.min, ""
    for begins, ends, name in spans:
        if begins < latest_end and name != latest_name:
            raise ScheduleError(f"shifts {latest_name!r} and {name!r} overlap", "overlap",
                                first=latest_name, second=name)
        if ends > latest_end:
            latest_end, latest_name = ends, name


# The chat form of a schedule: what a leader types after /shifts, one item a line.
#   早班 08:00-16:00 周一至周五          夜班 22:00-06:00 mon-fri
#   提前 15m / before 15m               节假日 2026-10-01 2026-10-02 / holidays …
#   调休 2026-10-11 / workdays …        (no days: every day)
_SHIFT_LINE = re.compile(
    r"^(?P<name>\S+)\s+(?P<start>\d{1,2}[:：]\d{2})\s*[-–—~～至到]\s*"
    r"(?P<end>\d{1,2}[:：]\d{2})\s*(?P<days>.*)$")
_KEYWORDS = {"提前": "briefing_before", "before": "briefing_before",
             "节假日": "holidays", "休息日": "holidays", "holidays": "holidays",
             "调休": "workdays", "workdays": "workdays"}
_EVERY_DAY = frozenset({"每天", "daily", "everyday"})
_DAY_NAMES = {"zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
              "en": ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def schedule_from_text(text: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``shifts:`` section a leader typed in chat (checked like the org file's).

    Keeps what the chat form cannot say from ``previous``: the timezone, and each
    shift's leader when a shift of the same name had one.

    Raises:
        ScheduleError: the first unreadable line, or what :func:`parse_schedule` refuses.
    """
    before = previous or {}
    leaders = {str(item.get("name")): item["leader"]
               for item in (before.get("shifts") or []) if isinstance(item, dict)
               and item.get("leader")}
    data: dict[str, Any] = {"shifts": []}
    if before.get("timezone"):
        data["timezone"] = before["timezone"]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, rest = line.partition(" ")
        field = _KEYWORDS.get(head.rstrip(":：").lower())
        if field == "briefing_before":
            data[field] = rest.strip()
            continue
        if field is not None:
            data[field] = [d for d in re.split(r"[\s,，、]+", rest.strip()) if d]
            continue
        match = _SHIFT_LINE.match(line)
        if match is None:
            raise ScheduleError(f"line {number} is not a shift like 早班 08:00-16:00 周一至周五",
                                "bad_line", line=str(number), value=line[:40])
        shift: dict[str, Any] = {"name": match["name"], "start": _clock(match["start"]),
                                 "end": _clock(match["end"])}
        days = _day_list(match["name"], match["days"])
        if days is not None:
            shift["days"] = days
        if match["name"] in leaders:
            shift["leader"] = leaders[match["name"]]
        data["shifts"].append(shift)
    return data


def schedule_as_text(schedule: ShiftSchedule, lang: str) -> str:
    """A schedule in the chat form, to show and to copy for editing."""
    names = _DAY_NAMES["zh" if lang == "zh" else "en"]
    lines = [f"{s.name} {s.start:%H:%M}-{s.end:%H:%M}{_days_text(s.days, names)}"
             for s in schedule.shifts]
    minutes = int(schedule.briefing_before.total_seconds() // 60)
    lines.append(f"{'提前' if lang == 'zh' else 'before'} {minutes}m")
    for word, days in (("节假日" if lang == "zh" else "holidays", schedule.holidays),
                       ("调休" if lang == "zh" else "workdays", schedule.workdays)):
        if days:
            lines.append(f"{word} {' '.join(d.isoformat() for d in sorted(days))}")
    return "\n".join(lines)


def _clock(text: str) -> str:
    hours, minutes = text.replace("：", ":").split(":")
    return "00:00" if (hours, minutes) == ("24", "00") else f"{int(hours):02d}:{minutes}"


def _day_list(shift: str, text: str) -> list[str] | None:
    """Day tokens as the schedule's ``days`` list; None means every day."""
    tokens = [t for t in re.split(r"[\s,，、]+", text.strip()) if t]
    if not tokens or (len(tokens) == 1 and tokens[0].lower() in _EVERY_DAY):
        return None
    days: list[int] = []
    for token in tokens:
        ends = re.split(r"[-–—~～至到]", token.lower())
        if len(ends) > 2 or not all(end in WEEKDAYS for end in ends):
            raise ScheduleError(f"shift {shift!r}: unknown day {token!r} (mon … sun)",
                                "unknown_day", shift=shift, value=token)
        first, last = WEEKDAYS[ends[0]], WEEKDAYS[ends[-1]]
        days += [(first + i) % 7 for i in range((last - first) % 7 + 1)]
    return [_DAY_NAMES["en"][d] for d in sorted(set(days))]


def _days_text(days: frozenset[int], names: tuple[str, ...]) -> str:
    if days == ALL_DAYS:
        return ""
    ordered = sorted(days)
    if len(ordered) >= 3 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        joiner = "至" if names[0] == "周一" else "-"
        return f" {names[ordered[0]]}{joiner}{names[ordered[-1]]}"
    return " " + ",".join(names[d] for d in ordered)
