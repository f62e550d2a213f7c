"""Escalation up the organisation when a hazard's deadline is missed.

The policy (``content/escalation.yaml``) gives per severity the time to
acknowledge, the default time to rectify, and the levels above the team that
are alerted after a missed deadline, each with a delay and a repeat interval.

:func:`escalate_due` is pure: given the deadline, what was alerted so far and
"now", it says which levels to alert now and when to look again. A hazard
stores only ``alerted_level``, ``last_alert_at`` and ``next_escalation_at``, so
a restart neither loses nor repeats an alert: levels that fell due while the
bot was down are alerted once at start-up; missed repeats are not replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

from domain.durations import parse_duration
from domain.hazard import Severity
from domain.org import UnitKind

ESCALATION_UNITS = (UnitKind.WORKSHOP, UnitKind.ENTERPRISE, UnitKind.AUTHORITY)


class PolicyError(ValueError):
    """A problem in the escalation policy file."""


@dataclass(frozen=True)
class Level:
    """One step up: which unit's role holders are alerted, when, how often."""

    unit: UnitKind
    after: timedelta
    repeat: timedelta | None


@dataclass(frozen=True)
class SeverityPolicy:
    """The timetable for one severity."""

    acknowledge_within: timedelta
    rectify_within: timedelta
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    """The timetable for every severity."""

    by_severity: Mapping[Severity, SeverityPolicy]

    def for_severity(self, severity: Severity) -> SeverityPolicy:
        """The policy of one severity."""
        return self.by_severity[severity]


@dataclass(frozen=True)
class EscalationStep:
    """What a sweep must do for one hazard now.

    Attributes:
        alert_levels: Level indexes to alert now, lowest first (may be empty).
        alerted_level: The highest level alerted after this step (-1: none yet).
        last_alert_at: When the last alert went out after this step.
        next_at: When to look at this hazard again (None: nothing more to do).
    """

    alert_levels: tuple[int, ...]
    alerted_level: int
    last_alert_at: datetime | None
    next_at: datetime | None


def parse_policy(text: str, filename: str) -> EscalationPolicy:
    """Read the policy file; every severity must be present.

    Raises:
        PolicyError: naming the file and the problem.
    """
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of 5,000 digits
        raise PolicyError(f"{filename}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{filename}: expected a mapping of severity to policy")
    policies: dict[Severity, SeverityPolicy] = {}
    for severity in Severity:
        if severity.value not in data:
            raise PolicyError(f"{filename}: no policy for severity {severity.value!r}")
        policies[severity] = _severity(data[severity.value], f"{filename}: {severity.value}")
    unknown = set(data) - {s.value for s in Severity}
    if unknown:
        raise PolicyError(f"{filename}: unknown severities {sorted(unknown)}")
    return EscalationPolicy(policies)


def _severity(data: Any, where: str) -> SeverityPolicy:
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: expected acknowledge_within, rectify_within, levels")
    try:
        ack = parse_duration(data["acknowledge_within"])
        rectify = parse_duration(data["rectify_within"])
        levels = []
        previous_after = timedelta(-1)
        for raw in data["levels"]:
            level = Level(unit=UnitKind(raw["unit"]), after=_delay(raw.get("after", "0s")),
                          repeat=parse_duration(raw["repeat"]) if raw.get("repeat") else None)
            if level.unit not in ESCALATION_UNITS:
                raise PolicyError(f"{where}: levels go above the team, not to {level.unit}")
            if level.after <= previous_after:
                raise PolicyError(f"{where}: each level must come after the one before")
            previous_after = level.after
            levels.append(level)
    except (KeyError, TypeError) as exc:
        raise PolicyError(f"{where}: missing or malformed field {exc}") from exc
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from exc
    if not levels:
        raise PolicyError(f"{where}: at least one level is needed")
    return SeverityPolicy(ack, rectify, tuple(levels))


def _delay(value: Any) -> timedelta:
    return timedelta(0) if value in (0, "0", "0s") else parse_duration(value)


def escalate_due(policy: SeverityPolicy, deadline: datetime, *, alerted_level: int,
                 last_alert_at: datetime | None, now: datetime) -> EscalationStep:
    """Which levels to alert at ``now`` for a hazard whose ``deadline`` may have passed.

    Args:
        policy: The hazard's severity policy.
        deadline: The acknowledgement or rectification deadline being watched.
        alerted_level: The highest level already alerted for this deadline (-1: none).
        last_alert_at: When the last alert for this deadline went out.
        now: The clock's time.
    """
    levels = policy.levels
    reached = -1
    for index, level in enumerate(levels):
        if deadline + level.after <= now:
            reached = index
    alert: tuple[int, ...] = tuple(range(alerted_level + 1, reached + 1))
    if not alert and reached >= 0 and reached == alerted_level:
        repeat = levels[reached].repeat
        if repeat is not None and last_alert_at is not None and last_alert_at + repeat <= now:
            alert = (reached,)
    last = now if alert else last_alert_at
    top = max(alerted_level, reached)
    candidates = []
    if top + 1 < len(levels):
        candidates.append(deadline + levels[top + 1].after)
    top_repeat = levels[top].repeat if top >= 0 else None
    if top_repeat is not None and last is not None:
        candidates.append(last + top_repeat)
    return EscalationStep(alert_levels=alert, alerted_level=top, last_alert_at=last,
                          next_at=min(candidates) if candidates else None)
