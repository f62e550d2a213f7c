"""The org file: the example parses, round-trips, and every mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.org import Role, UnitKind
from domain.orgfile import OrgFileError, dump_org, iter_units, parse_org

EXAMPLE = (Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml").read_text(
    encoding="utf-8")

BASE = """\
version: 1
units:
  - key: acme
    kind: enterprise
    name: Acme
    children:
      - key: ws
        kind: workshop
        name: WS
        children:
          - key: team-a
            kind: team
            name: A
            chat_id: -100123
people:
  - telegram_id: 5
    name: Wang
    roles:
      - {unit: team-a, role: team_leader}
"""


def test_example_parses_and_round_trips() -> None:
    spec = parse_org(EXAMPLE, "org.yaml")
    keys = [(u.key, p.key if p else None) for u, p in iter_units(spec)]
    assert keys[:3] == [("acme", None), ("ws-synthesis", "acme"),
                        ("team-synthesis-a", "ws-synthesis")]
    assert spec.units[0].kind is UnitKind.ENTERPRISE
    assert spec.people[1].roles[0].role is Role.TEAM_LEADER
    assert parse_org(dump_org(spec), "again.yaml") == spec
    assert dump_org(parse_org(dump_org(spec), "x")) == dump_org(spec)  # stable


SHIFTS = ("            shifts:\n"
          "              - {name: day, start: '08:00', end: '16:00'}\n")


def test_shifts_are_checked_and_kept() -> None:
    text = BASE.replace("            chat_id: -100123\n", "            chat_id: -100123\n" + SHIFTS)
    spec = parse_org(text, "s.yaml")
    team = spec.units[0].children[0].children[0]
    assert team.extra == {"shifts": [{"name": "day", "start": "08:00", "end": "16:00"}]}
    assert parse_org(dump_org(spec), "s.yaml") == spec


def test_bad_shifts_name_the_line_and_the_problem() -> None:
    bad = SHIFTS + "              - {name: late, start: '15:00', end: '23:00'}\n"
    text = BASE.replace("            chat_id: -100123\n", "            chat_id: -100123\n" + bad)
    with pytest.raises(OrgFileError) as caught:
        parse_org(text, "s.yaml")
    assert caught.value.line == line_of(text, "shifts:")
    assert "shifts of 'team-a'" in str(caught.value) and "overlap" in str(caught.value)


def line_of(text: str, fragment: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if fragment in row)


@pytest.mark.parametrize(("change", "at", "message"), [
    (("name: A\n",
      "name: A\n          - key: team-a\n            kind: team\n            name: B\n"),
     14, "used twice"),
    (("kind: team", "kind: workshop"), 12, "cannot sit"),
    (("role: team_leader", "role: boss"), "role: boss", 'unknown role \'boss\''),
    (("unit: team-a, role", "unit: team-z, role"), "team-z", "unknown unit"),
    (("chat_id: -100123", "chat_id: abc"), "chat_id: abc", "whole number"),
    (("chat_id: -100123", "chat_id: 100123"), "chat_id: 100123", "negative"),
    (("version: 1\n", "version: 1\ntimezone: Mars/Base\n"), "timezone: Mars", "unknown timezone"),
    (("version: 1\n", "version: 1\nlanguage: fr\n"), "language: fr", "language must be"),
    (("    name: WS\n", "    name: WS\n        colour: red\n"), "colour", "unknown field"),
    (("name: Wang", "name: [Wang"), None, "not valid YAML"),
    (("version: 1", "version: 2"), "version: 2", "unsupported version"),
])
def test_mistakes_name_the_line(change: tuple[str, str], at: str | int | None,
                                message: str) -> None:
    text = BASE.replace(*change, 1)
    assert text != BASE
    with pytest.raises(OrgFileError) as caught:
        parse_org(text, "bad.yaml")
    error = caught.value
    assert message in str(error)
    assert str(error).startswith(f"bad.yaml:{error.line}: ")
    if isinstance(at, int):
        assert error.line == at
    elif at is not None:
        assert error.line == line_of(text, at)
    else:
        assert 1 <= error.line <= len(text.splitlines()) + 1


def test_empty_file() -> None:
    with pytest.raises(OrgFileError, match=r"^e.yaml:1: the file is empty"):
        parse_org("", "e.yaml")
