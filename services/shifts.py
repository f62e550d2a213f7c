"""A team's shift schedule: read from the unit in one place, changed from chat.

The schedule is the ``shifts`` section of the unit's ``extra_json`` (the org
file's format). Briefings, the meeting sweep, handovers and ``/shifts`` all read
it through :func:`team_schedule`; a leader's edit is saved by :func:`save_text`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.durations import format_duration
from domain.shifts import (
    ScheduleError,
    ShiftOccurrence,
    ShiftSchedule,
    incoming_shift,
    next_occurrence,
    parse_schedule,
    schedule_as_text,
    schedule_from_text,
)
from services.base import Runtime
from services.buttons import Button, keyboard
from storage import people as people_repo
from storage.models import Unit

log = logging.getLogger(__name__)
DAY_NAMES: dict[str, Any] = {"zh": "一二三四五六日",
                             "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
MAX_TEXT = 2000


@dataclass(frozen=True)
class ShiftsButton(Button, prefix="sh"):
    """"Edit shifts" under ``/shifts``: ``sh:edit:UNIT``."""

    action: Literal["edit"]
    unit_id: int


def edit_keyboard(label: str, unit_id: int) -> dict[str, Any]:
    """The one "edit shifts" keyboard (Bot API dict)."""
    return keyboard([[(label, ShiftsButton("edit", unit_id))]])


def stored_schedule(extra_json: str | None) -> dict[str, Any] | None:
    """The raw ``shifts`` section of a unit's extra data (a bare list is wrapped), or None."""
    data = json.loads(extra_json).get("shifts") if extra_json else None
    if isinstance(data, list):  # the org file also allows just the list of shifts
        data = {"shifts": data}
    return data if isinstance(data, dict) else None


@lru_cache(maxsize=4096)
def _decoded(extra_json: str | None, zone: str) -> ShiftSchedule | ScheduleError | None:
    # Sweeps read every team each minute and the text rarely changes: parsed once per
    # distinct text, and a broken one is logged once rather than every minute.
    data = stored_schedule(extra_json)
    if data is None:
        return None
    try:
        return parse_schedule(data, zone)
    except ScheduleError as problem:
        log.warning("a team schedule is broken, so no briefings for it: %s", problem)
        return problem


def decode(extra_json: str | None, zone: str) -> ShiftSchedule | ScheduleError | None:
    """The schedule held in a unit's ``extra_json`` (None without one, the error if broken)."""
    return _decoded(extra_json, zone)


def team_schedule(unit: Unit | None,
                  default_timezone: str) -> ShiftSchedule | ScheduleError | None:
    """A team's schedule in its time zone: None without one, the error when it is broken."""
    if unit is None:
        return None
    return decode(unit.extra_json, unit.timezone or default_timezone)


def encode(extra_json: str | None, data: dict[str, Any]) -> str:
    """``extra_json`` with its ``shifts`` section replaced (other sections kept)."""
    extra = json.loads(extra_json) if extra_json else {}
    extra["shifts"] = data
    return json.dumps(extra, ensure_ascii=False, sort_keys=True)


def next_team_shift(unit: Unit | None, default_timezone: str,
                    now: datetime) -> ShiftOccurrence | None:
    """The shift a handover made now hands over to, if the team has a usable schedule."""
    schedule = team_schedule(unit, default_timezone)
    # Checked on import; an old bad row must not stop a handover.
    return incoming_shift(schedule, now) if isinstance(schedule, ShiftSchedule) else None


def current_text(unit: Unit, default_timezone: str, lang: str) -> str:
    """The schedule as a leader types it (what the edit prompt shows), or ""."""
    schedule = team_schedule(unit, default_timezone)
    return schedule_as_text(schedule, lang) if isinstance(schedule, ShiftSchedule) else ""


async def shown(session: AsyncSession, schedule: ShiftSchedule, lang: str,
                now: datetime) -> dict[str, Any]:
    """The template values that show a schedule (``shifts.show``)."""
    names = DAY_NAMES["zh" if lang == "zh" else "en"]
    leaders: dict[int, str] = {}
    for shift in schedule.shifts:
        if shift.leader:  # an id the bot has not met yet is shown as the id
            person = await people_repo.get_person(session, shift.leader)
            leaders[shift.leader] = person.name if person else str(shift.leader)
    shifts = [{"name": s.name, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}",
               "night": s.crosses_midnight, "leader": leaders.get(s.leader or 0),
               "days": ("周" if lang == "zh" else "") + ("、" if lang == "zh" else ", ").join(
                   names[d] for d in sorted(s.days))} for s in schedule.shifts]
    upcoming = next_occurrence(schedule, now)
    return {"timezone": schedule.timezone, "tz": schedule.timezone,
            "lead": format_duration(schedule.briefing_before),
            "shifts": shifts,
            "upcoming": {"name": upcoming.shift.name, "at": upcoming.starts_at}
            if upcoming else None}


@dataclass(frozen=True)
class Saved:
    """What a schedule edit did: the new schedule, or the refusal as a text key."""

    schedule: ShiftSchedule | None
    error: ScheduleError | None = None


def save_text(rt: Runtime, unit: Unit, text: str) -> Saved:
    """Check a schedule typed in chat and, when valid, write it on the unit (not committed).

    The text is checked exactly as an org file is; a bad one changes nothing.
    """
    try:
        data = schedule_from_text(text, stored_schedule(unit.extra_json))
        schedule = parse_schedule(data, unit.timezone or rt.default_timezone)
    except ScheduleError as problem:
        return Saved(None, problem)
    unit.extra_json = encode(unit.extra_json, data)
    return Saved(schedule)
