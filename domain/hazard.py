"""The hazard closed loop (隐患闭环): states, actions, and who may take them.

reported → acknowledged → rectifying → rectified → verified → closed, with
rejected (not a hazard, reason required) and reopened (verification failed;
the escalation clock restarts). Nothing here touches storage: callers pass the
current state and who is acting, and get back the next state or a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.org import Role, role_rank


class Severity(StrEnum):
    """一般 general / 较大 serious / 重大 major."""

    GENERAL = "general"
    SERIOUS = "serious"
    MAJOR = "major"


class HazardState(StrEnum):
    """Where a hazard is in its closed loop."""

    REPORTED = "reported"
    ACKNOWLEDGED = "acknowledged"
    RECTIFYING = "rectifying"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


class HazardAction(StrEnum):
    """What someone can do to a hazard."""

    ACKNOWLEDGE = "ack"
    START = "start"
    SUBMIT_FIX = "fix"
    VERIFY = "verify"
    REOPEN = "reopen"
    CLOSE = "close"
    REJECT = "reject"
    HAND_UP = "handup"  # cannot fix at this level: the next unit up takes it


class EventKind(StrEnum):
    """What one line of a hazard's history records (``hazard_event.action``)."""

    REPORTED = "reported"
    DUPLICATE_REPORT = "duplicate_report"  # the same photo reported again
    ACKNOWLEDGED = "acknowledged"
    FIVE_IN_PLACE = "five_in_place"  # 五落实: responsible, measures, funds, deadline, plan
    RECTIFYING = "rectifying"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    REOPENED = "reopened"
    CLOSED = "closed"
    REJECTED = "rejected"
    HANDED_UP = "handed_up"
    ESCALATED = "escalated"
    ESCALATION_SKIPPED = "escalation_skipped"  # no unit of that level above the team


OPEN_STATES = frozenset({HazardState.REPORTED, HazardState.ACKNOWLEDGED,
                         HazardState.RECTIFYING, HazardState.RECTIFIED,
                         HazardState.REOPENED})

TRANSITIONS: dict[tuple[HazardState, HazardAction], HazardState] = {
    (HazardState.REPORTED, HazardAction.ACKNOWLEDGE): HazardState.ACKNOWLEDGED,
    (HazardState.REOPENED, HazardAction.ACKNOWLEDGE): HazardState.ACKNOWLEDGED,
    (HazardState.ACKNOWLEDGED, HazardAction.START): HazardState.RECTIFYING,
    (HazardState.REOPENED, HazardAction.START): HazardState.RECTIFYING,
    (HazardState.ACKNOWLEDGED, HazardAction.SUBMIT_FIX): HazardState.RECTIFIED,
    (HazardState.RECTIFYING, HazardAction.SUBMIT_FIX): HazardState.RECTIFIED,
    (HazardState.REOPENED, HazardAction.SUBMIT_FIX): HazardState.RECTIFIED,
    (HazardState.RECTIFIED, HazardAction.VERIFY): HazardState.VERIFIED,
    (HazardState.RECTIFIED, HazardAction.REOPEN): HazardState.REOPENED,
    (HazardState.VERIFIED, HazardAction.CLOSE): HazardState.CLOSED,
    (HazardState.REPORTED, HazardAction.REJECT): HazardState.REJECTED,
    (HazardState.ACKNOWLEDGED, HazardAction.REJECT): HazardState.REJECTED,
    (HazardState.REOPENED, HazardAction.REJECT): HazardState.REJECTED,
}
# Handing up keeps the state; it is allowed while the hazard is open and not yet fixed.
HAND_UP_STATES = frozenset({HazardState.REPORTED, HazardState.ACKNOWLEDGED,
                            HazardState.RECTIFYING, HazardState.REOPENED})


@dataclass(frozen=True)
class Actor:
    """Who is acting on a hazard, as plain facts.

    Attributes:
        person_id: The acting person.
        role: Their strongest role over the hazard's unit (None: no role there).
        is_member: Whether they belong to the hazard's team.
        is_bot_admin: Bot admins may do what leaders and officers may.
    """

    person_id: int
    role: Role | None
    is_member: bool = False
    is_bot_admin: bool = False

    def at_least(self, role: Role) -> bool:
        """Whether the actor holds ``role`` or stronger over the hazard's unit."""
        if self.is_bot_admin:
            return True
        return self.role is not None and role_rank(self.role) >= role_rank(role)


@dataclass(frozen=True)
class HazardFacts:
    """What the rules need to know about one hazard."""

    state: HazardState
    reporter_id: int
    responsible_id: int | None = None
    fixer_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """The answer to "may this actor do this now?"."""

    allowed: bool
    next_state: HazardState | None = None
    refusal: str | None = None  # a catalog key explaining why not


def decide(action: HazardAction, hazard: HazardFacts, actor: Actor) -> Decision:
    """Whether ``actor`` may take ``action`` on ``hazard`` now, and where it leads.

    Refusals are catalog keys (``hazard.refused.*``) so the edge can say why in
    the user's language: the state moved on, or the role is missing.
    """
    if action is HazardAction.HAND_UP:
        if hazard.state not in HAND_UP_STATES:
            return Decision(False, refusal="hazard.refused.state")
        if not actor.at_least(Role.TEAM_LEADER):
            return Decision(False, refusal="hazard.refused.leader_only")
        return Decision(True, hazard.state)
    target = TRANSITIONS.get((hazard.state, action))
    if target is None:
        return Decision(False, refusal="hazard.refused.state")
    refusal = rights_refusal(action, hazard, actor)
    if refusal is not None:
        return Decision(False, refusal=refusal)
    return Decision(True, target)


def rights_refusal(action: HazardAction, hazard: HazardFacts, actor: Actor) -> str | None:
    """Why ``actor`` may never take ``action`` on this hazard (a missing role), or None.

    Checked before the state where both could refuse: someone without the right is
    told so, not that somebody else was quicker.
    """
    if action in (HazardAction.ACKNOWLEDGE, HazardAction.REJECT, HazardAction.CLOSE):
        return None if actor.at_least(Role.TEAM_LEADER) else "hazard.refused.leader_only"
    if action in (HazardAction.START, HazardAction.SUBMIT_FIX):
        if actor.person_id == hazard.responsible_id or actor.at_least(Role.TEAM_LEADER):
            return None
        return "hazard.refused.responsible_only"
    # VERIFY / REOPEN: the reporter or a safety officer — never the one who fixed it.
    if actor.person_id == hazard.fixer_id and not actor.is_bot_admin:
        return "hazard.refused.own_fix"
    if actor.person_id == hazard.reporter_id or actor.at_least(Role.SAFETY_OFFICER):
        return None
    return "hazard.refused.verifier_only"


def hazard_code(day: str, sequence: int) -> str:
    """The human code of a hazard, e.g. ``YH-20261122-0007`` (day as ``YYYYMMDD``)."""
    return f"YH-{day}-{sequence:04d}"


# Points for the reporter once a hazard is verified: the worse the hazard, the more it counts.
POINTS: dict[Severity, int] = {Severity.GENERAL: 1, Severity.SERIOUS: 3, Severity.MAJOR: 5}
