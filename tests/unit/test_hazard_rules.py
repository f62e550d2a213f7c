"""The hazard closed loop: transitions and who may take them."""

from __future__ import annotations

import pytest

from domain.hazard import (
    Actor,
    HazardAction,
    HazardFacts,
    HazardState,
    decide,
    hazard_code,
)
from domain.org import Role

REPORTER, LEADER, FIXER, OFFICER, WORKER = 1, 2, 3, 4, 5
leader = Actor(LEADER, Role.TEAM_LEADER, is_member=True)
officer = Actor(OFFICER, Role.SAFETY_OFFICER)
worker = Actor(WORKER, Role.WORKER, is_member=True)
reporter = Actor(REPORTER, Role.WORKER, is_member=True)


def facts(state: HazardState, fixer: int | None = None) -> HazardFacts:
    return HazardFacts(state=state, reporter_id=REPORTER, responsible_id=FIXER, fixer_id=fixer)


def test_the_whole_loop() -> None:
    state = HazardState.REPORTED
    for action, actor in [(HazardAction.ACKNOWLEDGE, leader),
                          (HazardAction.START, Actor(FIXER, Role.WORKER)),
                          (HazardAction.SUBMIT_FIX, Actor(FIXER, Role.WORKER)),
                          (HazardAction.VERIFY, reporter),
                          (HazardAction.CLOSE, leader)]:
        decision = decide(action, facts(state, fixer=FIXER), actor)
        assert decision.allowed, (action, decision.refusal)
        assert decision.next_state is not None
        state = decision.next_state
    assert state is HazardState.CLOSED


def test_a_worker_cannot_acknowledge_reject_or_close() -> None:
    for action in (HazardAction.ACKNOWLEDGE, HazardAction.REJECT):
        assert decide(action, facts(HazardState.REPORTED), worker).refusal == \
            "hazard.refused.leader_only"
    assert not decide(HazardAction.CLOSE, facts(HazardState.VERIFIED), worker).allowed


def test_the_fixer_cannot_verify_their_own_fix_even_as_officer() -> None:
    fixer_officer = Actor(FIXER, Role.SAFETY_OFFICER)
    decision = decide(HazardAction.VERIFY, facts(HazardState.RECTIFIED, fixer=FIXER),
                      fixer_officer)
    assert decision.refusal == "hazard.refused.own_fix"
    assert decide(HazardAction.VERIFY, facts(HazardState.RECTIFIED, fixer=FIXER), officer).allowed
    assert decide(HazardAction.REOPEN, facts(HazardState.RECTIFIED, fixer=FIXER),
                  reporter).next_state is HazardState.REOPENED
    assert decide(HazardAction.VERIFY, facts(HazardState.RECTIFIED, fixer=FIXER),
                  worker).refusal == "hazard.refused.verifier_only"


@pytest.mark.parametrize("state", [HazardState.CLOSED, HazardState.REJECTED,
                                   HazardState.VERIFIED])
def test_a_stale_button_finds_the_state_moved_on(state: HazardState) -> None:
    assert decide(HazardAction.ACKNOWLEDGE, facts(state), leader).refusal == \
        "hazard.refused.state"
    assert decide(HazardAction.HAND_UP, facts(state), leader).refusal == "hazard.refused.state"


def test_reopened_goes_round_again_and_hand_up_is_for_leaders() -> None:
    assert decide(HazardAction.ACKNOWLEDGE, facts(HazardState.REOPENED),
                  leader).next_state is HazardState.ACKNOWLEDGED
    assert decide(HazardAction.HAND_UP, facts(HazardState.REPORTED), leader).allowed
    assert not decide(HazardAction.HAND_UP, facts(HazardState.REPORTED), worker).allowed
    assert decide(HazardAction.ACKNOWLEDGE, facts(HazardState.REPORTED),
                  Actor(9, None, is_bot_admin=True)).allowed


def test_codes() -> None:
    assert hazard_code("20261122", 7) == "YH-20261122-0007"
