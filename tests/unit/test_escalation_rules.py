"""The escalation timetable: levels in order, repeats, catch-up after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.escalation import PolicyError, escalate_due, parse_policy
from domain.hazard import Severity
from domain.org import UnitKind

POLICY_FILE = Path(__file__).resolve().parents[2] / "content" / "escalation.yaml"
D = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # the missed deadline
H = timedelta(hours=1)


@pytest.fixture
def major():  # type: ignore[no-untyped-def]
    return parse_policy(POLICY_FILE.read_text(encoding="utf-8"), "escalation.yaml") \
        .for_severity(Severity.MAJOR)


def test_the_shipped_policy(major) -> None:  # type: ignore[no-untyped-def]
    assert major.acknowledge_within == timedelta(minutes=30)
    assert [lv.unit for lv in major.levels] == [UnitKind.WORKSHOP, UnitKind.ENTERPRISE,
                                                UnitKind.AUTHORITY]


def test_levels_in_order_with_repeats(major) -> None:  # type: ignore[no-untyped-def]
    before = escalate_due(major, D, alerted_level=-1, last_alert_at=None, now=D - H)
    assert before.alert_levels == () and before.next_at == D
    first = escalate_due(major, D, alerted_level=-1, last_alert_at=None, now=D)
    assert first.alert_levels == (0,) and first.next_at == D + H  # enterprise after 1h
    second = escalate_due(major, D, alerted_level=0, last_alert_at=D, now=D + H)
    assert second.alert_levels == (1,) and second.next_at == D + 3 * H  # repeat in 2h
    repeat = escalate_due(major, D, alerted_level=1, last_alert_at=D + H, now=D + 3 * H)
    assert repeat.alert_levels == (1,) and repeat.next_at == D + 4 * H  # authority at 4h
    nothing = escalate_due(major, D, alerted_level=1, last_alert_at=D + 3 * H,
                           now=D + 3 * H + timedelta(minutes=5))
    assert nothing.alert_levels == ()


def test_catch_up_after_downtime_alerts_each_missed_level_once(major) -> None:  # type: ignore[no-untyped-def]
    step = escalate_due(major, D, alerted_level=-1, last_alert_at=None, now=D + 10 * H)
    assert step.alert_levels == (0, 1, 2)
    assert step.next_at == D + 14 * H  # the authority's repeat, not a replay of missed ones
    again = escalate_due(major, D, alerted_level=step.alerted_level,
                         last_alert_at=step.last_alert_at, now=D + 10 * H)
    assert again.alert_levels == ()  # the same sweep twice sends nothing twice


@pytest.mark.parametrize(("change", "message"), [
    (("major:", "huge:"), "no policy for severity 'major'"),
    (("acknowledge_within: 30m", "acknowledge_within: soon"), "not a duration"),
    (("{unit: authority, after: 4h", "{unit: authority, after: 30m"), "after the one before"),
    (("{unit: authority", "{unit: team"), "above the team"),
])
def test_bad_policies(change: tuple[str, str], message: str) -> None:
    text = POLICY_FILE.read_text(encoding="utf-8").replace(*change)
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, "p.yaml")
