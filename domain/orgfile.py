"""The organisation file (YAML): read with line-precise errors, written back the same way.

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
        roles:
          - {unit: team-synthesis-a, role: team_leader}

Kinds nest in order (authority → enterprise → workshop → team). A team may
have a ``shifts`` section (see :mod:`domain.shifts`); it is checked here and
kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.language import SUPPORTED_LANGUAGES
from domain.org import Role, UnitKind, may_contain
from domain.shifts import ScheduleError, parse_schedule

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RAW_UNIT_SECTIONS = frozenset({"shifts"})  # kept as-is for later features
_TOP_KEYS = ("version", "timezone", "language", "admins", "units", "people")
_UNIT_KEYS = ("key", "kind", "name", "chat_id", "language", "timezone", "children")
_PERSON_KEYS = ("telegram_id", "name", "username", "language", "roles")


class OrgFileError(Exception):
    """A problem in an org file, with the file name and the line it is on."""

    def __init__(self, filename: str, line: int, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {problem}")
        self.filename, self.line, self.problem = filename, line, problem


@dataclass(frozen=True)
class RoleSpec:
    """A role on a unit, by the unit's key."""

    unit: str
    role: Role


@dataclass(frozen=True)
class PersonSpec:
    """A person and their roles."""

    telegram_id: int
    name: str
    username: str | None = None
    language: str | None = None
    roles: tuple[RoleSpec, ...] = ()


@dataclass(frozen=True)
class UnitSpec:
    """A unit of the tree with its children."""

    key: str
    kind: UnitKind
    name: str
    chat_id: int | None = None
    language: str | None = None
    timezone: str | None = None
    children: tuple[UnitSpec, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrgSpec:
    """A whole org file."""

    version: int
    timezone: str
    language: str
    admins: tuple[int, ...]
    units: tuple[UnitSpec, ...]
    people: tuple[PersonSpec, ...]


def iter_units(spec: OrgSpec) -> Iterator[tuple[UnitSpec, UnitSpec | None]]:
    """Every unit with its parent, parents first (pre-order)."""

    Pair = tuple[UnitSpec, UnitSpec | None]

    def walk(unit: UnitSpec, parent: UnitSpec | None) -> Iterator[Pair]:
        yield unit, parent
        for child in unit.children:
            yield from walk(child, unit)

    for root in spec.units:
        yield from walk(root, None)


class _Reader:
    """Walks composed YAML nodes, so every problem can name its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._constructor = yaml.SafeLoader("")
        self.unit_keys: dict[str, int] = {}
        self.chat_ids: dict[int, int] = {}
        self.person_ids: dict[int, int] = {}
        self.default_timezone = "Asia/Shanghai"

    def fail(self, node: Node, problem: str) -> OrgFileError:
        return OrgFileError(self.filename, node.start_mark.line + 1, problem)

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...],
                raw: frozenset[str] = frozenset()) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping of fields")
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"field names must be text in {what}")
            if key in found:
                raise self.fail(key_node, f"field {key!r} appears twice in {what}")
            if key not in allowed and key not in raw:
                raise self.fail(key_node, f"unknown field {key!r} in {what} "
                                          f"(expected one of {', '.join(allowed)})")
            found[key] = (key_node, value_node)
        return found

    def sequence(self, node: Node, what: str) -> list[Node]:
        if isinstance(node, ScalarNode) and self.scalar(node) is None:
            return []
        if not isinstance(node, SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def scalar(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise self.fail(node, "expected a single value here")
        return self._constructor.construct_object(node, deep=True)

    def raw(self, node: Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def text(self, fields: dict[str, tuple[Node, Node]], name: str, where: Node,
             what: str, *, required: bool = True, max_length: int = 100) -> str | None:
        if name not in fields:
            if required:
                raise self.fail(where, f"{what} needs a {name!r}")
            return None
        node = fields[name][1]
        value = self.scalar(node)
        if value is None and not required:
            return None
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise self.fail(node, f"{name!r} must be non-blank text")
        value = str(value).strip()
        if len(value) > max_length:
            raise self.fail(node, f"{name!r} is longer than {max_length} characters")
        return value

    def integer(self, fields: dict[str, tuple[Node, Node]], name: str, where: Node,
                what: str, *, required: bool) -> int | None:
        if name not in fields:
            if required:
                raise self.fail(where, f"{what} needs a {name!r}")
            return None
        node = fields[name][1]
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(node, f"{name!r} must be a whole number, not {value!r}")
        return value

    def language(self, fields: dict[str, tuple[Node, Node]]) -> str | None:
        if "language" not in fields:
            return None
        node = fields["language"][1]
        value = self.scalar(node)
        if value not in SUPPORTED_LANGUAGES:
            raise self.fail(node, f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}, "
                                  f"not {value!r}")
        return str(value)

    def timezone(self, fields: dict[str, tuple[Node, Node]]) -> str | None:
        if "timezone" not in fields:
            return None
        node = fields["timezone"][1]
        value = self.scalar(node)
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail(node, f"unknown timezone {value!r}") from exc
        return str(value)

    def unit(self, node: Node, parent: UnitKind | None) -> UnitSpec:
        fields = self.mapping(node, "a unit", _UNIT_KEYS, RAW_UNIT_SECTIONS)
        key = self.text(fields, "key", node, "a unit", max_length=64)
        assert key is not None
        key_node = fields["key"][1]
        if not KEY_PATTERN.match(key):
            raise self.fail(key_node, f"unit key {key!r} must be lower-case letters, digits, "
                                      "'-' or '_' (at most 64)")
        if key in self.unit_keys:
            raise self.fail(key_node, f"unit key {key!r} is used twice "
                                      f"(first on line {self.unit_keys[key]})")
        self.unit_keys[key] = key_node.start_mark.line + 1
        if "kind" not in fields:
            raise self.fail(node, f"unit {key!r} needs a 'kind'")
        kind_node = fields["kind"][1]
        kind_text = self.scalar(kind_node)
        try:
            kind = UnitKind(kind_text)
        except ValueError as exc:
            raise self.fail(kind_node, f"unknown kind {kind_text!r} (expected one of "
                                       f"{', '.join(k.value for k in UnitKind)})") from exc
        if not may_contain(parent, kind):
            where = f"under a {parent.value}" if parent else "at the top"
            raise self.fail(kind_node, f"a {kind.value} cannot sit {where}")
        name = self.text(fields, "name", node, f"unit {key!r}")
        assert name is not None
        chat_id = self.integer(fields, "chat_id", node, f"unit {key!r}", required=False)
        if chat_id is not None:
            chat_node = fields["chat_id"][1]
            if chat_id >= 0:
                raise self.fail(chat_node, "chat_id of a group is a negative number")
            if chat_id in self.chat_ids:
                raise self.fail(chat_node, f"chat_id {chat_id} is bound twice "
                                           f"(first on line {self.chat_ids[chat_id]})")
            self.chat_ids[chat_id] = chat_node.start_mark.line + 1
        children: list[UnitSpec] = []
        if "children" in fields:
            for child in self.sequence(fields["children"][1], f"children of {key!r}"):
                children.append(self.unit(child, kind))
        extra = {name: self.raw(fields[name][1]) for name in RAW_UNIT_SECTIONS if name in fields}
        timezone = self.timezone(fields)
        if "shifts" in extra:
            if kind is not UnitKind.TEAM:
                raise self.fail(fields["shifts"][0], f"only teams have shifts, not a {kind}")
            try:
                parse_schedule(extra["shifts"], timezone or self.default_timezone)
            except ScheduleError as exc:
                raise self.fail(fields["shifts"][0], f"shifts of {key!r}: {exc}") from exc
        return UnitSpec(key=key, kind=kind, name=name, chat_id=chat_id,
                        language=self.language(fields), timezone=timezone,
                        children=tuple(children), extra=extra)

    def person(self, node: Node) -> PersonSpec:
        fields = self.mapping(node, "a person", _PERSON_KEYS)
        telegram_id = self.integer(fields, "telegram_id", node, "a person", required=True)
        assert telegram_id is not None
        id_node = fields["telegram_id"][1]
        if telegram_id <= 0:
            raise self.fail(id_node, "telegram_id is a positive number")
        if telegram_id in self.person_ids:
            raise self.fail(id_node, f"telegram_id {telegram_id} is listed twice "
                                     f"(first on line {self.person_ids[telegram_id]})")
        self.person_ids[telegram_id] = id_node.start_mark.line + 1
        name = self.text(fields, "name", node, f"person {telegram_id}", max_length=128)
        assert name is not None
        username = self.text(fields, "username", node, "a person", required=False,
                             max_length=64)
        roles: list[RoleSpec] = []
        if "roles" in fields:
            for role_node in self.sequence(fields["roles"][1], "roles"):
                role_fields = self.mapping(role_node, "a role", ("unit", "role"))
                unit = self.text(role_fields, "unit", role_node, "a role", max_length=64)
                role_name = self.text(role_fields, "role", role_node, "a role", max_length=32)
                assert unit is not None and role_name is not None
                try:
                    role = Role(role_name)
                except ValueError as exc:
                    raise self.fail(role_fields["role"][1], f"unknown role {role_name!r} "
                                    f"(expected one of {', '.join(r.value for r in Role)})"
                                    ) from exc
                if unit not in self.unit_keys:
                    raise self.fail(role_fields["unit"][1], f"role on unknown unit {unit!r}")
                roles.append(RoleSpec(unit=unit, role=role))
        return PersonSpec(telegram_id=telegram_id, name=name,
                          username=username.lstrip("@") if username else None,
                          language=self.language(fields), roles=tuple(roles))


def parse_org(text: str, filename: str) -> OrgSpec:
    """Read an org file.

    Raises:
        OrgFileError: the first problem, with the file name and line.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise OrgFileError(filename, line, f"not valid YAML: {exc.problem or exc}") from exc
    if root is None:
        raise OrgFileError(filename, 1, "the file is empty")
    reader = _Reader(filename)
    fields = reader.mapping(root, "the org file", _TOP_KEYS)
    version = reader.integer(fields, "version", root, "the org file", required=True)
    if version != 1:
        raise reader.fail(fields["version"][1], f"unsupported version {version} (expected 1)")
    reader.default_timezone = reader.timezone(fields) or reader.default_timezone
    admins: list[int] = []
    if "admins" in fields:
        for node in reader.sequence(fields["admins"][1], "admins"):
            value = reader.scalar(node)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise reader.fail(node, f"admins are Telegram user ids, not {value!r}")
            admins.append(value)
    units = tuple(reader.unit(node, None)
                  for node in reader.sequence(fields["units"][1], "units")) \
        if "units" in fields else ()
    people = tuple(reader.person(node)
                   for node in reader.sequence(fields["people"][1], "people")) \
        if "people" in fields else ()
    return OrgSpec(version=1, timezone=reader.default_timezone,
                   language=reader.language(fields) or "zh", admins=tuple(admins),
                   units=units, people=people)


def _unit_data(unit: UnitSpec) -> dict[str, Any]:
    data: dict[str, Any] = {"key": unit.key, "kind": unit.kind.value, "name": unit.name}
    for name in ("chat_id", "language", "timezone"):
        value = getattr(unit, name)
        if value is not None:
            data[name] = value
    data.update(unit.extra)
    if unit.children:
        data["children"] = [_unit_data(child) for child in unit.children]
    return data


def dump_org(spec: OrgSpec) -> str:
    """Write ``spec`` as an org file that :func:`parse_org` reads back unchanged."""
    data: dict[str, Any] = {"version": spec.version, "timezone": spec.timezone,
                            "language": spec.language}
    if spec.admins:
        data["admins"] = list(spec.admins)
    data["units"] = [_unit_data(unit) for unit in spec.units]
    people = []
    for person in spec.people:
        entry: dict[str, Any] = {"telegram_id": person.telegram_id, "name": person.name}
        if person.username:
            entry["username"] = person.username
        if person.language:
            entry["language"] = person.language
        if person.roles:
            entry["roles"] = [{"unit": r.unit, "role": r.role.value} for r in person.roles]
        people.append(entry)
    if people:
        data["people"] = people
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)
