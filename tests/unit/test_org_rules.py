"""Who may do what in the organisation tree."""

from __future__ import annotations

from domain.org import (
    Grant,
    Role,
    UnitKind,
    child_path,
    has_role_over,
    is_within,
    may_bind_group,
    may_contain,
    may_grant,
    parse_role,
    path_ids,
)

ENTERPRISE, WORKSHOP, TEAM_A, TEAM_B = "/1/", "/1/2/", "/1/2/3/", "/1/2/4/"


def test_paths_walk_the_tree_without_queries() -> None:
    assert child_path(None, 1) == "/1/"
    assert child_path("/1/2/", 3) == TEAM_A
    assert path_ids(TEAM_A) == [1, 2, 3]
    assert is_within(TEAM_A, WORKSHOP)
    assert not is_within(TEAM_B, TEAM_A)
    # "/1/2/3/" must not count as inside "/1/2/33/" or vice versa
    assert not is_within("/1/2/33/", TEAM_A)


def test_kinds_nest_in_order() -> None:
    assert may_contain(None, UnitKind.ENTERPRISE)
    assert may_contain(UnitKind.WORKSHOP, UnitKind.TEAM)
    assert not may_contain(UnitKind.ENTERPRISE, UnitKind.TEAM)
    assert not may_contain(UnitKind.TEAM, UnitKind.TEAM)


def test_authority_flows_down_not_sideways() -> None:
    officer = [Grant(Role.SAFETY_OFFICER, 2, WORKSHOP)]
    leader_a = [Grant(Role.TEAM_LEADER, 3, TEAM_A)]
    assert has_role_over(officer, TEAM_A, Role.TEAM_LEADER)
    assert has_role_over(leader_a, TEAM_A, Role.TEAM_LEADER)
    assert not has_role_over(leader_a, TEAM_B, Role.WORKER)
    assert not has_role_over(leader_a, WORKSHOP, Role.TEAM_LEADER)
    assert has_role_over([], TEAM_B, Role.MANAGER, is_bot_admin=True)


def test_granting_roles() -> None:
    leader_a = [Grant(Role.TEAM_LEADER, 3, TEAM_A)]
    worker_a = [Grant(Role.WORKER, 3, TEAM_A)]
    manager = [Grant(Role.MANAGER, 1, ENTERPRISE)]
    assert may_grant(leader_a, TEAM_A, Role.WORKER)
    assert may_grant(leader_a, TEAM_A, Role.TEAM_LEADER)
    assert not may_grant(leader_a, TEAM_A, Role.SAFETY_OFFICER)  # above their own rank
    assert not may_grant(leader_a, TEAM_B, Role.WORKER)  # another team
    assert not may_grant(worker_a, TEAM_A, Role.WORKER)  # workers give nothing
    assert may_grant(manager, TEAM_B, Role.SAFETY_OFFICER)
    assert not may_grant(manager, TEAM_B, Role.ADMIN)  # only bot admins make admins
    assert may_grant([], TEAM_B, Role.ADMIN, is_bot_admin=True)



def test_binding_a_group_needs_a_role_over_the_unit() -> None:
    officer = [Grant(Role.SAFETY_OFFICER, 2, WORKSHOP)]
    manager = [Grant(Role.MANAGER, 1, ENTERPRISE)]
    leader_a = [Grant(Role.TEAM_LEADER, 3, TEAM_A)]
    worker_a = [Grant(Role.WORKER, 3, TEAM_A)]
    for grants in (officer, manager):
        assert may_bind_group(grants, TEAM_B, 4, new_team=False)
        assert may_bind_group(grants, WORKSHOP, 2, new_team=True)
    assert may_bind_group(leader_a, TEAM_A, 3, new_team=False)  # his own team
    assert not may_bind_group(leader_a, TEAM_B, 4, new_team=False)  # not another
    assert not may_bind_group(leader_a, WORKSHOP, 2, new_team=True)  # nor a new one
    assert not may_bind_group(worker_a, TEAM_A, 3, new_team=False)
    assert not may_bind_group([], TEAM_A, 3, new_team=False)
    assert not may_bind_group(officer, ENTERPRISE, 1, new_team=True)  # not above his unit
    assert may_bind_group([], WORKSHOP, 2, new_team=True, is_bot_admin=True)

def test_roles_are_understood_in_both_languages() -> None:
    assert parse_role("班组长") is Role.TEAM_LEADER
    assert parse_role("Leader") is Role.TEAM_LEADER
    assert parse_role("安全员") is Role.SAFETY_OFFICER
    assert parse_role("boss") is None
