"""Handovers and meetings on SQLite and PostgreSQL: ledger sheets, sweeps losing races."""

from __future__ import annotations

from datetime import timedelta

from storage import handovers as handover_repo
from storage import meetings as meetings_repo
from storage import org as org_repo
from storage.db import Database
from storage.ledger import handover_rows, meeting_rows
from storage.models import Attendance, PreShiftMeeting
from tests.storage.test_documents_repo import T0, _plant


async def test_handovers_and_meetings_of_the_units_in_the_period(db: Database) -> None:
    people = await _plant(db)
    wu, li, zhou = people["Wu"], people["Li"], people["Zhou"]
    async with db.transaction() as s:
        a = await org_repo.get_unit_by_key(s, "a")
        b = await org_repo.get_unit_by_key(s, "b")
        assert a is not None and b is not None
        for unit, at in ((a, T0), (a, T0 + timedelta(days=40)), (b, T0)):
            await handover_repo.create(
                s, unit_id=unit.id, chat_id=-100, outgoing_id=li.id, incoming_id=zhou.id,
                equipment="正常", work_in_progress="无", safety_notes="注意", open_hazards="",
                created_at=at, next_check_at=at)
        meeting = PreShiftMeeting(unit_id=a.id or 0, shift_key="2026-11-23/早班",
                                  shift_name="早班", starts_at=T0, ends_at=T0 + timedelta(hours=8),
                                  posted_at=T0 - timedelta(minutes=15), held_at=T0,
                                  held_by=li.id)
        s.add(meeting)
        await s.flush()
        for person, minutes in ((zhou, 2), (wu, 1)):
            s.add(Attendance(meeting_id=meeting.id or 0, person_id=person.id or 0,
                             checked_in_at=T0 - timedelta(minutes=minutes)))
    async with db.session() as s:
        since, until = T0 - timedelta(days=1), T0 + timedelta(days=30)
        [handover] = await handover_rows(s, unit_ids=[a.id or 0], since=since, until=until,
                                         name_of=lambda kind, key: f"{kind}:{key}")
        assert (handover.team, handover.outgoing, handover.incoming) == ("A", "Li", "Zhou")
        assert handover.state == "handover_state:awaiting" and handover.accepted_by == ""
        [row] = await meeting_rows(s, unit_ids=[a.id or 0], since=since, until=until)
        assert row.attendees == ["Zhou", "Wu"] and row.held_by == "Li"  # in check-in order
        assert await meeting_rows(s, unit_ids=[b.id or 0], since=since, until=until) == []


async def test_a_sweep_step_loses_to_a_leader_who_acted_first(db: Database) -> None:
    people = await _plant(db)
    li, zhou = people["Li"], people["Zhou"]
    async with db.transaction() as s:
        a = await org_repo.get_unit_by_key(s, "a")
        assert a is not None
        handover = await handover_repo.create(
            s, unit_id=a.id, chat_id=-100, outgoing_id=li.id, incoming_id=zhou.id,
            equipment="正常", work_in_progress="无", safety_notes="注意", open_hazards="",
            created_at=T0, next_check_at=T0)
        held = PreShiftMeeting(unit_id=a.id or 0, shift_key="2026-11-23/早班", shift_name="早班",
                               starts_at=T0, ends_at=T0 + timedelta(hours=8), posted_at=T0)
        s.add(held)
    swept = handover.model_copy()  # what the sweep read, before the leader pressed
    async with db.transaction() as s:
        mine = await handover_repo.get(s, handover.id or 0)
        assert mine is not None
        assert await handover_repo.accept(s, mine, person_id=zhou.id or 0, now=T0)
        fresh = await meetings_repo.get(s, held.id or 0)
        assert fresh is not None
        fresh.held_at = T0
        s.add(fresh)
    async with db.transaction() as s:
        assert not await handover_repo.advance(s, swept, {"reminded_at": T0})
        assert not await meetings_repo.claim_escalation(s, held, T0)
        again = await handover_repo.get(s, handover.id or 0)
        assert again is not None and again.reminded_at is None and again.state == "accepted"
    async with db.transaction() as s:  # a meeting nobody held is claimed once
        open_one = PreShiftMeeting(unit_id=a.id or 0, shift_key="2026-11-24/早班",
                                   shift_name="早班", starts_at=T0 + timedelta(days=1),
                                   ends_at=T0 + timedelta(days=1, hours=8), posted_at=T0)
        s.add(open_one)
        await s.flush()
        assert await meetings_repo.claim_escalation(s, open_one, T0)
        assert not await meetings_repo.claim_escalation(s, open_one, T0)
