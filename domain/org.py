"""The organisation tree and who may do what in it.

Units form a tree: authority → enterprise → workshop → team. Each unit stores a
materialised path (``/1/4/9/``) so "everything below" and "everything above"
are one indexed prefix query or a split, never a recursive walk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    """Levels of the organisation, from the top down."""

    AUTHORITY = "authority"
    ENTERPRISE = "enterprise"
    WORKSHOP = "workshop"
    TEAM = "team"


class Role(StrEnum):
    """Roles people hold on units, from the least to the most authority."""

    WORKER = "worker"
    TEAM_LEADER = "team_leader"
    SAFETY_OFFICER = "safety_officer"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_RANK: dict[Role, int] = {role: rank for rank, role in enumerate(Role)}

# Which kinds may sit directly under which (None: at the top of the tree).
CHILD_KINDS: dict[UnitKind | None, frozenset[UnitKind]] = {
    None: frozenset({UnitKind.AUTHORITY, UnitKind.ENTERPRISE}),
    UnitKind.AUTHORITY: frozenset({UnitKind.ENTERPRISE}),
    UnitKind.ENTERPRISE: frozenset({UnitKind.WORKSHOP}),
    UnitKind.WORKSHOP: frozenset({UnitKind.TEAM}),
    UnitKind.TEAM: frozenset(),
}

# Words people type for roles in /role, in both languages.
ROLE_ALIASES: dict[str, Role] = {
    "worker": Role.WORKER, "员工": Role.WORKER, "工人": Role.WORKER, "组员": Role.WORKER,
    "leader": Role.TEAM_LEADER, "team_leader": Role.TEAM_LEADER, "班组长": Role.TEAM_LEADER,
    "班长": Role.TEAM_LEADER, "officer": Role.SAFETY_OFFICER,
    "safety_officer": Role.SAFETY_OFFICER, "安全员": Role.SAFETY_OFFICER,
    "车间主任": Role.SAFETY_OFFICER, "manager": Role.MANAGER, "负责人": Role.MANAGER,
    "经理": Role.MANAGER, "admin": Role.ADMIN, "管理员": Role.ADMIN,
}


def role_rank(role: Role | str) -> int:
    """Rank of a role: worker 0 … admin 4."""
    return ROLE_RANK[Role(role)]


def parse_role(text: str) -> Role | None:
    """Understand a role as typed by a person (English id or Chinese title)."""
    return ROLE_ALIASES.get(text.strip().lower().lstrip("#"))


def may_contain(parent: UnitKind | None, child: UnitKind) -> bool:
    """Tell whether a unit of kind ``child`` may sit directly under ``parent``."""
    return child in CHILD_KINDS[parent]


def child_path(parent_path: str | None, unit_id: int) -> str:
    """Materialised path of a unit given its parent's path (``None`` for a root)."""
    return f"{parent_path or '/'}{unit_id}/"


def path_ids(path: str) -> list[int]:
    """Unit ids on a path, from the root down to the unit itself."""
    return [int(part) for part in path.strip("/").split("/") if part]


def is_within(path: str, ancestor_path: str) -> bool:
    """Tell whether the unit at ``path`` is ``ancestor_path`` itself or below it."""
    return path.startswith(ancestor_path)


@dataclass(frozen=True)
class Grant:
    """A role held on a unit, as plain values."""

    role: Role
    unit_id: int
    unit_path: str


def highest_role_over(grants: Iterable[Grant], unit_path: str) -> Role | None:
    """The strongest role a person holds on ``unit_path`` or any unit above it."""
    best: Role | None = None
    for grant in grants:
        if is_within(unit_path, grant.unit_path) and (
            best is None or role_rank(grant.role) > role_rank(best)
        ):
            best = grant.role
    return best


def has_role_over(
    grants: Iterable[Grant], unit_path: str, minimum: Role, *, is_bot_admin: bool = False
) -> bool:
    """Tell whether someone holds at least ``minimum`` on the unit or above it.

    Authority flows down the tree: a workshop safety officer acts on every team
    of the workshop. Bot admins (from the settings or the org file) pass always.
    """
    if is_bot_admin:
        return True
    best = highest_role_over(grants, unit_path)
    return best is not None and role_rank(best) >= role_rank(minimum)


def leads_team(grants: Iterable[Grant], unit_id: int) -> bool:
    """Whether someone is a team leader of this very team.

    Stricter than :func:`has_role_over`: closing a team's pre-shift meeting or
    taking over its shift is the team's own leaders' act, not a workshop officer's
    or a bot admin's, even though they may act on the team's hazards.
    """
    return any(g.role == Role.TEAM_LEADER and g.unit_id == unit_id for g in grants)


def may_grant(
    grants: Iterable[Grant], unit_path: str, role: Role, *, is_bot_admin: bool = False
) -> bool:
    """Tell whether someone may give ``role`` on the unit at ``unit_path``.

    Team leaders and above may give roles in their own units and below, up to
    their own rank; workers may give nothing. Only bot admins create admins.
    """
    if is_bot_admin:
        return True
    if role is Role.ADMIN:
        return False
    best = highest_role_over(grants, unit_path)
    if best is None or role_rank(best) < role_rank(Role.TEAM_LEADER):
        return False
    return role_rank(role) <= role_rank(best)


def may_bind_group(grants: Iterable[Grant], unit_path: str, unit_id: int, *, new_team: bool,
                   is_bot_admin: bool = False) -> bool:
    """Tell whether someone may attach a group to a unit, or invite a group to it.

    Controlling a Telegram group proves nothing about the organisation, so binding
    needs a role over the unit: a safety officer, manager or admin at the unit or
    above it, or a bot admin. A team leader may bind their own team only
    (``new_team`` is False and ``unit_id`` is the team); creating a new team
    under ``unit_id`` (a workshop) is for officers and above.
    """
    if is_bot_admin:
        return True
    best = highest_role_over(grants, unit_path)
    if best is not None and role_rank(best) >= role_rank(Role.SAFETY_OFFICER):
        return True
    return not new_team and leads_team(grants, unit_id)
