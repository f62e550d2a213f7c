"""What an accident report accepts as typed, and who reviews an idea."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.idea import may_review, reviewer_role
from domain.incident import (
    MAX_CASUALTIES,
    Injury,
    InputError,
    check_text,
    injury_for,
    may_follow_up,
    parse_casualties,
    parse_when,
)
from domain.org import Grant, Role, UnitKind

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
ZONE = "Asia/Shanghai"


@pytest.mark.parametrize(("typed", "count"), [
    ("0", 0), ("3", 3), (" 12 ", 12), ("3人", 3), ("2 名", 2), ("１２", 12), ("+4", 4),
    (str(MAX_CASUALTIES), MAX_CASUALTIES), ("5 people", 5)])
def test_a_count_as_people_type_it(typed: str, count: int) -> None:
    assert parse_casualties(typed) == count


@pytest.mark.parametrize(("typed", "code"), [
    ("-1", "negative"), ("－3", "negative"), (str(MAX_CASUALTIES + 1), "too_many"),
    ("5000", "too_many"), ("99999999999999999999", "too_many"), ("很多", "not_number"),
    ("", "not_number"), (None, "not_number"), ("3.5", "not_number"), ("1e3", "not_number"),
    ("3 4", "not_number"), ("x" * 500, "not_number")])
def test_an_absurd_count_is_refused_with_the_reason(typed: str | None, code: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_casualties(typed)
    assert refused.value.code == code
    assert refused.value.params["limit"] == str(MAX_CASUALTIES)


@pytest.mark.parametrize(("typed", "expected"), [
    ("现在", NOW), ("刚才", NOW), ("now", NOW),
    ("08:10", NOW - timedelta(minutes=20)), ("08：10", NOW - timedelta(minutes=20)),
    ("8:10", NOW - timedelta(minutes=20)),
    ("23:50", datetime(2026, 11, 22, 15, 50, tzinfo=UTC)),  # later than now: yesterday
    ("11-22 23:50", datetime(2026, 11, 22, 15, 50, tzinfo=UTC)),
    ("2026-11-20 14:00", datetime(2026, 11, 20, 6, 0, tzinfo=UTC)),
    ("08:33", NOW + timedelta(minutes=3)),  # a clock a little ahead is not "yesterday"
])
def test_when_it_happened(typed: str, expected: datetime) -> None:
    assert parse_when(typed, NOW, ZONE) == expected


@pytest.mark.parametrize(("typed", "code"), [
    ("25:99", "format"), ("11-31 08:00", "format"), ("昨天下午", "format"), ("", "format"),
    ("2026-11-24 08:00", "future"), ("2026-10-01 08:00", "too_old"),
    ("2025-11-23 08:00", "too_old")])
def test_an_impossible_time_is_refused(typed: str, code: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_when(typed, NOW, ZONE)
    assert refused.value.code == code


def test_texts_are_trimmed_and_bounded() -> None:
    assert check_text("  泄漏  ") == "泄漏"
    with pytest.raises(InputError, match="empty"):
        check_text("   ")
    with pytest.raises(InputError) as refused:
        check_text("字" * 1001)
    assert refused.value.params == {"length": "1001", "limit": "1000"}


def test_how_badly_follows_the_count() -> None:
    assert injury_for(0, Injury.SERIOUS) == Injury.NONE
    assert injury_for(2, Injury.SERIOUS) == Injury.SERIOUS
    assert injury_for(2, Injury.NONE) is None and injury_for(2, None) is None


TEAM, WORKSHOP = "/1/2/3/", "/1/2/"


def test_follow_ups_are_for_leaders_and_above_never_workers() -> None:
    leader = [Grant(Role.TEAM_LEADER, 3, TEAM)]
    officer = [Grant(Role.SAFETY_OFFICER, 2, WORKSHOP)]
    worker = [Grant(Role.WORKER, 3, TEAM)]
    other_team = [Grant(Role.TEAM_LEADER, 4, "/1/2/4/")]
    assert may_follow_up(leader, TEAM) and may_follow_up(officer, TEAM)
    assert not may_follow_up(worker, TEAM) and not may_follow_up(other_team, TEAM)
    assert not may_follow_up([], TEAM) and may_follow_up([], TEAM, is_bot_admin=True)


def test_ideas_are_reviewed_by_the_team_leader_then_by_officers_above() -> None:
    leader = [Grant(Role.TEAM_LEADER, 3, TEAM)]
    officer = [Grant(Role.SAFETY_OFFICER, 2, WORKSHOP)]
    assert reviewer_role(UnitKind.TEAM) is Role.TEAM_LEADER
    assert reviewer_role(UnitKind.WORKSHOP) is Role.SAFETY_OFFICER
    assert may_review(leader, TEAM, UnitKind.TEAM)
    assert not may_review(leader, WORKSHOP, UnitKind.WORKSHOP)  # passed up: not theirs
    assert may_review(officer, WORKSHOP, UnitKind.WORKSHOP)
    assert not may_review([Grant(Role.WORKER, 3, TEAM)], TEAM, UnitKind.TEAM)
