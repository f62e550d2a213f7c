"""The organisation file (YAML): read with line-precise errors, written back the same way.

Admins describe the organisation in one file, imported with
``safetybot org import FILE.yaml`` and written back by ``safetybot org export``.

Format (``version: 1``)::

    version: 1
    timezone: Asia/Shanghai        # default for units that don't say
    language: zh                   # zh or en; default for units that don't say
    admins: [100001]               # Telegram user ids of bot admins (optional)
    units:
      - key: acme                  # stable id: [a-z0-9][a-z0-9_-]{0,63}; unique in the file
        kind: enterprise           # authority | enterprise | workshop | team
        name: 示例化工有限公司
        children:
          - key: ws-synthesis
            kind: workshop
            name: 合成车间
            children:
              - key: team-synthesis-a
                kind: team
                name: 合成甲班
                chat_id: -1001234567890   # optional Telegram group bound to the unit
                language: zh               # optional
                timezone: Asia/Shanghai    # optional
    people:
      - telegram_id: 200001
        name: 王建国
        username: wangjg            # optional, without @
        language: zh                # optional
        post: welder                # optional: the post (岗位) whose risk cards apply
        roles:
          - {unit: team-synthesis-a, role: team_leader}
          - {unit: ws-synthesis, role: safety_officer}

Rules:

- ``version`` must be 1; ``timezone`` (default ``Asia/Shanghai``) is an IANA
  zone name such as ``Asia/Shanghai``; ``language`` (default ``zh``) is ``zh`` or ``en``.
- Kinds nest in order: authority > enterprise > workshop > team. An enterprise
  sits at the top or under an authority, a workshop under an enterprise, a
  team under a workshop; a team has no children.
- Unit keys are unique; a ``chat_id`` is a negative number (a group) bound to
  one unit only; a ``name`` is 1 to 100 characters and not blank.
- A ``telegram_id`` is a positive number listed once; a person's name is 1 to
  128 characters (what Telegram allows for a full name).
- Roles are ``worker``, ``team_leader``, ``safety_officer``, ``manager`` and
  ``admin`` (from the least to the most authority), on a unit of the file.
- A team may have a ``shifts`` section (see :mod:`domain.shifts`); it is
  checked and kept as written. An enterprise (or authority) may set its
  ``report_day``: the day of the month its monthly report goes out, 1 to 24
  (default 20; the 25th and later are refused). Any unit may set ``quiz_time``:
  when its teams' daily quiz question goes out, ``"14:30"`` or ``"briefing"``
  (with the first pre-shift briefing of the day); the nearest setting up a team's
  chain holds, else ``QUIZ_TIME``. Any other unknown field is an error.
- YAML anchors, aliases and merge keys (``<<: *defaults``) may be used.

Every problem is reported as ``FILE:LINE: problem``, LINE pointing at the
offending field; the first problem found stops the reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.language import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from domain.monthly import ReportDayError, check_report_day
from domain.org import CHILD_KINDS, ROLE_RANK, Role, UnitKind, role_rank
from domain.orgfile import (
    DEFAULT_TIMEZONE,
    FORMAT_VERSION,
    KEY_PATTERN,
    PERSON_FIELDS,
    PERSON_NAME_MAX,
    POST_PATTERN,
    RAW_UNIT_SECTIONS,
    ROLE_FIELDS,
    TOP_FIELDS,
    UNIT_FIELDS,
    UNIT_NAME_MAX,
    USERNAME_PATTERN,
    OrgFileError,
    OrgSpec,
    PersonSpec,
    RoleSpec,
    UnitSpec,
    a_kind,
    iter_units,
    one_of,
    placement,
    quote,
)
from domain.quiz_time import QuizTimeError, parse_quiz_time, quiz_time_text
from domain.shifts import ScheduleError, parse_schedule
from services.yaml_stream import NotStreamable, stream_mapping

__all__ = [
    "CHILD_KINDS",
    "DEFAULT_TIMEZONE",
    "FORMAT_VERSION",
    "KEY_PATTERN",
    "ROLE_RANK",
    "OrgFileError",
    "OrgSpec",
    "PersonSpec",
    "Role",
    "RoleSpec",
    "UnitKind",
    "UnitSpec",
    "dump_org",
    "iter_units",
    "parse_org",
    "role_rank",
]

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"



def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


# (key node, value node) per field name.
_Fields = dict[str, tuple[Node, Node]]


@dataclass(frozen=True)
class _Head:
    """The file read up to its people: top fields and units (no nodes kept)."""

    version: int
    timezone: str
    language: str
    admins: tuple[int, ...]
    units: tuple[UnitSpec, ...]

    def spec(self, people: tuple[PersonSpec, ...]) -> OrgSpec:
        return OrgSpec(version=self.version, timezone=self.timezone, language=self.language,
                       admins=self.admins, units=self.units, people=people)


class _Reader:
    """Walks composed YAML nodes, so every problem can name its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._constructor = SafeConstructor()
        self.unit_lines: dict[str, int] = {}
        self.chat_lines: dict[int, int] = {}
        self.person_lines: dict[int, int] = {}
        self.default_timezone = DEFAULT_TIMEZONE

    # -- generic ------------------------------------------------------------------

    def fail(self, node: Node, problem: str) -> OrgFileError:
        return OrgFileError(self.filename, node.start_mark.line + 1, problem)

    def pairs(self, node: MappingNode, what: str,
              merging: frozenset[int] = frozenset()) -> list[tuple[Node, Node]]:
        """The mapping's pairs with merge keys (``<<``) resolved; own fields win."""
        if id(node) in merging:
            raise self.fail(node, f"{what} merges itself")
        merged: dict[str, tuple[Node, Node]] = {}
        own: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) \
                    else [value_node]
                # Earlier sources win over later ones, as in YAML's merge key.
                for source in reversed(sources):
                    if not isinstance(source, MappingNode):
                        raise self.fail(source, "only mappings can be merged with <<")
                    for k, v in self.pairs(source, what, merging | {id(node)}):
                        merged[self.field_name(k, what)] = (k, v)
                continue
            name = self.field_name(key_node, what)
            if name in own:
                raise self.fail(key_node, f"field {quote(name)} appears twice in {what} "
                                          f"(first on line {own[name][0].start_mark.line + 1})")
            own[name] = (key_node, value_node)
        return list({**merged, **own}.values())

    def field_name(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG:
            raise self.fail(node, f"field names in {what} must be plain words")
        return str(node.value)

    def fields(self, node: Node, what: str, allowed: tuple[str, ...],
               raw: frozenset[str] = frozenset()) -> _Fields:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping of fields "
                                  f"({', '.join(allowed)})")
        found: _Fields = {}
        for key_node, value_node in self.pairs(node, what):
            name = self.field_name(key_node, what)
            if name not in allowed and name not in raw:
                raise self.fail(key_node, f"unknown field {quote(name)} in {what} "
                                          f"({one_of([*allowed, *sorted(raw)])})")
            found[name] = (key_node, value_node)
        return found

    def in_file_order(self, fields: _Fields, *names: str) -> list[str]:
        """The given fields that are present, in the order they appear in the file."""
        present = [name for name in names if name in fields]
        return sorted(present, key=lambda name: fields[name][0].start_mark.index)

    def sequence(self, node: Node, what: str) -> list[Node]:
        if _is_null(node):
            return []  # "people:" with nothing under it
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def construct(self, node: Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            # e.g. a date like 2026-13-01, or a tag YAML's safe subset refuses
            raise self.fail(node, f"cannot read this value: {exc}") from exc
        finally:
            # The constructor remembers every node it built a value for (to share
            # aliases within one document); read field by field, that would keep
            # every node of the file alive.
            self._constructor.constructed_objects.clear()

    def text(self, node: Node, name: str, max_length: int) -> str:
        """A text field as written (``name: 2024`` is the text "2024", not a number)."""
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG:
            raise self.fail(node, f"{name} must be text")
        value = str(node.value).strip()
        if not value:
            raise self.fail(node, f"{name} must not be blank")
        if len(value) > max_length:
            raise self.fail(node, f"{name} is {len(value)} characters long "
                                  f"(at most {max_length})")
        return value

    def integer(self, node: Node, name: str) -> int:
        value = self.construct(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int):
            shown = node.value if isinstance(node, ScalarNode) else "a list or mapping"
            raise self.fail(node, f"{name} must be a whole number, not {quote(shown)}")
        if not -2**63 <= value < 2**63:  # the database keeps Telegram ids in 64 bits
            raise self.fail(node, f"{name} {str(value)[:24]}… is too large for a Telegram id")
        return value

    def language(self, node: Node) -> str:
        if not isinstance(node, ScalarNode) or node.value not in SUPPORTED_LANGUAGES:
            shown = node.value if isinstance(node, ScalarNode) else "a list or mapping"
            raise self.fail(node, f"unknown language {quote(shown)} "
                                  f"({one_of(list(SUPPORTED_LANGUAGES))})")
        return str(node.value)

    def timezone(self, node: Node) -> str:
        value = self.text(node, "timezone", 64)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise self.fail(node, f"unknown timezone {quote(value)} "
                                  "(expected a name such as Asia/Shanghai)") from exc
        return value

    def plain(self, node: Node, seen: frozenset[int] = frozenset()) -> Any:
        """Raw data as JSON-compatible values, so storage can keep it as JSON."""
        if id(node) in seen:
            raise self.fail(node, "an alias refers to itself")
        seen = seen | {id(node)}
        if isinstance(node, SequenceNode):
            return [self.plain(item, seen) for item in node.value]
        if isinstance(node, MappingNode):
            return {self.field_name(k, "shifts"): self.plain(v, seen)
                    for k, v in self.pairs(node, "shifts")}
        value = self.construct(node)
        if isinstance(value, date | datetime):
            return value.isoformat()  # JSON has no dates; shifts reads ISO text
        if value is not None and not isinstance(value, bool | int | float | str):
            raise self.fail(node, f"cannot keep a value of type {type(value).__name__} here")
        return value

    # -- the file -----------------------------------------------------------------

    def org(self, root: Node) -> OrgSpec:
        """The whole file, from its composed root node."""
        head = self.head(root)
        fields = self.fields(root, "the org file", TOP_FIELDS)
        people = tuple(self.person(node)
                       for node in self.sequence(fields["people"][1], "people")) \
            if "people" in fields else ()
        return head.spec(people)

    def head(self, root: Node) -> _Head:
        """Everything but the people: the top fields and the units, checked in order."""
        if not isinstance(root, MappingNode):
            raise self.fail(root, "the org file must be a mapping with version, units and "
                                  "people")
        fields = self.fields(root, "the org file", TOP_FIELDS)
        if "version" not in fields:
            raise self.fail(root, f"the org file needs \"version: {FORMAT_VERSION}\"")
        version_node = fields["version"][1]
        version = self.integer(version_node, "version")
        if version != FORMAT_VERSION:
            raise self.fail(version_node, f"unsupported version {version} "
                                          f"(expected {FORMAT_VERSION})")
        language = DEFAULT_LANGUAGE
        admins: list[int] = []
        for name in self.in_file_order(fields, "timezone", "language", "admins"):
            node = fields[name][1]
            if name == "timezone":
                self.default_timezone = self.timezone(node)
            elif name == "language":
                language = self.language(node)
            else:
                admins = self.admins(node)
        # Units first, whatever the order in the file: roles refer to them.
        units = tuple(self.unit(node, None)
                      for node in self.sequence(fields["units"][1], "units")) \
            if "units" in fields else ()
        return _Head(version=version, timezone=self.default_timezone,
                     language=language, admins=tuple(admins), units=units)

    def admins(self, node: Node) -> list[int]:
        admins: dict[int, int] = {}
        for item in self.sequence(node, "admins"):
            value = self.construct(item) if isinstance(item, ScalarNode) else None
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
                shown = item.value if isinstance(item, ScalarNode) else "a list or mapping"
                raise self.fail(item, f"admins are Telegram user ids (positive whole "
                                      f"numbers), not {quote(shown)}")
            if value in admins:
                raise self.fail(item, f"admin {value} is listed twice")
            admins[value] = item.start_mark.line + 1
        return list(admins)

    def unit(self, node: Node, parent: UnitKind | None) -> UnitSpec:
        fields = self.fields(node, "a unit", UNIT_FIELDS, RAW_UNIT_SECTIONS)
        values: dict[str, Any] = {}
        for name in self.in_file_order(fields, "key", "kind", "name", "chat_id", "language",
                                       "timezone"):
            values[name] = self.unit_field(name, fields[name][1], parent)
        for name in ("key", "kind", "name"):
            if name not in values:
                raise self.fail(node, f"a unit needs a {quote(name)}")
        key: str = values["key"]
        kind: UnitKind = values["kind"]
        extra: dict[str, Any] = {}
        children: list[UnitSpec] = []
        for name in self.in_file_order(fields, "shifts", "report_day", "quiz_time",
                                       "children"):
            key_node, value_node = fields[name]
            if name == "quiz_time":
                try:
                    extra["quiz_time"] = quiz_time_text(parse_quiz_time(self.plain(value_node)))
                except QuizTimeError as exc:
                    raise self.fail(value_node, f"{exc} ({quote(key)})") from exc
                continue
            if name == "report_day":
                extra["report_day"] = self.report_day(key_node, value_node, key, kind)
                continue
            if name == "shifts":
                extra["shifts"] = self.shifts(key_node, value_node, key, kind,
                                              values.get("timezone"))
                continue
            items = self.sequence(value_node, f"children of {quote(key)}")
            if items and kind is UnitKind.TEAM:
                raise self.fail(key_node, f"a team has no children (team {quote(key)})")
            children = [self.unit(child, kind) for child in items]
        return UnitSpec(key=key, kind=kind, name=values["name"], chat_id=values.get("chat_id"),
                        language=values.get("language"), timezone=values.get("timezone"),
                        children=tuple(children), extra=extra)

    def unit_field(self, name: str, node: Node, parent: UnitKind | None) -> Any:
        if name == "key":
            key = self.text(node, "key", 64)
            if not KEY_PATTERN.fullmatch(key):
                raise self.fail(node, f"unit key {quote(key)} must be lower-case letters, "
                                      "digits, \"-\" or \"_\", starting with a letter or "
                                      "digit, at most 64 characters")
            if key in self.unit_lines:
                raise self.fail(node, f"unit key {quote(key)} is used twice "
                                      f"(first on line {self.unit_lines[key]})")
            self.unit_lines[key] = node.start_mark.line + 1
            return key
        if name == "kind":
            shown = node.value if isinstance(node, ScalarNode) else "a list or mapping"
            try:
                kind = UnitKind(shown)
            except ValueError as exc:
                raise self.fail(node, f"unknown kind {quote(shown)} "
                                      f"({one_of([k.value for k in UnitKind])})") from exc
            if kind not in CHILD_KINDS[parent]:
                where = f"under {a_kind(parent)}" if parent is not None else "at the top"
                raise self.fail(node, f"{a_kind(kind)} cannot sit {where} "
                                      f"({a_kind(kind)} sits {placement(kind)})")
            return kind
        if name == "name":
            return self.text(node, "name", UNIT_NAME_MAX)
        if name == "chat_id":
            if _is_null(node):
                return None
            chat_id = self.integer(node, "chat_id")
            if chat_id >= 0:
                raise self.fail(node, f"chat_id {chat_id} is not a group: group chat ids "
                                      "are negative numbers such as -1001234567890")
            if chat_id in self.chat_lines:
                raise self.fail(node, f"chat_id {chat_id} is bound twice "
                                      f"(first on line {self.chat_lines[chat_id]})")
            self.chat_lines[chat_id] = node.start_mark.line + 1
            return chat_id
        if _is_null(node):
            return None  # an optional field left empty
        if name == "language":
            return self.language(node)
        return self.timezone(node)

    def shifts(self, key_node: Node, value_node: Node, key: str, kind: UnitKind,
               timezone: str | None) -> Any:
        if kind is not UnitKind.TEAM:
            raise self.fail(key_node, f"only teams have shifts, not {a_kind(kind)}")
        data = self.plain(value_node)
        try:
            parse_schedule(data, timezone or self.default_timezone)
        except ScheduleError as exc:
            raise self.fail(key_node, f"shifts of {quote(key)}: {exc}") from exc
        return data

    def report_day(self, key_node: Node, value_node: Node, key: str, kind: UnitKind) -> int:
        if kind not in (UnitKind.ENTERPRISE, UnitKind.AUTHORITY):
            raise self.fail(key_node, f"only an enterprise sets its report_day, not "
                                      f"{a_kind(kind)} ({quote(key)})")
        value: Any = self.plain(value_node)
        try:
            return check_report_day(value)
        except ReportDayError as exc:
            raise self.fail(value_node, f"{exc} ({quote(key)})") from exc

    def person(self, node: Node) -> PersonSpec:
        fields = self.fields(node, "a person", PERSON_FIELDS)
        values: dict[str, Any] = {}
        for name in self.in_file_order(fields, "telegram_id", "name", "username", "language",
                                         "post"):
            values[name] = self.person_field(name, fields[name][1])
        for name in ("telegram_id", "name"):
            if name not in values:
                raise self.fail(node, f"a person needs a {quote(name)}")
        roles: list[RoleSpec] = []
        if "roles" in fields:
            lines: dict[RoleSpec, int] = {}
            for role_node in self.sequence(fields["roles"][1], "roles"):
                role = self.role(role_node)
                if role in lines:
                    raise self.fail(role_node, f"role {role.role.value} on {quote(role.unit)} "
                                               f"is listed twice (first on line {lines[role]})")
                lines[role] = role_node.start_mark.line + 1
                roles.append(role)
        return PersonSpec(telegram_id=values["telegram_id"], name=values["name"],
                          username=values.get("username"), language=values.get("language"),
                          roles=tuple(roles), post=values.get("post"))

    def person_field(self, name: str, node: Node) -> Any:
        if name == "telegram_id":
            telegram_id = self.integer(node, "telegram_id")
            if telegram_id <= 0:
                raise self.fail(node, f"telegram_id {telegram_id} is not a person: user ids "
                                      "are positive numbers")
            if telegram_id in self.person_lines:
                raise self.fail(node, f"telegram_id {telegram_id} is listed twice "
                                      f"(first on line {self.person_lines[telegram_id]})")
            self.person_lines[telegram_id] = node.start_mark.line + 1
            return telegram_id
        if name == "name":
            return self.text(node, "name", PERSON_NAME_MAX)
        if _is_null(node):
            return None  # an optional field left empty
        if name == "username":
            username = self.text(node, "username", 65).removeprefix("@")
            if not USERNAME_PATTERN.fullmatch(username):
                raise self.fail(node, f"username {quote(username)} must be letters, digits "
                                      "or \"_\" (the Telegram username, without @)")
            return username
        if name == "post":
            post = self.text(node, "post", 32)
            if not POST_PATTERN.fullmatch(post):
                raise self.fail(node, f"post {quote(post)} must be a key such as welder "
                                      "(lower-case letters, digits, \"-\" or \"_\")")
            return post
        return self.language(node)

    def role(self, node: Node) -> RoleSpec:
        fields = self.fields(node, "a role", ROLE_FIELDS)
        for name in ROLE_FIELDS:
            if name not in fields:
                raise self.fail(node, f"a role needs a {quote(name)}")
        role_node, unit_node = fields["role"][1], fields["unit"][1]
        role: Role | None = None
        unit = ""
        for name in self.in_file_order(fields, *ROLE_FIELDS):
            if name == "role":
                shown = self.text(role_node, "role", 64)
                try:
                    role = Role(shown)
                except ValueError as exc:
                    raise self.fail(role_node, f"unknown role {quote(shown)} "
                                               f"({one_of([r.value for r in Role])})") from exc
            else:
                unit = self.text(unit_node, "unit", 64)
                if unit not in self.unit_lines:
                    raise self.fail(unit_node, f"role on unknown unit {quote(unit)} "
                                               "(no unit of the file has this key)")
        assert role is not None
        return RoleSpec(unit=unit, role=role)


def parse_org(text: str, filename: str) -> OrgSpec:
    """Read an org file.

    A file laid out as documented (``people`` the last field) is read one person at
    a time with libyaml's parser, so a file of 100,000 people never exists as one
    tree of nodes; any other layout, and any file with a YAML error, is read whole
    with PyYAML's own loader. Both give the same result and the same first problem.

    Args:
        text: The file's content.
        filename: How to name the file in errors.

    Returns:
        The organisation, checked against every rule of the format.

    Raises:
        OrgFileError: The first problem, with the file name and line.
    """
    people = _PeopleStream(filename)
    try:
        root, streamed = stream_mapping(text, "people", ready=people.ready,
                                        begin=people.begin, item=people.item)
    except NotStreamable:
        return _Reader(filename).org(_compose(text, filename))
    return people.spec() if streamed else _Reader(filename).org(root)


class _PeopleStream:
    """Reads the people as the parser reaches them, after the top fields and units.

    The first problem is kept, not raised: the rest of the file is still parsed,
    because a YAML error further down is what reading the whole file reports first.
    """

    def __init__(self, filename: str) -> None:
        self.reader = _Reader(filename)
        self.head: _Head | None = None
        self.people: list[PersonSpec] = []
        self.problem: OrgFileError | None = None

    @staticmethod
    def ready(root: MappingNode) -> bool:
        # A merge key at the top could bring in fields from anywhere: read whole.
        return not any(key.tag == _MERGE_TAG for key, _ in root.value)

    def begin(self, root: MappingNode) -> None:
        try:
            self.head = self.reader.head(root)
        except OrgFileError as exc:
            self.problem = exc

    def item(self, node: Node) -> None:
        if self.problem is None:
            try:
                self.people.append(self.reader.person(node))
            except OrgFileError as exc:
                self.problem = exc

    def spec(self) -> OrgSpec:
        if self.problem is not None:
            raise self.problem
        assert self.head is not None
        return self.head.spec(tuple(self.people))


def _compose(text: str, filename: str) -> Node:
    """The whole document as nodes, read by PyYAML's own loader (its error messages)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or str(exc)
        if exc.context:
            # The context often points at the real culprit (an unclosed bracket).
            where = exc.context_mark
            started = f" (line {where.line + 1})" if where is not None else ""
            problem = f"{exc.context}{started} {problem}"
        raise OrgFileError(filename, line, f"not valid YAML: {problem}") from exc
    except yaml.reader.ReaderError as exc:  # a character YAML refuses; only a position
        line = text[:exc.position].count("\n") + 1
        raise OrgFileError(filename, line, f"not valid YAML: {exc.reason}") from exc
    except yaml.YAMLError as exc:
        raise OrgFileError(filename, 1, f"not valid YAML: {exc}") from exc
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        raise OrgFileError(filename, 1, "the file is empty")
    return root


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, as the documented format does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _Flow(dict[str, Any]):
    """A mapping written on one line: ``{unit: team-a, role: team_leader}``."""


class _FlowList(list[Any]):
    """A list written on one line: ``[100001, 100002]``."""


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


def _represent_flow_list(dumper: yaml.SafeDumper, data: _FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)


_Dumper.add_representer(_Flow, _represent_flow)
_Dumper.add_representer(_FlowList, _represent_flow_list)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def _compact(value: Any, in_list: bool = False) -> Any:
    """Raw data laid out as people write it: short lists and list items on one line."""
    if isinstance(value, list):
        items = [_compact(item, in_list=True) for item in value]
        return _FlowList(items) if all(map(_is_scalar, items)) else items
    if isinstance(value, Mapping):
        data = {str(k): _compact(v) for k, v in value.items()}
        flat = all(_is_scalar(v) or isinstance(v, _FlowList) for v in data.values())
        return _Flow(data) if in_list and flat else data
    return value


def _unit_data(unit: UnitSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"key": unit.key, "kind": UnitKind(unit.kind).value,
                            "name": unit.name}
    for name in ("chat_id", "language", "timezone"):
        value = getattr(unit, name)
        if value is not None:
            data[name] = value
    data.update({name: _compact(unit.extra[name]) for name in sorted(unit.extra)})
    if unit.children:
        data["children"] = [_unit_data(child) for child in unit.children]
    return data


def _person_data(person: PersonSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"telegram_id": person.telegram_id, "name": person.name}
    if person.username:
        data["username"] = person.username
    if person.language:
        data["language"] = person.language
    if person.post:
        data["post"] = person.post
    if person.roles:
        data["roles"] = [_Flow(unit=r.unit, role=Role(r.role).value) for r in person.roles]
    return data


def dump_org(spec: OrgSpec) -> str:
    """Write ``spec`` as an org file that :func:`parse_org` reads back unchanged.

    Fields come in the documented order, optional ones only when set; the
    output depends on nothing but ``spec``, so exporting twice gives the same text.

    Args:
        spec: The organisation.

    Returns:
        The YAML text, with Chinese and other non-ASCII text left readable.
    """
    data: dict[str, Any] = {"version": spec.version, "timezone": spec.timezone,
                            "language": spec.language}
    if spec.admins:
        data["admins"] = _FlowList(spec.admins)
    data["units"] = [_unit_data(unit) for unit in spec.units]
    if spec.people:
        data["people"] = [_person_data(person) for person in spec.people]
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=4096)
