"""Units, the group chats bound to them, roles and memberships (one import for all).

The rows live in three modules along their seams: ``storage/units.py`` (the tree),
``storage/groups.py`` (group chats and who is in them) and ``storage/grants.py``
(roles and where to tell their holders). The rule of who can be told is policy:
``domain/reach.py``. This module re-exports them for callers that still say
``org_repo.…``.
"""

from __future__ import annotations

from domain.reach import Recipients, reachable, unit_language
from storage.grants import (
    grant_role,
    grants_of,
    nearest_recipients_above,
    parent_recipients,
    revoke_role,
    role_holders,
    role_rows_of,
)
from storage.groups import (
    active_member_ids,
    active_members,
    bind_chat,
    chat_of_unit,
    deactivate_chat,
    get_group_chat,
    groups_of_person,
    has_had_members,
    inactive_chat_ids,
    memberships,
    migrate_chat,
    record_membership,
    upsert_group_chat,
)
from storage.units import (
    all_units,
    ancestors,
    create_unit,
    get_unit,
    get_unit_by_key,
    subtree,
    teams_with_groups,
    unbound_teams,
    units_of_kind,
)

__all__ = [
    "Recipients",
    "active_member_ids",
    "active_members",
    "all_units",
    "ancestors",
    "bind_chat",
    "chat_of_unit",
    "create_unit",
    "deactivate_chat",
    "get_group_chat",
    "get_unit",
    "get_unit_by_key",
    "grant_role",
    "grants_of",
    "groups_of_person",
    "has_had_members",
    "inactive_chat_ids",
    "memberships",
    "migrate_chat",
    "nearest_recipients_above",
    "parent_recipients",
    "reachable",
    "record_membership",
    "revoke_role",
    "role_holders",
    "role_rows_of",
    "subtree",
    "teams_with_groups",
    "unbound_teams",
    "unit_language",
    "units_of_kind",
    "upsert_group_chat",
]
