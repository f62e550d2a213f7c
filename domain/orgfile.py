"""The organisation file's content as plain values, and the words of its rules.

The file format itself (YAML with line-precise errors, and writing it back) is
``services/orgfile.py``; storage/orgsync.py applies a parsed file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.org import CHILD_KINDS, Role, UnitKind

FORMAT_VERSION = 1
DEFAULT_TIMEZONE = "Asia/Shanghai"
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,64}")
# A post (岗位) key: the name of its card file in content/post_cards (welder, electrician…).
POST_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
UNIT_NAME_MAX = 100
# Telegram allows 64 characters of first name and 64 of last name; the person
# table holds 128, and a name learned in chat must survive export → import.
PERSON_NAME_MAX = 128
# Kept as written, for the features that read them.
RAW_UNIT_SECTIONS = frozenset({"shifts", "report_day", "quiz_time"})

TOP_FIELDS = ("version", "timezone", "language", "admins", "units", "people")
UNIT_FIELDS = ("key", "kind", "name", "chat_id", "language", "timezone", "children")
PERSON_FIELDS = ("telegram_id", "name", "username", "language", "post", "roles")
ROLE_FIELDS = ("unit", "role")


class OrgFileError(Exception):
    """A problem in an org file, with the file name and the line it is on.

    Attributes:
        filename: The file as named by the caller.
        line: 1-based line of the offending field.
        problem: What is wrong, in words for the admin.
    """

    def __init__(self, filename: str, line: int, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {problem}")
        self.filename, self.line, self.problem = filename, line, problem


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A role on a unit, by the unit's key."""

    unit: str
    role: Role


@dataclass(frozen=True, slots=True)
class PersonSpec:
    """A person and their roles."""

    telegram_id: int
    name: str
    username: str | None = None
    language: str | None = None
    roles: tuple[RoleSpec, ...] = ()
    post: str | None = None  # the post (岗位) whose risk cards apply


@dataclass(frozen=True, slots=True)
class UnitSpec:
    """A unit of the tree with its children.

    ``extra`` holds the raw sections kept for later features (``shifts``), as
    JSON-compatible data (dates as ISO strings) because storage keeps them as JSON.
    """

    key: str
    kind: UnitKind
    name: str
    chat_id: int | None = None
    language: str | None = None
    timezone: str | None = None
    children: tuple[UnitSpec, ...] = ()
    # Not hashed: a dict isn't hashable, and units are told apart by key anyway.
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class OrgSpec:
    """A whole org file; ``units`` are the roots of the tree."""

    version: int
    timezone: str
    language: str
    admins: tuple[int, ...]
    units: tuple[UnitSpec, ...]
    people: tuple[PersonSpec, ...]


def iter_units(spec: OrgSpec) -> Iterator[tuple[UnitSpec, UnitSpec | None]]:
    """Yield every unit with its parent, parents first (pre-order).

    Args:
        spec: A parsed org file.

    Yields:
        ``(unit, parent)``, the parent being ``None`` for a root.
    """
    stack: list[tuple[UnitSpec, UnitSpec | None]] = [(u, None) for u in reversed(spec.units)]
    while stack:
        unit, parent = stack.pop()
        yield unit, parent
        stack.extend((child, unit) for child in reversed(unit.children))


def quote(value: object) -> str:
    """Show a value as the admin wrote it, in double quotes."""
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def one_of(values: list[str]) -> str:
    """The choices an admin may write, in words."""
    return f"expected one of {', '.join(values)}"


def placement(kind: UnitKind) -> str:
    """Where a unit of ``kind`` may sit, in words ("under a workshop")."""
    places = ["at the top" if parent is None else f"under {a_kind(parent)}"
              for parent, kinds in CHILD_KINDS.items() if kind in kinds]
    return " or ".join(places)


def a_kind(kind: UnitKind) -> str:
    """The kind with its article ("an enterprise", "a team")."""
    return f"{'an' if kind.value[0] in 'aeiou' else 'a'} {kind.value}"
