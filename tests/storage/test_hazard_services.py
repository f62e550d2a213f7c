"""The hazard closed loop as services: called with plain values, no Telegram anywhere."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from content.hazards import escalation_policy
from content.render import Renderer
from domain.clock import ManualClock
from domain.hazard import Severity
from domain.org import Role, UnitKind
from services import escalation
from services import hazards as hazard_service
from services.base import Actor, Runtime
from services.hazard_steps import HazardStep, step_keyboard
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import Hazard, OutboxMessage

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
POLICY = escalation_policy().for_severity(Severity.GENERAL)


@dataclass
class Plant:
    """Two teams of one workshop, their people and one reported hazard of team A."""

    rt: Runtime
    clock: ManualClock
    hazard_id: int
    leader: Actor
    deputy: Actor  # a second leader of team A
    worker: Actor
    other_leader: Actor  # leads team B
    reporter: Actor
    officer: Actor  # the workshop's safety officer


async def _plant(db: Database) -> Plant:
    clock = ManualClock(T0)
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=T0)
        team_a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A",
                                            parent=ws, now=T0)
        team_b = await org_repo.create_unit(s, key="b", kind=UnitKind.TEAM, name="B",
                                            parent=ws, now=T0)
        actors: dict[str, Actor] = {}
        for telegram_id, (name, unit, role) in enumerate((
                ("leader", team_a, Role.TEAM_LEADER), ("deputy", team_a, Role.TEAM_LEADER),
                ("worker", team_a, Role.WORKER), ("other_leader", team_b, Role.TEAM_LEADER),
                ("reporter", team_a, Role.WORKER), ("officer", ws, Role.SAFETY_OFFICER)),
                start=100):
            person = await people_repo.upsert_person(s, telegram_id=telegram_id, name=name,
                                                     username=None, language_code="zh", now=T0)
            person.started = True  # may be told privately
            await org_repo.grant_role(s, person=person, unit=unit, role=role, now=T0)
            actors[name] = Actor(person.id or 0, telegram_id, name, "zh")
        hazard = await hazard_repo.create_hazard(
            s, unit_id=team_a.id or 0, reporter_id=actors["reporter"].person_id,
            severity=Severity.GENERAL, category="electrical", location_text="pump 3",
            latitude=None, longitude=None, description="loose cable", photos=[], now=T0,
            day="20261123", policy=POLICY)
        hazard_id = hazard.id or 0
    rt = Runtime(db=db, renderer=Renderer(), clock=clock)
    return Plant(rt, clock, hazard_id, **actors)


async def _hazard(plant: Plant) -> Hazard:
    async with plant.rt.db.session() as s:
        hazard = await hazard_repo.get_hazard(s, plant.hazard_id)
        assert hazard is not None
        return hazard


async def _events(plant: Plant) -> list[str]:
    async with plant.rt.db.session() as s:
        return [e.action for e in await hazard_repo.history(s, plant.hazard_id)]


async def test_a_leader_acknowledges_and_the_rectification_clock_starts(db: Database) -> None:
    plant = await _plant(db)
    plant.clock.advance(timedelta(minutes=5))
    outcome = await hazard_service.acknowledge(plant.rt, plant.leader, plant.hazard_id)
    assert outcome.ok and outcome.key == "hazard.acknowledged", outcome
    assert outcome.values["leader"] == "leader"
    assert outcome.steps == ("five", "go", "fix", "up")
    hazard = await _hazard(plant)
    now = T0 + timedelta(minutes=5)
    assert hazard.state == "acknowledged" and hazard.responsible_id == plant.leader.person_id
    assert hazard.watch == "rectify" and hazard.alerted_level == -1
    assert hazard.watch_deadline == now + POLICY.rectify_within == hazard.deadline
    assert hazard.next_escalation_at is not None and hazard.next_escalation_at > now
    # The buttons it offers next are the typed kind, in the old wire format.
    markup = outcome.keyboard(lambda key: key)
    assert markup is not None
    data = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    assert data == [f"hz:{step}:{plant.hazard_id}" for step in outcome.steps]
    assert HazardStep.unpack(data[0]) == HazardStep("five", plant.hazard_id)


async def test_a_worker_or_another_teams_leader_may_not_acknowledge(db: Database) -> None:
    plant = await _plant(db)
    for actor in (plant.worker, plant.other_leader):
        outcome = await hazard_service.acknowledge(plant.rt, actor, plant.hazard_id)
        assert not outcome.ok and outcome.key == "hazard.refused.leader_only", outcome
    hazard = await _hazard(plant)
    assert hazard.state == "reported" and hazard.watch == "ack"
    assert hazard.responsible_id is None and "acknowledged" not in await _events(plant)


async def test_two_leaders_at_once_one_wins_the_other_is_told(db: Database) -> None:
    plant = await _plant(db)
    first, second = await asyncio.gather(
        hazard_service.acknowledge(plant.rt, plant.leader, plant.hazard_id),
        hazard_service.acknowledge(plant.rt, plant.deputy, plant.hazard_id))
    assert [first.ok, second.ok].count(True) == 1, (first, second)
    winner, loser = (first, second) if first.ok else (second, first)
    assert loser.key in ("hazard.lost_race", "hazard.already_acknowledged"), loser
    hazard = await _hazard(plant)
    assert (await _events(plant)).count("acknowledged") == 1
    assert hazard.responsible_id == (plant.leader if winner is first else plant.deputy).person_id
    # A later press says who acknowledged it, and when.
    late = await hazard_service.acknowledge(plant.rt, plant.leader, plant.hazard_id)
    assert not late.ok and late.key == "hazard.already_acknowledged"
    assert late.values["who"] == winner.values["leader"] and late.values["at"] == T0


async def test_the_fixer_may_not_verify_their_own_fix(db: Database) -> None:
    plant = await _plant(db)
    assert (await hazard_service.acknowledge(plant.rt, plant.leader, plant.hazard_id)).ok
    fixed = await hazard_service.submit_fix(plant.rt, plant.leader, plant.hazard_id,
                                            hazard_service.AfterPhoto("file-1", "unique-1"))
    assert fixed.ok and fixed.key == "hazard.rectified" and fixed.steps == ("ver", "reo")
    own = await hazard_service.verify(plant.rt, plant.leader, plant.hazard_id)
    assert not own.ok and own.key == "hazard.refused.own_fix"
    assert (await _hazard(plant)).state == "rectified"
    closed = await hazard_service.verify(plant.rt, plant.reporter, plant.hazard_id)
    assert closed.ok and closed.key == "hazard.closed" and closed.values["who"] == "reporter"
    hazard = await _hazard(plant)
    assert hazard.state == "closed" and hazard.next_escalation_at is None
    async with db.session() as s:
        assert await hazard_repo.points_of(s, plant.reporter.person_id) == closed.values["points"]


async def test_reopen_restarts_the_rectification_clock(db: Database) -> None:
    plant = await _plant(db)
    assert (await hazard_service.acknowledge(plant.rt, plant.leader, plant.hazard_id)).ok
    assert (await hazard_service.submit_fix(plant.rt, plant.leader, plant.hazard_id,
                                            hazard_service.AfterPhoto("f", "u"))).ok
    assert (await _hazard(plant)).watch is None  # fixed: nothing to escalate
    later = plant.clock.advance(timedelta(days=3))
    outcome = await hazard_service.reopen(plant.rt, plant.reporter, plant.hazard_id)
    assert outcome.ok and outcome.key == "hazard.reopened" and outcome.steps == (
        "go", "fix", "up")
    hazard = await _hazard(plant)
    assert hazard.state == "reopened" and hazard.watch == "rectify"
    assert hazard.watch_deadline == later + POLICY.rectify_within == hazard.deadline
    assert outcome.values["deadline"] == hazard.deadline
    assert hazard.alerted_level == -1 and hazard.last_alert_at is None
    assert hazard.next_escalation_at is not None and hazard.next_escalation_at > later


async def test_every_hazard_keyboard_is_built_in_one_place() -> None:
    markup = step_keyboard(lambda key: key, 7, ("ack", "rej", "show"), per_row=3)
    assert markup == {"inline_keyboard": [[
        {"text": "button.ack", "callback_data": "hz:ack:7"},
        {"text": "button.reject", "callback_data": "hz:rej:7"},
        {"text": "button.open", "callback_data": "hz:show:7"}]]}
    assert step_keyboard(lambda key: key, 7, ()) is None
    HazardStep.check()


async def test_an_overdue_hazard_is_escalated_by_the_service(db: Database) -> None:
    plant = await _plant(db)
    due = (await _hazard(plant)).next_escalation_at
    assert due is not None
    plant.clock.set(due)
    assert await escalation.escalate_due_batch(plant.rt, due) == 1
    async with db.session() as s:
        rows = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == escalation.ALERT_PURPOSE))).all()
    assert [row.chat_id for row in rows] == [plant.officer.telegram_id]
    markup = outbox_repo.params_of(rows[0])["reply_markup"]
    assert [b["callback_data"] for b in markup["inline_keyboard"][0]] == [
        f"hz:ack:{plant.hazard_id}", f"hz:show:{plant.hazard_id}"]
    assert "escalated" in await _events(plant)
    assert (await _hazard(plant)).next_escalation_at != due
    # Nothing else is due: the next batch finds nothing.
    assert await escalation.escalate_due_batch(plant.rt, due) == 0
