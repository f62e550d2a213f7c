"""The org file: the example parses, round-trips, and every mistake names its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from services import orgfile
from services.orgfile import (
    CHILD_KINDS,
    ROLE_RANK,
    OrgFileError,
    OrgSpec,
    Role,
    RoleSpec,
    UnitKind,
    UnitSpec,
    dump_org,
    iter_units,
    parse_org,
    role_rank,
)

EXAMPLE = (Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml").read_text(
    encoding="utf-8")


def documented_format() -> str:
    """The format block of the module docstring (the README copies it)."""
    doc = orgfile.__doc__ or ""
    block = doc.split("Format (``version: 1``)::\n", 1)[1].split("\nRules:", 1)[0]
    return textwrap.dedent(block).strip() + "\n"


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


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    rows = [i for i, row in enumerate(text.splitlines(), 1) if fragment in row]
    return rows[occurrence - 1]


def error_of(text: str, filename: str = "bad.yaml") -> OrgFileError:
    with pytest.raises(OrgFileError) as caught:
        parse_org(text, filename)
    error = caught.value
    assert str(error) == f"{error.filename}:{error.line}: {error.problem}"
    return error


def test_the_documented_example_parses() -> None:
    spec = parse_org(documented_format(), "org.yaml")
    assert spec.version == 1 and spec.timezone == "Asia/Shanghai" and spec.language == "zh"
    assert spec.admins == (100001,)
    team = spec.units[0].children[0].children[0]
    assert team == UnitSpec(key="team-synthesis-a", kind=UnitKind.TEAM, name="合成甲班",
                            chat_id=-1001234567890, language="zh", timezone="Asia/Shanghai")
    person = spec.people[0]
    assert (person.telegram_id, person.name, person.username, person.language) == (
        200001, "王建国", "wangjg", "zh")
    assert person.roles == (RoleSpec("team-synthesis-a", Role.TEAM_LEADER),
                            RoleSpec("ws-synthesis", Role.SAFETY_OFFICER))


def test_the_shipped_example_parses_and_round_trips() -> None:
    spec = parse_org(EXAMPLE, "org.yaml")
    keys = [(u.key, p.key if p else None) for u, p in iter_units(spec)]
    assert keys == [("acme", None), ("ws-synthesis", "acme"),
                    ("team-synthesis-a", "ws-synthesis"), ("team-synthesis-b", "ws-synthesis"),
                    ("ws-packing", "acme"), ("team-packing-1", "ws-packing")]
    assert spec.units[0].kind is UnitKind.ENTERPRISE
    assert spec.people[1].roles[0].role is Role.TEAM_LEADER
    text = dump_org(spec)
    assert parse_org(text, "again.yaml") == spec
    assert dump_org(parse_org(text, "x")) == text  # stable
    assert "示例化工有限公司" in text and "\\u" not in text  # readable unicode


def test_dump_writes_fields_in_the_documented_order() -> None:
    spec = parse_org(documented_format(), "org.yaml")
    text = dump_org(spec)
    top = [row.split(":")[0] for row in text.splitlines() if row and not row[0].isspace()]
    assert top == ["version", "timezone", "language", "admins", "units", "people"]
    team = text[text.index("- key: team-synthesis-a"):text.index("people:")]
    order = [team.index(f"{name}:") for name in ("key", "kind", "name", "chat_id", "language",
                                                 "timezone")]
    assert order == sorted(order)
    assert "      - {unit: team-synthesis-a, role: team_leader}" in text
    assert "admins: [100001]" in text
    assert parse_org(text, "x") == spec


def test_specs_are_values() -> None:
    spec = parse_org(EXAMPLE, "org.yaml")
    assert hash(spec) == hash(parse_org(EXAMPLE, "again.yaml"))
    with pytest.raises(AttributeError):
        spec.units[0].name = "x"  # type: ignore[misc]


def test_roles_kinds_and_nesting_are_exported() -> None:
    assert [r.value for r in sorted(Role, key=role_rank)] == [
        "worker", "team_leader", "safety_officer", "manager", "admin"]
    assert ROLE_RANK[Role.WORKER] < ROLE_RANK[Role.MANAGER] == role_rank("manager")
    assert CHILD_KINDS[None] == {UnitKind.AUTHORITY, UnitKind.ENTERPRISE}
    assert CHILD_KINDS[UnitKind.AUTHORITY] == {UnitKind.ENTERPRISE}
    assert CHILD_KINDS[UnitKind.TEAM] == frozenset()


def test_an_authority_on_top_and_defaults() -> None:
    text = ("version: 1\nunits:\n  - key: park\n    kind: authority\n    name: 园区安监办\n"
            "    children:\n      - {key: acme, kind: enterprise, name: Acme}\n")
    spec = parse_org(text, "a.yaml")
    assert spec.timezone == "Asia/Shanghai" and spec.language == "zh"
    assert spec.admins == () and spec.people == ()
    assert [u.kind for u, _ in iter_units(spec)] == [UnitKind.AUTHORITY, UnitKind.ENTERPRISE]
    assert parse_org(dump_org(spec), "a.yaml") == spec


def test_text_fields_are_kept_as_written() -> None:
    text = BASE.replace("name: A\n", "name: 2024\n").replace("name: Wang", "name: 'yes'")
    text = text.replace("key: ws\n", "key: '007'\n").replace("    name: Wang", "    name: on")
    spec = parse_org(text, "t.yaml")
    assert spec.units[0].children[0].key == "007"
    assert spec.units[0].children[0].children[0].name == "2024"
    assert parse_org(dump_org(spec), "t.yaml") == spec


def test_username_loses_its_at_and_optional_fields_may_be_empty() -> None:
    text = BASE.replace("    name: Wang\n", "    name: Wang\n    username: '@wang_jg'\n"
                                           "    language:\n")
    person = parse_org(text, "u.yaml").people[0]
    assert person.username == "wang_jg" and person.language is None


def test_merge_keys_and_aliases_may_be_used() -> None:
    text = """\
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
          - &night {key: team-a, kind: team, name: A, language: en}
          - <<: *night
            key: team-b
            name: B
"""
    spec = parse_org(text, "m.yaml")
    teams = spec.units[0].children[0].children
    assert [(t.key, t.name, t.language) for t in teams] == [("team-a", "A", "en"),
                                                            ("team-b", "B", "en")]


SHIFTS = ("            shifts:\n"
          "              - {name: day, start: '08:00', end: '16:00'}\n")


def with_shifts(section: str) -> str:
    chat = "            chat_id: -100123\n"
    return BASE.replace(chat, chat + section)


def test_shifts_are_checked_kept_and_round_tripped() -> None:
    spec = parse_org(with_shifts(SHIFTS), "s.yaml")
    team = spec.units[0].children[0].children[0]
    assert team.extra == {"shifts": [{"name": "day", "start": "08:00", "end": "16:00"}]}
    assert parse_org(dump_org(spec), "s.yaml") == spec


def test_shift_dates_are_kept_as_iso_text() -> None:
    section = ("            shifts:\n"
               "              shifts: [{name: 早班, start: '08:00', end: '16:00'}]\n"
               "              holidays: [2026-10-01, '2026-10-02']\n")
    spec = parse_org(with_shifts(section), "s.yaml")
    extra = spec.units[0].children[0].children[0].extra
    assert extra["shifts"]["holidays"] == ["2026-10-01", "2026-10-02"]  # storage keeps JSON
    text = dump_org(spec)
    assert "name: 早班" in text
    assert parse_org(text, "s.yaml") == spec


def test_bad_shifts_name_the_line_and_the_problem() -> None:
    bad = SHIFTS + "              - {name: late, start: '15:00', end: '23:00'}\n"
    text = with_shifts(bad)
    error = error_of(text, "s.yaml")
    assert error.line == line_of(text, "shifts:")
    assert 'shifts of "team-a"' in error.problem and "overlap" in error.problem


def test_an_impossible_date_names_its_line() -> None:
    text = with_shifts(SHIFTS + "              # note\n").replace(
        "              - {name: day",
        "              - {name: day, on: 2026-13-01")
    error = error_of(text)
    assert error.line == line_of(text, "2026-13-01")
    assert "cannot read this value" in error.problem


def test_only_teams_have_shifts() -> None:
    text = BASE.replace("        name: WS\n", "        name: WS\n" + SHIFTS[4:].replace(
        "              ", "          "))
    error = error_of(text)
    assert error.line == line_of(text, "shifts:")
    assert error.problem == "only teams have shifts, not a workshop"


# (replace this, with that), the line (a number, or a fragment of the offending row), the problem
MISTAKES: list[tuple[tuple[str, str], int | str, str]] = [
    (("name: A\n", "name: A\n          - key: team-a\n            kind: team\n"
                   "            name: B\n"),
     14, 'unit key "team-a" is used twice (first on line 11)'),
    (("kind: team", "kind: workshop"), 12,
     "a workshop cannot sit under a workshop (a workshop sits under an enterprise)"),
    (("    kind: enterprise", "    kind: team"), "kind: team",
     "a team cannot sit at the top (a team sits under a workshop)"),
    (("kind: workshop", "kind: enterprise"), 8,
     "an enterprise cannot sit under an enterprise "
     "(an enterprise sits at the top or under an authority)"),
    (("chat_id: -100123\n", "chat_id: -100123\n            children:\n"
                            "              - {key: x, kind: team, name: X}\n"),
     15, 'a team has no children (team "team-a")'),
    (("kind: team", "kind: crew"), "kind: crew",
     'unknown kind "crew" (expected one of authority, enterprise, workshop, team)'),
    (("role: team_leader", "role: boss"), "role: boss",
     'unknown role "boss" (expected one of worker, team_leader, safety_officer, manager, '
     "admin)"),
    (("unit: team-a, role", "unit: team-z, role"), "team-z",
     'role on unknown unit "team-z" (no unit of the file has this key)'),
    (("chat_id: -100123", "chat_id: abc"), "chat_id: abc",
     'chat_id must be a whole number, not "abc"'),
    (("chat_id: -100123", "chat_id: -1.5"), "chat_id: -1.5",
     'chat_id must be a whole number, not "-1.5"'),
    (("chat_id: -100123", "chat_id: 100123"), "chat_id: 100123",
     "chat_id 100123 is not a group: group chat ids are negative numbers such as "
     "-1001234567890"),
    (("name: WS\n", "name: WS\n        chat_id: -100123\n"), 15,
     "chat_id -100123 is bound twice (first on line 10)"),
    (("version: 1\n", "version: 1\ntimezone: Mars/Base\n"), "timezone: Mars",
     'unknown timezone "Mars/Base" (expected a name such as Asia/Shanghai)'),
    (("name: A\n", "name: A\n            timezone: asia/shanghai\n"), "timezone: asia",
     'unknown timezone "asia/shanghai" (expected a name such as Asia/Shanghai)'),
    (("version: 1\n", "version: 1\nlanguage: fr\n"), "language: fr",
     'unknown language "fr" (expected one of zh, en)'),
    (("    name: Wang\n", "    name: Wang\n    language: no\n"), "language: no",
     'unknown language "no" (expected one of zh, en)'),
    (("    name: WS\n", "    name: WS\n        colour: red\n"), "colour",
     'unknown field "colour" in a unit (expected one of key, kind, name, chat_id, language, '
     "timezone, children, quiz_time, report_day, shifts)"),
    (("version: 1\n", "version: 1\nteams: []\n"), "teams",
     'unknown field "teams" in the org file (expected one of version, timezone, language, '
     "admins, units, people)"),
    (("    name: Wang\n", "    name: Wang\n    phone: 123\n"), "phone",
     'unknown field "phone" in a person (expected one of telegram_id, name, username, '
     "language, post, roles)"),
    (("name: Acme\n", "name: Acme\n    name: Acme2\n"), "name: Acme2",
     'field "name" appears twice in a unit (first on line 5)'),
    (("name: Wang", "name: [Wang"), "roles:",
     "not valid YAML: while parsing a flow sequence (line 17) expected ',' or ']', "
     "but got ':'"),
    (("    kind: enterprise\n", "    kind: enterprise\n   bad indent\n"), "bad indent",
     "not valid YAML: while parsing a block collection (line 3) expected <block end>, "
     "but found '<scalar>'"),
    (("version: 1", "version: 2"), "version: 2", "unsupported version 2 (expected 1)"),
    (("version: 1\n", ""), 1, 'the org file needs "version: 1"'),
    (("name: A\n", "name: '  '\n"), "name: '  '", "name must not be blank"),
    (("name: A\n", "name: " + "长" * 101 + "\n"), "长长", "name is 101 characters long "
                                                        "(at most 100)"),
    (("        name: WS\n", ""), "- key: ws", 'a unit needs a "name"'),
    (("key: ws\n", "key: WS\n"), "key: WS",
     'unit key "WS" must be lower-case letters, digits, "-" or "_", starting with a letter '
     "or digit, at most 64 characters"),
    (("telegram_id: 5", "telegram_id: -5"), "telegram_id: -5",
     "telegram_id -5 is not a person: user ids are positive numbers"),
    (("      - {unit: team-a, role: team_leader}\n",
      "      - {unit: team-a, role: team_leader}\n  - {telegram_id: 5, name: Li}\n"),
     "name: Li", "telegram_id 5 is listed twice (first on line 16)"),
    (("      - {unit: team-a, role: team_leader}\n",
      "      - {unit: team-a, role: team_leader}\n      - {role: team_leader, unit: team-a}\n"),
     "role: team_leader, unit", 'role team_leader on "team-a" is listed twice '
                                "(first on line 19)"),
    (("    name: Wang\n", "    name: Wang\n    username: wang jg\n"), "username",
     'username "wang jg" must be letters, digits or "_" (the Telegram username, without @)'),
    (("version: 1\n", "version: 1\nadmins: [7, 7]\n"), "admins", "admin 7 is listed twice"),
    (("version: 1\n", "version: 1\nadmins: [root]\n"), "admins",
     'admins are Telegram user ids (positive whole numbers), not "root"'),
    (("version: 1\n", "version: 1\nadmins: 7\n"), "admins: 7", "admins must be a list"),
]


@pytest.mark.parametrize(("change", "at", "problem"), MISTAKES,
                         ids=[m[2][:40] for m in MISTAKES])
def test_mistakes_name_the_line_and_the_problem(change: tuple[str, str], at: int | str,
                                                problem: str) -> None:
    text = BASE.replace(*change, 1)
    assert text != BASE
    error = error_of(text)
    assert error.filename == "bad.yaml"
    assert error.problem == problem
    assert error.line == (at if isinstance(at, int) else line_of(text, at))


def test_the_message_reads_like_the_brief() -> None:
    text = BASE.replace("role: team_leader", "role: boss")
    assert str(error_of(text, "org.yaml")) == (
        'org.yaml:19: unknown role "boss" (expected one of worker, team_leader, '
        "safety_officer, manager, admin)")


def test_the_first_problem_in_the_file_is_reported() -> None:
    # A bad language on the workshop comes before its team's bad kind.
    text = BASE.replace("name: WS\n", "name: WS\n        language: fr\n").replace(
        "kind: team", "kind: crew")
    assert error_of(text).line == line_of(text, "language: fr")
    # People may come before units; a role still finds its unit.
    units, people = BASE.split("people:\n")
    assert parse_org("people:\n" + people + units, "p.yaml") == parse_org(BASE, "p.yaml")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(text: str) -> None:
    error = error_of(text, "e.yaml")
    assert str(error) == "e.yaml:1: the file is empty"


def test_not_a_mapping_and_bad_characters() -> None:
    assert error_of("- 1\n- 2\n").problem.startswith("the org file must be a mapping")
    assert str(error_of("version: 1\nunits: {key: a}\n")) == "bad.yaml:2: units must be a list"
    assert error_of("version: 1\nunits:\n  - [a]\n").problem.startswith(
        "a unit must be a mapping of fields")
    error = error_of("version: 1\nunits: []\n# \x07\n")
    assert error.line == 3 and error.problem.startswith("not valid YAML")


def test_a_spec_built_in_code_dumps_and_reads_back() -> None:
    spec = OrgSpec(version=1, timezone="UTC", language="en", admins=(1, 2),
                   units=(UnitSpec("acme", UnitKind.ENTERPRISE, "Acme: the \"best\"",
                                   children=(UnitSpec("w", UnitKind.WORKSHOP, "# not a comment"),
                                             )),),
                   people=())
    assert parse_org(dump_org(spec), "c.yaml") == spec


def test_a_post_is_read_written_back_and_checked() -> None:
    text = BASE.replace("    name: Wang\n", "    name: Wang\n    post: forklift-driver\n")
    spec = parse_org(text, "p.yaml")
    assert spec.people[0].post == "forklift-driver"
    dumped = dump_org(spec)
    assert "post: forklift-driver" in dumped and parse_org(dumped, "again.yaml") == spec
    bad = error_of(BASE.replace("    name: Wang\n", "    name: Wang\n    post: Welder One\n"))
    assert "post" in bad.problem and bad.line == line_of(BASE, "name: Wang") + 1


def test_an_enterprise_sets_its_report_day_before_the_25th() -> None:
    text = BASE.replace("    name: Acme\n", "    name: Acme\n    report_day: 18\n")
    spec = parse_org(text, "r.yaml")
    assert spec.units[0].extra == {"report_day": 18}
    assert parse_org(dump_org(spec), "r.yaml") == spec  # exported and read back
    for bad, problem in (("25", "report_day 25 is not allowed"),
                         ("0", "report_day 0 is not allowed"),
                         ("twenty", "not 'twenty'")):
        wrong = BASE.replace("    name: Acme\n", f"    name: Acme\n    report_day: {bad}\n")
        error = error_of(wrong)
        assert error.line == line_of(wrong, "report_day:") and problem in error.problem
    on_workshop = BASE.replace("        name: WS\n", "        name: WS\n        report_day: 10\n")
    error = error_of(on_workshop)
    assert "only an enterprise sets its report_day, not a workshop" in error.problem


def test_any_unit_sets_when_its_teams_quiz_goes_out() -> None:
    text = BASE.replace("    name: Acme\n", "    name: Acme\n    quiz_time: 14:30\n").replace(
        "        name: WS\n", "        name: WS\n        quiz_time: briefing\n")
    spec = parse_org(text, "q.yaml")
    assert spec.units[0].extra == {"quiz_time": "14:30"}  # unquoted: YAML's 870, read back
    assert spec.units[0].children[0].extra == {"quiz_time": "briefing"}
    assert parse_org(dump_org(spec), "q.yaml") == spec  # exported and read back
    wrong = BASE.replace("    name: Acme\n", "    name: Acme\n    quiz_time: lunch\n")
    error = error_of(wrong)
    assert error.line == line_of(wrong, "quiz_time:")
    assert 'quiz_time must be a time such as "10:00", or "briefing"' in error.problem
