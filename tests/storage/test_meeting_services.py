"""The meeting, handover and shift services called directly, without Telegram."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import func, select

from content.render import Renderer
from domain.clock import ManualClock
from domain.org import Role, UnitKind
from domain.shifts import ShiftSchedule, parse_schedule
from services import handovers as handover_service
from services import meetings as meeting_service
from services import shifts as shift_service
from services.base import Actor, Runtime
from storage import handovers as handover_repo
from storage import meetings as meeting_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import Attendance, Handover, OutboxMessage, Person, Unit

BRIEFING = datetime(2026, 11, 23, 7, 45, tzinfo=UTC)  # 15 minutes before the 08:00 shift
SHIFTS = {"briefing_before": "15m", "shifts": [{"name": "早班", "start": "08:00",
                                                "end": "16:00"}]}


@dataclass
class Plant:
    rt: Runtime
    clock: ManualClock
    team: Unit
    chat_id: int
    leader: Actor
    second_leader: Actor
    worker: Actor
    officer: Actor


def _actor(person: Person) -> Actor:
    return Actor(person_id=person.id or 0, telegram_id=person.telegram_id, name=person.name,
                 language="zh")


async def _plant(db: Database) -> Plant:
    clock = ManualClock(BRIEFING)
    rt = Runtime(db=db, renderer=Renderer(), clock=clock, default_language="zh",
                 default_timezone="UTC")
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=BRIEFING)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=BRIEFING)
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=ws, now=BRIEFING, timezone="UTC")
        team.extra_json = shift_service.encode(None, SHIFTS)
        group = await org_repo.upsert_group_chat(s, chat_id=-1001, title="甲班",
                                                 chat_type="supergroup", now=BRIEFING)
        await org_repo.bind_chat(s, group, team, now=BRIEFING)
        people = {}
        for telegram_id, name in ((1, "李明"), (2, "王强"), (3, "吴工"), (4, "赵安")):
            people[name] = await people_repo.upsert_person(
                s, telegram_id=telegram_id, name=name, username=None, language_code="zh",
                now=BRIEFING)
        for name, unit, role in (("李明", team, Role.TEAM_LEADER),
                                 ("王强", team, Role.TEAM_LEADER),
                                 ("赵安", ws, Role.SAFETY_OFFICER)):
            await org_repo.grant_role(s, person=people[name], unit=unit, role=role,
                                      now=BRIEFING)
    return Plant(rt, clock, team, -1001, _actor(people["李明"]), _actor(people["王强"]),
                 _actor(people["吴工"]), _actor(people["赵安"]))


async def _briefed(plant: Plant) -> int:
    """Post the team's briefing; the meeting's id."""
    async with plant.rt.db.session() as s:
        teams = await org_repo.teams_with_groups(s)
    assert await meeting_service.post_briefings(plant.rt, teams, BRIEFING,
                                                grace=timedelta(minutes=30)) == 1
    async with plant.rt.db.session() as s:
        [meeting] = await meeting_repo.not_held(s, BRIEFING + timedelta(hours=1), BRIEFING)
        return meeting.id or 0


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as s:
        return int((await s.exec(select(func.count()).select_from(model).where(*where))).one())


async def test_checking_in_twice_is_one_attendance(db: Database) -> None:
    plant = await _plant(db)
    meeting_id = await _briefed(plant)
    first = await meeting_service.check_in(plant.rt, plant.worker, meeting_id)
    again = await meeting_service.check_in(plant.rt, plant.worker, meeting_id)
    assert (first.ok, first.key) == (True, "meeting.checked_in")
    assert (again.ok, again.key, again.queued) == (True, "meeting.already", 0)
    assert await _count(db, Attendance) == 1
    stale = await meeting_service.check_in(plant.rt, plant.worker, 999_999)
    assert (stale.ok, stale.key) == (False, "callback.stale")


async def test_only_the_teams_own_leaders_hold_the_meeting(db: Database) -> None:
    plant = await _plant(db)
    meeting_id = await _briefed(plant)
    await meeting_service.check_in(plant.rt, plant.worker, meeting_id)
    for someone in (plant.worker, plant.officer):  # a worker; the workshop's officer
        refused = await meeting_service.hold(plant.rt, someone, meeting_id)
        assert (refused.ok, refused.key) == (False, "meeting.leaders_only")
    held = await meeting_service.hold(plant.rt, plant.leader, meeting_id)
    assert (held.ok, held.key) == (True, "button.meeting_held")
    async with db.session() as s:
        meeting = await meeting_repo.get(s, meeting_id)
        assert meeting is not None and meeting.held_by == plant.leader.person_id
    late = await meeting_service.check_in(plant.rt, plant.worker, meeting_id)
    assert (late.ok, late.key, late.values["who"]) == (False, "meeting.closed", "李明")


async def test_a_briefing_remembers_its_message_for_the_roll_call(db: Database) -> None:
    plant = await _plant(db)
    meeting_id = await _briefed(plant)
    async with db.session() as s:
        meeting = await meeting_repo.get(s, meeting_id)
        assert meeting is not None
        ids = await outbox_repo.ids_by_key(s, [f"briefing:{plant.team.id}:{meeting.shift_key}"])
        assert meeting.briefing_outbox_id == next(iter(ids.values()))


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database is sent meanwhile."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement.split(None, 1)[0].upper())

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _sent_briefing(db: Database, meeting_id: int) -> None:
    """Mark the briefing sent, as the dispatcher does, so a check-in edits it."""
    async with db.transaction() as s:
        meeting = await meeting_repo.get(s, meeting_id)
        assert meeting is not None
        row = await s.get(OutboxMessage, meeting.briefing_outbox_id)
        assert row is not None
        row.telegram_message_id, row.status = 77, "sent"
        s.add(row)


async def test_a_check_in_costs_a_few_statements(db: Database) -> None:
    plant = await _plant(db)
    meeting_id = await _briefed(plant)
    await _sent_briefing(db, meeting_id)
    with statements(db) as first:  # shown at once: the roll-call edit is queued
        outcome = await meeting_service.check_in(plant.rt, plant.worker, meeting_id)
    assert outcome.queued == 1
    plant.clock.advance(timedelta(seconds=1))
    with statements(db) as throttled:  # within the window: stays dirty for the sweep
        outcome = await meeting_service.check_in(plant.rt, plant.officer, meeting_id)
    assert outcome.queued == 0
    with statements(db) as again:
        await meeting_service.check_in(plant.rt, plant.officer, meeting_id)
    queries = [s for s in first if s not in ("BEGIN", "COMMIT", "ROLLBACK")]
    print(f"statements per check-in: first {len(queries)} {queries}, "
          f"throttled {len([s for s in throttled if s not in ('BEGIN', 'COMMIT')])}, "
          f"again {len([s for s in again if s not in ('BEGIN', 'COMMIT')])}")
    # meeting, attendance, briefing row, claim, attendees, the edit (and its key's check)
    assert len(queries) <= 7, first
    # meeting, attendance, the dirty mark: the taps of a shift start
    assert len([s for s in throttled if s not in ("BEGIN", "COMMIT")]) <= 3, throttled
    assert len([s for s in again if s not in ("BEGIN", "COMMIT")]) <= 2, again


async def _awaiting_handover(plant: Plant, incoming: Actor | None) -> int:
    async with plant.rt.db.transaction() as s:
        handover = await handover_repo.create(
            s, unit_id=plant.team.id, chat_id=plant.chat_id,
            outgoing_id=plant.leader.person_id,
            incoming_id=incoming.person_id if incoming else None, equipment="正常",
            work_in_progress="无", safety_notes="无", open_hazards="无",
            created_at=BRIEFING, next_check_at=BRIEFING + timedelta(minutes=30))
        return handover.id or 0


async def _accept(plant: Plant, actor: Actor, handover_id: int) -> tuple[bool, str]:
    async with plant.rt.db.transaction() as s:
        outcome = await handover_service.record_accept(s, plant.rt, actor, handover_id)
    return outcome.ok, outcome.key


async def test_a_handover_is_never_accepted_by_its_outgoing_leader(db: Database) -> None:
    plant = await _plant(db)
    handover_id = await _awaiting_handover(plant, incoming=None)
    assert await _accept(plant, plant.leader, handover_id) == (False, "handover.own")
    assert await _accept(plant, plant.worker, handover_id) == (False, "handover.not_incoming")
    assert await _accept(plant, plant.officer, handover_id) == (False, "handover.not_incoming")
    assert await _accept(plant, plant.second_leader, handover_id) == (True, "handover.accepted")
    assert await _accept(plant, plant.second_leader, handover_id) == (
        False, "handover.already_accepted")
    async with db.session() as s:
        handover = await s.get(Handover, handover_id)
        assert handover is not None and handover.accepted_by == plant.second_leader.person_id


async def test_the_chosen_incoming_person_may_accept(db: Database) -> None:
    plant = await _plant(db)
    handover_id = await _awaiting_handover(plant, incoming=plant.worker)
    assert await _accept(plant, plant.worker, handover_id) == (True, "handover.accepted")


async def test_a_handover_started_by_a_leader_only(db: Database) -> None:
    plant = await _plant(db)
    refused = await handover_service.start(plant.rt, plant.worker, plant.chat_id, plant.team)
    assert (refused.ok, refused.key) == (False, "handover.leaders_only")
    started = await handover_service.start(plant.rt, plant.leader, plant.chat_id, plant.team)
    assert (started.ok, started.key) == (True, "handover.ask_equipment")


def test_a_schedule_decodes_as_it_was_encoded() -> None:
    stored = shift_service.encode(json.dumps({"note": "kept"}), SHIFTS)
    assert json.loads(stored)["note"] == "kept"
    assert shift_service.stored_schedule(stored) == SHIFTS
    decoded = shift_service.decode(stored, "UTC")
    assert isinstance(decoded, ShiftSchedule)
    assert decoded == parse_schedule(SHIFTS, "UTC")
    # The org file may give just the list of shifts.
    bare = json.dumps({"shifts": SHIFTS["shifts"]})
    assert shift_service.stored_schedule(bare) == {"shifts": SHIFTS["shifts"]}
    assert shift_service.decode(None, "UTC") is None
    broken = shift_service.decode(json.dumps({"shifts": {"shifts": [{"name": "x"}]}}), "UTC")
    assert isinstance(broken, ValueError)  # a ScheduleError, logged once, never raised


def test_a_schedule_edit_is_saved_only_when_valid() -> None:
    rt = Runtime(db=None, renderer=Renderer(), clock=ManualClock(BRIEFING),  # type: ignore[arg-type]
                 default_timezone="UTC")
    unit = Unit(key="t", kind="team", name="甲班", created_at=BRIEFING,
                extra_json=shift_service.encode(None, SHIFTS))
    before = unit.extra_json
    bad = shift_service.save_text(rt, unit, "早班 25:00-16:00")
    assert bad.schedule is None and bad.error is not None and unit.extra_json == before
    good = shift_service.save_text(rt, unit, "早班 07:00-15:00\n中班 15:00-23:00")
    assert good.schedule is not None and [s.name for s in good.schedule.shifts] == ["早班", "中班"]
    assert shift_service.team_schedule(unit, "UTC") == good.schedule
