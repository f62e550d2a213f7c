"""Who can be told at a unit: a rule on plain values, no database needed."""

from __future__ import annotations

from dataclasses import dataclass

from domain.reach import reachable, unit_language


@dataclass
class P:
    id: int | None
    telegram_id: int
    name: str
    language: str | None = None
    started: bool = True
    blocked: bool = False


@dataclass
class U:
    language: str | None = None


@dataclass
class G:
    chat_id: int
    title: str = "班组群"
    language: str | None = None
    active: bool = True
    inactive_reason: str | None = None


def test_started_people_and_an_active_group_are_told_the_rest_are_named() -> None:
    people = [P(1, 11, "王", "en"), P(2, 12, "李", started=False), P(3, 13, "赵", blocked=True)]
    chats, missed = reachable(people, U("zh"), G(-100), "zh")
    assert chats == {11: ("en", 1), -100: ("zh", None)}
    assert missed == ["李 (no Start)", "赵 (blocked)"]
    chats, missed = reachable([], U(), G(-100, active=False, inactive_reason="kicked"), "en")
    assert chats == {} and missed == ["group 班组群 (kicked)"]


def test_the_group_language_wins_over_the_unit_and_the_default() -> None:
    assert unit_language(U("en"), G(-1, language="zh"), "en") == "zh"
    assert unit_language(U("en"), G(-1), "zh") == "en"
    assert unit_language(None, None, "zh") == "zh"
