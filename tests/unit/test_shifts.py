"""Shift schedules: night shifts, holidays, make-up days, overlaps, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.shifts import (
    ScheduleError,
    briefed_shift_now,
    current_occurrence,
    incoming_shift,
    next_occurrence,
    occurrences,
    parse_schedule,
    schedule_as_text,
    schedule_from_text,
)

SCHEDULE = {
    "shifts": [
        {"name": "早班", "start": "08:00", "end": "16:00",
         "days": ["mon", "tue", "wed", "thu", "fri"]},
        {"name": "夜班", "start": "22:00", "end": "06:00",
         "days": ["mon", "tue", "wed", "thu", "fri"]},
    ],
    "holidays": ["2026-11-25"],
    "workdays": ["2026-11-28"],
}


def shanghai(day: int, hour: int, minute: int = 0) -> datetime:
    """2026-11-<day> hh:mm in Shanghai, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_a_week_of_shifts_with_a_holiday_and_a_make_up_day() -> None:
    schedule = parse_schedule(SCHEDULE, "Asia/Shanghai")
    week = list(occurrences(schedule, shanghai(23, 0), shanghai(30, 0)))
    keys = [o.key for o in week]
    assert keys[:4] == ["2026-11-23/早班", "2026-11-23/夜班", "2026-11-24/早班",
                        "2026-11-24/夜班"]
    assert not [k for k in keys if k.startswith("2026-11-25")]  # holiday
    assert "2026-11-28/早班" in keys and "2026-11-28/夜班" in keys  # Saturday make-up day
    assert not [k for k in keys if k.startswith("2026-11-29")]  # Sunday
    night = week[1]
    assert night.starts_at == shanghai(23, 22) and night.ends_at == shanghai(24, 6)


def test_the_night_shift_after_midnight_belongs_to_the_day_before() -> None:
    schedule = parse_schedule(SCHEDULE, "Asia/Shanghai")
    running = current_occurrence(schedule, shanghai(24, 3))
    assert running is not None and running.key == "2026-11-23/夜班"
    assert current_occurrence(schedule, shanghai(24, 7)) is None  # between shifts
    upcoming = next_occurrence(schedule, shanghai(27, 23))  # Friday night → Saturday make-up
    assert upcoming is not None and upcoming.key == "2026-11-28/早班"


def test_daylight_saving_is_harmless() -> None:
    schedule = parse_schedule({"timezone": "Europe/Berlin", "shifts": [
        {"name": "night", "start": "22:00", "end": "06:00"}]}, "Asia/Shanghai")
    spring = list(occurrences(schedule, datetime(2026, 3, 28, tzinfo=UTC),
                              datetime(2026, 3, 30, tzinfo=UTC)))
    assert [o.day for o in spring] == [date(2026, 3, 28), date(2026, 3, 29)]
    assert spring[0].ends_at - spring[0].starts_at == timedelta(hours=7)  # an hour is lost
    assert spring[1].ends_at - spring[1].starts_at == timedelta(hours=8)


def test_unquoted_yaml_times_are_understood() -> None:
    schedule = parse_schedule([{"name": "day", "start": 480, "end": 960}], "Asia/Shanghai")
    assert str(schedule.shifts[0].start) == "08:00:00"


@pytest.mark.parametrize(("data", "problem"), [
    ([{"name": "a", "start": "08:00", "end": "16:00"},
      {"name": "b", "start": "15:00", "end": "23:00"}], "overlap"),
    ([{"name": "late", "start": "22:00", "end": "06:00", "days": ["sun"]},
      {"name": "early", "start": "05:00", "end": "13:00", "days": ["mon"]}], "overlap"),
    ([{"name": "a", "start": "25:00", "end": "16:00"}], "not a time"),
    ([{"name": "a", "start": "08:00", "end": "08:00"}], "same time"),
    ([{"name": "a", "start": "08:00", "end": "16:00", "days": ["someday"]}], "unknown day"),
    ([], "at least one shift"),
    ({"shifts": [{"name": "a", "start": "08:00", "end": "16:00"}], "holidays": ["soon"]},
     "holidays"),
    ({"timezone": "Moon/Base", "shifts": [{"name": "a", "start": "08:00", "end": "16:00"}]},
     "unknown timezone"),
    ([{"name": "a", "start": "08:00", "end": "16:00", "leader": "@wang"}], "Telegram user id"),
    ([{"name": "a", "start": "08:00", "end": "16:00", "leader": True}], "Telegram user id"),
])
def test_bad_schedules_are_refused_with_a_reason(data: object, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem):
        parse_schedule(data, "Asia/Shanghai")


def test_a_handover_goes_to_the_next_shift_even_when_made_a_little_late() -> None:
    schedule = parse_schedule({"shifts": [
        {"name": "早班", "start": "08:00", "end": "16:00", "leader": 200001},
        {"name": "中班", "start": "16:00", "end": "00:00", "leader": 200002}]}, "Asia/Shanghai")
    assert [s.leader for s in schedule.shifts] == [200001, 200002]
    for at in (shanghai(23, 14), shanghai(23, 15, 55), shanghai(23, 16, 5),
               shanghai(23, 17, 30)):
        incoming = incoming_shift(schedule, at)
        assert incoming is not None and incoming.key == "2026-11-23/中班", at
    at_midnight = incoming_shift(schedule, shanghai(24, 0, 10))
    assert at_midnight is not None and at_midnight.key == "2026-11-24/早班"


def test_a_schedule_typed_in_chat_reads_like_the_org_file() -> None:
    typed = """早班 8:00-16:00 周一至周五
    夜班 22：00～06:00 mon-thu, sat
    # a comment
    值守 16:00-22:00 每天
    提前 20m
    节假日 2026-10-01、2026-10-02
    workdays: 2026-10-11
    """
    previous = {"timezone": "Asia/Urumqi", "shifts": [
        {"name": "早班", "start": "07:00", "end": "15:00", "leader": 200001},
        {"name": "旧班", "start": "15:00", "end": "23:00", "leader": 200002}]}
    data = schedule_from_text(typed, previous)
    assert data["timezone"] == "Asia/Urumqi"
    assert data["shifts"] == [
        {"name": "早班", "start": "08:00", "end": "16:00",
         "days": ["mon", "tue", "wed", "thu", "fri"], "leader": 200001},
        {"name": "夜班", "start": "22:00", "end": "06:00", "days": ["mon", "tue", "wed", "thu",
                                                                 "sat"]},
        {"name": "值守", "start": "16:00", "end": "22:00"}]
    schedule = parse_schedule(data, "Asia/Shanghai")
    assert schedule.briefing_before == timedelta(minutes=20)
    assert schedule.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert schedule.workdays == {date(2026, 10, 11)}
    # shown in the same form, so a leader can copy, change and send it back
    zh = schedule_as_text(schedule, "zh")
    assert zh.splitlines() == ["早班 08:00-16:00 周一至周五",
                               "夜班 22:00-06:00 周一,周二,周三,周四,周六",
                               "值守 16:00-22:00", "提前 20m", "节假日 2026-10-01 2026-10-02",
                               "调休 2026-10-11"]
    assert parse_schedule(schedule_from_text(zh, data), "Asia/Shanghai") == schedule
    en = schedule_as_text(schedule, "en")
    assert en.splitlines()[0] == "早班 08:00-16:00 mon-fri"
    assert parse_schedule(schedule_from_text(en, data), "Asia/Shanghai") == schedule


@pytest.mark.parametrize(("typed", "code", "params"), [
    ("早班 八点到四点", "bad_line", {"line": "1", "value": "早班 八点到四点"}),
    ("早班 08:00-16:00 someday", "unknown_day", {"shift": "早班", "value": "someday"}),
    ("早班 08:00-16:00\n中班 15:00-23:00", "overlap", {"first": "早班", "second": "中班"}),
    ("早班 08:00-08:00", "same_time", {"shift": "早班"}),
    ("早班 25:00-08:00", "bad_time", {"shift": "早班", "value": "25:00"}),
    ("提前 15m", "no_shifts", {}),
    ("早班 08:00-16:00\n提前 soon", "bad_lead", {"value": "soon"}),
])
def test_typed_schedules_are_refused_with_a_code_the_chat_can_translate(
        typed: str, code: str, params: dict[str, str]) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(schedule_from_text(typed), "Asia/Shanghai")
    assert caught.value.code == code and caught.value.params == params


def test_a_briefed_shift_is_found_again_after_the_schedule_changed() -> None:
    briefed = parse_schedule(SCHEDULE, "Asia/Shanghai")
    [monday] = [o for o in occurrences(briefed, shanghai(23, 0), shanghai(23, 12))]
    moved = parse_schedule({**SCHEDULE, "shifts": [
        {"name": "早班", "start": "09:30", "end": "17:30"}]}, "Asia/Shanghai")
    found = briefed_shift_now(moved, monday.key, monday.starts_at)
    assert found is not None and found.starts_at == shanghai(23, 9, 30)
    renamed = parse_schedule({**SCHEDULE, "shifts": [
        {"name": "白班", "start": "08:00", "end": "16:00"}]}, "Asia/Shanghai")
    found = briefed_shift_now(renamed, monday.key, monday.starts_at)
    assert found is not None and found.shift.name == "白班"
    holiday = parse_schedule({**SCHEDULE, "holidays": ["2026-11-23"]}, "Asia/Shanghai")
    assert briefed_shift_now(holiday, monday.key, monday.starts_at) is None
