"""Inspections (检查) by rhythm: checklists, when a check falls due, how it is answered.

A checklist (``content/checklists/<id>.yaml``) names who does it, when it falls
due and its items::

    id: team-weekly                     # [a-z0-9][a-z0-9-]{0,39}; the file name
    title: {zh: 班组周检, en: Weekly team check}
    who: {role: team_leader, at: team}  # a role held on units of a kind …
    # who: {post: welder}               # … or every worker of a post, in their team
    when: {weekly: fri, at: "15:00"}    # or {daily: "08:00"}, {monthly: 25, at: "09:00"},
                                        # {shift: before | during | after}
    deadline: 4h                        # how long it stays due
    category: machinery                 # optional: a hazard category for items not OK
    items:
      - text: {zh: 消防器材完好、在有效期内, en: Extinguishers in place and in date}
      - text: {zh: 氧气瓶压力, en: Oxygen cylinder pressure}
        kind: number                    # yes_no (default) or number
        min: 0.2                        # a number's limits (either may be left out)
        max: 15
        unit: MPa
        photo: true                     # a photo with every answer, not only "not OK"
        category: fire                  # optional: overrides the checklist's
        severity: serious               # optional: general (default), serious, major

When it falls due, by rule:

- ``daily``, ``weekly`` (a weekday) and ``monthly`` (a day; past the month's last
  day means its last day) fall due at the local time ``at`` of the unit's zone;
- ``shift: before`` falls due ``deadline`` before each shift of the team starts
  and must be done by the start; ``during`` falls due at the start; ``after`` at
  the end. A team without a shift schedule has no shift checks.

Each check then stays due for ``deadline``; not done by then it is missed (and
escalated once). An item answered "not OK", or a number outside its limits, asks
for a photo and a note and becomes a hazard report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from domain.durations import DurationError, parse_duration
from domain.language import SUPPORTED_LANGUAGES
from domain.org import Role, UnitKind
from domain.orgfile import POST_PATTERN
from domain.shifts import WEEKDAYS, ShiftSchedule, occurrences

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
RuleKind = Literal["daily", "weekly", "monthly", "shift"]
ShiftMoment = Literal["before", "during", "after"]
ItemKind = Literal["yes_no", "number"]
SEVERITIES = ("general", "serious", "major")
MAX_ITEMS = 40
MAX_TEXT = 300
MIN_DEADLINE = timedelta(minutes=5)
# The longest a check may stay due under each rule: never into the next one's time.
MAX_DEADLINE: dict[RuleKind, timedelta] = {
    "daily": timedelta(days=1), "weekly": timedelta(days=7), "monthly": timedelta(days=28),
    "shift": timedelta(hours=12)}
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ChecklistError(ValueError):
    """A checklist file that cannot be used; the message names the field (and item)."""


Texts = Mapping[str, str]


@dataclass(frozen=True)
class Rule:
    """When a check falls due: the kind of rhythm and its parameters."""

    kind: RuleKind
    at: time = time(8, 0)  # local time of day (daily, weekly, monthly)
    weekday: int = 0  # 0 = Monday (weekly)
    day: int = 1  # day of the month (monthly)
    shift: ShiftMoment = "before"  # (shift)


@dataclass(frozen=True)
class Item:
    """One thing to check."""

    text: Texts
    kind: ItemKind = "yes_no"
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    photo: bool = False  # a photo with every answer (one "not OK" always needs one)
    category: str = "other"
    severity: str = "general"

    def text_in(self, lang: str) -> str:
        """The item's text in ``lang`` (Chinese when it has none in that language)."""
        return self.text.get(lang) or self.text["zh"]

    def within(self, value: float) -> bool:
        """Whether a number answer is inside the limits."""
        return (self.minimum is None or value >= self.minimum) and \
            (self.maximum is None or value <= self.maximum)


@dataclass(frozen=True)
class Checklist:
    """A checklist: who does it, when, how long it stays due, and its items."""

    id: str
    title: Texts
    rule: Rule
    deadline: timedelta
    items: tuple[Item, ...]
    role: Role | None = None  # with ``unit_kind``: the role holders of each such unit
    unit_kind: UnitKind | None = None
    post: str | None = None  # or: every worker of this post, in their team

    def title_in(self, lang: str) -> str:
        """The title in ``lang`` (Chinese when it has none in that language)."""
        return self.title.get(lang) or self.title["zh"]


@dataclass(frozen=True)
class Occurrence:
    """One time a check falls due: its period's key, when it is due, until when."""

    period: str  # "2026-11-23", or "2026-11-23/早班" for a shift
    due_at: datetime
    deadline_at: datetime


# ------------------------------------------------------------------ parsing


def _texts(where: str, value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"zh": value}
    if not isinstance(value, dict) or not isinstance(value.get("zh"), str) \
            or not value["zh"].strip():
        raise ChecklistError(f"{where}: needs a zh text (and may have an en one)")
    texts: dict[str, str] = {}
    for lang, text in value.items():
        if lang not in SUPPORTED_LANGUAGES:
            raise ChecklistError(f"{where}: unknown language {lang!r} "
                                 f"(use {', '.join(SUPPORTED_LANGUAGES)})")
        if not isinstance(text, str) or not text.strip():
            raise ChecklistError(f"{where}.{lang}: must be a text")
        if len(text) > MAX_TEXT:
            raise ChecklistError(f"{where}.{lang}: longer than {MAX_TEXT} characters")
        texts[lang] = text.strip()
    return texts


def _clock(where: str, value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)  # YAML 1.1 reads 15:00 as 900 minutes
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ChecklistError(f"{where}: a time of day such as \"08:00\", not {value!r}")
    hours, minutes = (int(part) for part in value.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise ChecklistError(f"{where}: {value!r} is not a time of day")
    return time(hours, minutes)


def parse_rule(value: Any) -> Rule:
    """Read ``when:``: exactly one of daily, weekly, monthly or shift."""
    if not isinstance(value, dict):
        raise ChecklistError("when: one of {daily: \"08:00\"}, {weekly: fri, at: \"15:00\"}, "
                             "{monthly: 25, at: \"09:00\"}, {shift: before|during|after}")
    kinds = [k for k in ("daily", "weekly", "monthly", "shift") if k in value]
    unknown = sorted(set(value) - {"daily", "weekly", "monthly", "shift", "at"})
    if len(kinds) != 1 or unknown:
        raise ChecklistError("when: give exactly one of daily, weekly, monthly, shift"
                             + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else ""))
    kind = kinds[0]
    if kind == "daily":
        if "at" in value:
            raise ChecklistError("when: daily takes its time directly: {daily: \"08:00\"}")
        return Rule("daily", at=_clock("when.daily", value["daily"]))
    at = _clock("when.at", value["at"]) if "at" in value else time(8, 0)
    if kind == "weekly":
        day = WEEKDAYS.get(str(value["weekly"]).strip().lower())
        if day is None:
            raise ChecklistError(f"when.weekly: a weekday (mon … sun), not {value['weekly']!r}")
        return Rule("weekly", at=at, weekday=day)
    if kind == "monthly":
        day_of_month = value["monthly"]
        if isinstance(day_of_month, bool) or not isinstance(day_of_month, int) \
                or not 1 <= day_of_month <= 31:
            raise ChecklistError(f"when.monthly: a day of the month 1 … 31, "
                                 f"not {day_of_month!r}")
        return Rule("monthly", at=at, day=day_of_month)
    moment = value["shift"]
    if moment not in ("before", "during", "after") or "at" in value:
        raise ChecklistError(f"when.shift: before, during or after, not {moment!r} "
                             "(and no \"at\": the team's shifts say when)")
    return Rule("shift", shift=moment)


def _number(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(float(value)):
        raise ChecklistError(f"{where}: must be a number, not {value!r}")
    return float(value)


def _item(where: str, value: Any, category: str) -> Item:
    if not isinstance(value, dict):
        raise ChecklistError(f"{where}: must be a mapping with at least a text")
    unknown = sorted(set(value) - {"text", "kind", "min", "max", "unit", "photo", "category",
                                   "severity"})
    if unknown:
        raise ChecklistError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    text = _texts(f"{where}.text", value.get("text"))
    kind = value.get("kind", "yes_no")
    if kind not in ("yes_no", "number"):
        raise ChecklistError(f"{where}.kind: yes_no or number, not {kind!r}")
    minimum, maximum = _number(f"{where}.min", value.get("min")), \
        _number(f"{where}.max", value.get("max"))
    unit = value.get("unit", "")
    if kind == "yes_no" and (minimum is not None or maximum is not None or unit):
        raise ChecklistError(f"{where}: min, max and unit belong to a number item")
    if kind == "number" and minimum is None and maximum is None:
        raise ChecklistError(f"{where}: a number item needs min, max or both")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ChecklistError(f"{where}: min {minimum:g} is above max {maximum:g}")
    if not isinstance(unit, str) or len(unit) > 16:
        raise ChecklistError(f"{where}.unit: a short text such as MPa")
    photo = value.get("photo", False)
    if not isinstance(photo, bool):
        raise ChecklistError(f"{where}.photo: true or false")
    item_category = str(value.get("category", category))
    severity = value.get("severity", "general")
    if severity not in SEVERITIES:
        raise ChecklistError(f"{where}.severity: one of {', '.join(SEVERITIES)}")
    return Item(text, kind, minimum, maximum, unit, photo, item_category, severity)


def _who(value: Any) -> tuple[Role | None, UnitKind | None, str | None]:
    if not isinstance(value, dict) or ("post" in value) == ("role" in value):
        raise ChecklistError("who: {role: team_leader, at: team} or {post: welder}")
    if "post" in value:
        post = value["post"]
        if set(value) != {"post"} or not isinstance(post, str) or not POST_PATTERN.fullmatch(post):
            raise ChecklistError(f"who.post: a post key such as welder, not {post!r}")
        return None, None, post
    try:
        role = Role(value["role"])
        kind = UnitKind(str(value.get("at")))
    except ValueError as exc:
        raise ChecklistError(
            f"who: role one of {', '.join(r.value for r in Role)} and at one of "
            f"{', '.join(k.value for k in UnitKind)} ({exc})") from exc
    if set(value) != {"role", "at"}:
        raise ChecklistError("who: only role and at")
    return role, kind, None


def parse_checklist(checklist_id: str, data: Any,
                    categories: Sequence[str] = ()) -> Checklist:
    """A checklist from its file's data.

    ``categories`` are the hazard category keys items may name (unchecked when empty).

    Raises:
        ChecklistError: naming the field, and the item by number, that is wrong.
    """
    if not ID_PATTERN.fullmatch(checklist_id):
        raise ChecklistError(f"id {checklist_id!r}: lowercase letters, digits and -")
    if not isinstance(data, dict):
        raise ChecklistError("the file must be a mapping with id, title, who, when, "
                             "deadline and items")
    unknown = sorted(set(data) - {"id", "title", "who", "when", "deadline", "category",
                                  "items"})
    if unknown:
        raise ChecklistError(f"unknown field(s) {', '.join(map(str, unknown))}")
    if data.get("id") != checklist_id:
        raise ChecklistError(f"id: must be {checklist_id!r}, the file's name")
    title = _texts("title", data.get("title"))
    role, unit_kind, post = _who(data.get("who"))
    rule = parse_rule(data.get("when"))
    if rule.kind == "shift" and unit_kind not in (None, UnitKind.TEAM):
        raise ChecklistError("when.shift: only a team has shifts (who.at: team)")
    try:
        deadline = parse_duration(data.get("deadline", ""), maximum=MAX_DEADLINE[rule.kind])
    except DurationError as exc:
        raise ChecklistError(f"deadline: {exc} (at most "
                             f"{MAX_DEADLINE[rule.kind].total_seconds() / 3600:g}h for "
                             f"a {rule.kind} check)") from exc
    if deadline < MIN_DEADLINE:
        raise ChecklistError("deadline: at least 5m")
    category = str(data.get("category", "other"))
    items_data = data.get("items")
    if not isinstance(items_data, list) or not items_data:
        raise ChecklistError("items: a list of at least one item")
    if len(items_data) > MAX_ITEMS:
        raise ChecklistError(f"items: at most {MAX_ITEMS}")
    items = tuple(_item(f"items[{number}]", value, category)
                  for number, value in enumerate(items_data, start=1))
    if categories:
        for number, item in enumerate(items, start=1):
            if item.category not in categories:
                raise ChecklistError(f"items[{number}].category: {item.category!r} is not one "
                                     f"of {', '.join(categories)}")
    return Checklist(checklist_id, title, rule, deadline, items, role, unit_kind, post)


# ------------------------------------------------------------------ when a check is due


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _falls_on(rule: Rule, day: date) -> bool:
    if rule.kind == "daily":
        return True
    if rule.kind == "weekly":
        return day.weekday() == rule.weekday
    # A day past the month's end (31 in November) is the month's last day.
    following = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (following - timedelta(days=1)).day
    return day.day == min(rule.day, last)


def calendar_occurrences(rule: Rule, deadline: timedelta, timezone: str, start: datetime,
                         end: datetime) -> Iterator[Occurrence]:
    """Every daily, weekly or monthly occurrence falling due in [start, end), in order."""
    zone = ZoneInfo(timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        if _falls_on(rule, day):
            due = _local(day, rule.at, zone)
            if start <= due < end:
                yield Occurrence(day.isoformat(), due, due + deadline)
        day += timedelta(days=1)


def shift_occurrences(rule: Rule, deadline: timedelta, schedule: ShiftSchedule,
                      start: datetime, end: datetime) -> Iterator[Occurrence]:
    """Every shift check falling due in [start, end), in order of the shifts."""
    longest = max((s.length for s in schedule.shifts), default=timedelta(0))
    # A check due at a shift's end (or before its start) may belong to a shift starting
    # outside [start, end): look that much wider, then keep what falls due inside.
    for shift in occurrences(schedule, start - longest - deadline, end + deadline):
        if rule.shift == "before":
            due, until = shift.starts_at - deadline, shift.starts_at
        elif rule.shift == "during":
            due, until = shift.starts_at, min(shift.starts_at + deadline, shift.ends_at)
        else:
            due, until = shift.ends_at, shift.ends_at + deadline
        if start <= due < end:
            yield Occurrence(shift.key, due, until)


def due_now(checklist: Checklist, now: datetime, *, timezone: str,
            schedule: ShiftSchedule | None) -> list[Occurrence]:
    """The occurrences that are due at ``now``: fallen due, deadline not yet passed.

    One that fell due while the bot was down still goes out if its deadline is ahead.
    """
    window_start = now - checklist.deadline
    if checklist.rule.kind == "shift":
        if schedule is None:
            return []
        found = shift_occurrences(checklist.rule, checklist.deadline, schedule,
                                  window_start, now + timedelta(seconds=1))
    else:
        found = calendar_occurrences(checklist.rule, checklist.deadline, timezone,
                                     window_start, now + timedelta(seconds=1))
    return [o for o in found if o.due_at <= now < o.deadline_at]


# ------------------------------------------------------------------ answering


def parse_number(text: str | None) -> float | None:
    """A typed number (``0.45``, ``０.４５``, ``1,5``, ``12 MPa``), or None when it is not one."""
    if text is None:
        return None
    value = text.strip().translate(_FULL_WIDTH).replace("，", ",")
    match = re.fullmatch(r"([-+]?\d+(?:[.,]\d+)?)\s*[^\d\s.,+-]{0,12}", value)
    if match is None:
        return None
    number = float(match.group(1).replace(",", "."))
    return number if math.isfinite(number) else None


_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－＋", "0123456789.-+")

Want = Literal["answer", "photo", "note"]


@dataclass(frozen=True)
class Given:
    """What is stored of one item's answer, as the rules need it."""

    ok: bool
    photo: bool
    noted: bool  # a "not OK" whose note is in (and so its hazard registered)


def next_step(checklist: Checklist, given: Mapping[int, Given]) -> tuple[int, Want] | None:
    """The item (index from 0) and what it still needs, or None when the check is complete.

    Items go in order; an item "not OK" needs its photo, then its note; an item
    whose checklist asks for a photo needs it after an OK too.
    """
    for index, item in enumerate(checklist.items):
        answer = given.get(index)
        if answer is None:
            return index, "answer"
        if not answer.photo and (not answer.ok or item.photo):
            return index, "photo"
        if not answer.ok and not answer.noted:
            return index, "note"
    return None


@dataclass(frozen=True)
class CheckCompletion:
    """How a unit's checks went in a period: fallen due, done, missed, still open."""

    due: int = 0
    done: int = 0
    missed: int = 0

    @property
    def open(self) -> int:
        """Due and neither done nor missed yet (their deadline has not passed)."""
        return self.due - self.done - self.missed

    @property
    def rate(self) -> float | None:
        """Done out of those decided (done or missed), or None when none is decided yet."""
        decided = self.done + self.missed
        return self.done / decided if decided else None

    def __add__(self, other: CheckCompletion) -> CheckCompletion:
        return CheckCompletion(self.due + other.due, self.done + other.done,
                               self.missed + other.missed)


def weekday_name(index: int) -> str:
    """``mon`` … ``sun`` for 0 … 6."""
    return WEEKDAY_NAMES[index]
