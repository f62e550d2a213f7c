"""Checklists: loading (and refusing malformed files by file and item), when a check is
due, reading a typed number, which item comes next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from content.checklists import SHIPPED_CHECKLISTS, load_checklists
from domain.inspections import (
    CheckCompletion,
    ChecklistError,
    Given,
    due_now,
    next_step,
    parse_checklist,
    parse_number,
)
from domain.org import Role, UnitKind
from domain.shifts import parse_schedule

ZONE = "Asia/Shanghai"


def shanghai(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Shanghai wall-clock time in 2026 as UTC (Shanghai is UTC+8, no DST)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def checklist(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "sample", "title": {"zh": "样例检查", "en": "Sample check"},
        "who": {"role": "team_leader", "at": "team"}, "when": {"daily": "08:00"},
        "deadline": "2h",
        "items": [{"text": {"zh": "护栏完好", "en": "Guard rails intact"}},
                  {"text": {"zh": "压力"}, "kind": "number", "min": 0.2, "max": 0.6,
                   "unit": "MPa"}]}
    data.update(changes)
    return data


# ------------------------------------------------------------------ loading


def test_the_shipped_checklists_load_with_their_rhythms() -> None:
    found = load_checklists(SHIPPED_CHECKLISTS)
    assert set(found) == {"team-pre-shift", "team-weekly", "workshop-monthly",
                          "hot-work-permit"}
    pre_shift, weekly = found["team-pre-shift"], found["team-weekly"]
    assert (pre_shift.rule.kind, pre_shift.rule.shift) == ("shift", "before")
    assert (pre_shift.role, pre_shift.unit_kind) == (Role.TEAM_LEADER, UnitKind.TEAM)
    assert (weekly.rule.kind, weekly.rule.weekday, weekly.rule.at.hour) == ("weekly", 4, 15)
    monthly = found["workshop-monthly"]
    assert (monthly.unit_kind, monthly.rule.day) == (UnitKind.WORKSHOP, 20)
    hot_work = found["hot-work-permit"]
    assert hot_work.post == "welder" and hot_work.items[0].photo
    assert [i.kind for i in hot_work.items].count("number") == 2
    for each in found.values():
        assert all(item.text["zh"] and item.text["en"] for item in each.items)


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("changes", "message"), [
    ({"items": [{"text": {"zh": "护栏完好"}}, {"text": {"en": "only English"}}]},
     "items[2].text: needs a zh text"),
    ({"items": [{"text": "护栏", "kind": "number"}]}, "items[1]: a number item needs min"),
    ({"items": [{"text": "护栏", "kind": "dial"}]}, "items[1].kind: yes_no or number"),
    ({"items": [{"text": "护栏", "kind": "number", "min": 5, "max": 1}]},
     "items[1]: min 5 is above max 1"),
    ({"items": [{"text": "护栏", "kind": "number", "max": "high"}]},
     "items[1].max: must be a number"),
    ({"items": [{"text": "护栏", "min": 1}]}, "items[1]: min, max and unit belong to a number"),
    ({"items": [{"text": "护栏", "colour": "red"}]}, "items[1]: unknown field(s) colour"),
    ({"items": [{"text": "护栏", "category": "weather"}]}, "items[1].category: 'weather'"),
    ({"items": [{"text": "护栏", "severity": "huge"}]}, "items[1].severity"),
    ({"items": []}, "items: a list of at least one item"),
    ({"when": {"weekly": "someday", "at": "15:00"}}, "when.weekly: a weekday"),
    ({"when": {"monthly": 32}}, "when.monthly: a day of the month"),
    ({"when": {"daily": "25:00"}}, "when.daily: '25:00' is not a time of day"),
    ({"when": {"daily": "08:00", "weekly": "fri"}}, "when: give exactly one"),
    ({"when": {"shift": "lunch"}}, "when.shift: before, during or after"),
    ({"deadline": "2d"}, "deadline:"),
    ({"deadline": "soon"}, "deadline: not a duration"),
    ({"who": {"role": "boss", "at": "team"}}, "who: role one of"),
    ({"who": {"post": "Welder!"}}, "who.post"),
    ({"who": {"role": "safety_officer", "at": "workshop"}, "when": {"shift": "before"},
      "deadline": "30m"}, "when.shift: only a team has shifts"),
    ({"id": "other"}, "id: must be 'sample'"),
    ({"owner": "me"}, "unknown field(s) owner"),
])
def test_a_malformed_checklist_names_its_file_and_item(tmp_path: Path,
                                                        changes: dict[str, Any],
                                                        message: str) -> None:
    write(tmp_path, "good.yaml", yaml.safe_dump(checklist(id="good"), allow_unicode=True))
    write(tmp_path, "sample.yaml", yaml.safe_dump(checklist(**changes), allow_unicode=True))
    with pytest.raises(ChecklistError) as raised:
        load_checklists(tmp_path)
    assert str(raised.value).startswith("sample.yaml: ")
    assert message in str(raised.value)


def test_a_file_that_is_not_yaml_or_not_a_mapping_is_named(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", "id: broken\nitems: [unclosed\n")
    with pytest.raises(ChecklistError, match=r"^broken\.yaml: not valid YAML"):
        load_checklists(tmp_path)
    (tmp_path / "broken.yaml").unlink()
    write(tmp_path, "listy.yaml", "- just\n- a list\n")
    with pytest.raises(ChecklistError, match=r"^listy\.yaml: the file must be a mapping"):
        load_checklists(tmp_path)


def test_a_missing_folder_holds_no_checklists(tmp_path: Path) -> None:
    assert load_checklists(tmp_path / "nowhere") == {}


def test_yaml_reading_a_bare_time_as_minutes_is_understood() -> None:
    # YAML 1.1 reads an unquoted 15:00 as the sexagesimal number 900.
    found = parse_checklist("sample", checklist(when={"weekly": "fri", "at": 900}))
    assert found.rule.at.hour == 15


# ------------------------------------------------------------------ when a check is due


def test_a_daily_check_is_due_from_its_time_until_its_deadline() -> None:
    daily = parse_checklist("sample", checklist())
    assert due_now(daily, shanghai(23, 7, 59), timezone=ZONE, schedule=None) == []
    [occurrence] = due_now(daily, shanghai(23, 8), timezone=ZONE, schedule=None)
    assert occurrence.period == "2026-11-23"
    assert (occurrence.due_at, occurrence.deadline_at) == (shanghai(23, 8), shanghai(23, 10))
    # The bot was down at 08:00: at 09:59 the check still goes out, at 10:00 it is over.
    assert [o.period for o in due_now(daily, shanghai(23, 9, 59), timezone=ZONE,
                                      schedule=None)] == ["2026-11-23"]
    assert due_now(daily, shanghai(23, 10), timezone=ZONE, schedule=None) == []
    [next_day] = due_now(daily, shanghai(24, 8, 30), timezone=ZONE, schedule=None)
    assert next_day.period == "2026-11-24"


def test_a_daily_check_follows_the_units_zone() -> None:
    daily = parse_checklist("sample", checklist())
    urumqi = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 08:00 in Asia/Urumqi (UTC+6)
    assert due_now(daily, urumqi, timezone="Asia/Shanghai", schedule=None) == []
    assert len(due_now(daily, urumqi, timezone="Asia/Urumqi", schedule=None)) == 1


def test_a_weekly_check_falls_on_its_weekday_only() -> None:
    weekly = parse_checklist("sample", checklist(when={"weekly": "fri", "at": "15:00"},
                                                 deadline="4h"))
    thursday, friday = shanghai(26, 15, 30), shanghai(27, 15, 30)  # 2026-11-27 is a Friday
    assert due_now(weekly, thursday, timezone=ZONE, schedule=None) == []
    [occurrence] = due_now(weekly, friday, timezone=ZONE, schedule=None)
    assert occurrence.deadline_at == shanghai(27, 19)
    assert due_now(weekly, shanghai(27, 19), timezone=ZONE, schedule=None) == []
    chinese = parse_checklist("sample", checklist(when={"weekly": "周五", "at": "15:00"},
                                                  deadline="4h"))
    assert len(due_now(chinese, friday, timezone=ZONE, schedule=None)) == 1


def test_a_monthly_check_past_the_months_end_falls_on_its_last_day() -> None:
    monthly = parse_checklist("sample", checklist(when={"monthly": 31, "at": "09:00"},
                                                  deadline="3d"))
    assert due_now(monthly, shanghai(29, 10), timezone=ZONE, schedule=None) == []
    [november] = due_now(monthly, shanghai(30, 10), timezone=ZONE, schedule=None)
    assert november.period == "2026-11-30"
    [december] = due_now(monthly, shanghai(31, 9, month=12), timezone=ZONE, schedule=None)
    assert december.period == "2026-12-31"
    on_20th = parse_checklist("sample", checklist(when={"monthly": 20, "at": "09:00"},
                                                  deadline="3d"))
    assert [o.period for o in due_now(on_20th, shanghai(22, 8), timezone=ZONE,
                                      schedule=None)] == ["2026-11-20"]
    assert due_now(on_20th, shanghai(23, 9), timezone=ZONE, schedule=None) == []


SCHEDULE = parse_schedule({
    "shifts": [{"name": "早班", "start": "08:00", "end": "16:00",
                "days": ["mon", "tue", "wed", "thu", "fri"]},
               {"name": "夜班", "start": "22:00", "end": "06:00",
                "days": ["mon", "tue", "wed", "thu", "fri"]}],
    "holidays": ["2026-11-24"]}, ZONE)


def test_a_pre_shift_check_is_due_before_each_shift_until_it_starts() -> None:
    before = parse_checklist("sample", checklist(when={"shift": "before"}, deadline="30m"))
    assert due_now(before, shanghai(23, 7, 29), timezone=ZONE, schedule=SCHEDULE) == []
    [morning] = due_now(before, shanghai(23, 7, 30), timezone=ZONE, schedule=SCHEDULE)
    assert morning.period == "2026-11-23/早班"
    assert morning.deadline_at == shanghai(23, 8)
    assert due_now(before, shanghai(23, 8), timezone=ZONE, schedule=SCHEDULE) == []
    [night] = due_now(before, shanghai(23, 21, 45), timezone=ZONE, schedule=SCHEDULE)
    assert night.period == "2026-11-23/夜班"
    # A holiday and the weekend have no shifts, so no shift checks; no schedule, none.
    assert due_now(before, shanghai(24, 7, 45), timezone=ZONE, schedule=SCHEDULE) == []
    assert due_now(before, shanghai(28, 7, 45), timezone=ZONE, schedule=SCHEDULE) == []
    assert due_now(before, shanghai(23, 7, 45), timezone=ZONE, schedule=None) == []


def test_checks_during_and_after_a_shift_across_midnight() -> None:
    during = parse_checklist("sample", checklist(when={"shift": "during"}, deadline="4h"))
    after = parse_checklist("sample", checklist(when={"shift": "after"}, deadline="1h"))
    [night] = due_now(during, shanghai(24, 1), timezone=ZONE, schedule=SCHEDULE)
    assert night.period == "2026-11-23/夜班"  # the night shift belongs to the day it starts
    assert (night.due_at, night.deadline_at) == (shanghai(23, 22), shanghai(24, 2))
    [ended] = due_now(after, shanghai(24, 6, 30), timezone=ZONE, schedule=SCHEDULE)
    assert ended.period == "2026-11-23/夜班" and ended.deadline_at == shanghai(24, 7)
    assert due_now(after, shanghai(24, 7), timezone=ZONE, schedule=SCHEDULE) == []


# ------------------------------------------------------------------ answering


@pytest.mark.parametrize(("text", "value"), [
    ("0.45", 0.45), ("０.４５", 0.45), ("1,5", 1.5), (" 12 MPa", 12.0), ("12MPa", 12.0),
    ("-3", -3.0), ("0.3%VOL", 0.3), ("abc", None), ("", None), ("1.2.3", None),
    ("nan", None), ("inf", None), ("1e400", None), ("三", None), ("12 34", None), (None, None),
])
def test_a_typed_number_is_read_or_refused(text: str | None, value: float | None) -> None:
    assert parse_number(text) == value


def test_items_go_in_order_and_not_ok_needs_a_photo_then_a_note() -> None:
    found = parse_checklist("sample", checklist(items=[
        {"text": "护栏"}, {"text": "作业票", "photo": True}, {"text": "压力", "kind": "number",
                                                            "max": 1}]))
    assert next_step(found, {}) == (0, "answer")
    assert next_step(found, {0: Given(False, False, False)}) == (0, "photo")
    assert next_step(found, {0: Given(False, True, False)}) == (0, "note")
    done_first = {0: Given(False, True, True)}
    assert next_step(found, done_first) == (1, "answer")
    assert next_step(found, {**done_first, 1: Given(True, False, False)}) == (1, "photo")
    both = {**done_first, 1: Given(True, True, False)}
    assert next_step(found, both) == (2, "answer")
    assert next_step(found, {**both, 2: Given(True, False, False)}) is None


def test_completion_adds_up_and_counts_what_is_still_open() -> None:
    total = CheckCompletion(3, 1, 1) + CheckCompletion(2, 2, 0)
    assert (total.due, total.done, total.missed, total.open) == (5, 3, 1, 1)
    assert total.rate == 0.75 and CheckCompletion().rate is None
