"""Suggestions (金点子): who reviews an idea, and what adopting it is worth.

An idea starts at the proposer's team. The team's leaders (or anyone above them)
adopt it with points to the proposer, decline it with a reason, or pass it up to
the unit above, whose safety officers and managers then review it. A worker never
decides, and nobody decides on their own idea.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from domain.org import Grant, Role, UnitKind, has_role_over

# The points a reviewer may give: small, medium, large. A button with any other
# number is forged.
POINT_CHOICES = (1, 3, 5)
MAX_IDEA = 1000
MAX_REASON = 500


class IdeaState(StrEnum):
    """Where an idea is."""

    SUBMITTED = "submitted"  # waiting for a reviewer at ``reviewing_unit``
    ADOPTED = "adopted"
    DECLINED = "declined"


def reviewer_role(kind: UnitKind | str) -> Role:
    """The least role that reviews ideas at a unit of this kind: a team's leader at
    the team, a safety officer above it."""
    return Role.TEAM_LEADER if UnitKind(kind) is UnitKind.TEAM else Role.SAFETY_OFFICER


def may_review(grants: Iterable[Grant], unit_path: str, kind: UnitKind | str, *,
               is_bot_admin: bool = False) -> bool:
    """Whether someone may adopt, decline or pass up an idea waiting at this unit."""
    return has_role_over(list(grants), unit_path, reviewer_role(kind),
                         is_bot_admin=is_bot_admin)
