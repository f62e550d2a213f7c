"""Drills in storage: teams taking part, attendance once, starts and lapses claimed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.org import UnitKind
from storage import drills as drill_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import Drill

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def test_a_drill_its_teams_attendance_and_lapses(db: Database) -> None:
    async with db.transaction() as s:
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="车间",
                                        parent=None, now=T0)
        a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="甲班", parent=ws,
                                       now=T0)
        b = await org_repo.create_unit(s, key="b", kind=UnitKind.TEAM, name="乙班", parent=ws,
                                       now=T0)
        wu = await people_repo.upsert_person(s, telegram_id=501, name="吴工", username=None,
                                             language_code="zh", now=T0)
        drill = await drill_repo.add(s, Drill(kind="onsite", starts_at=T0 + timedelta(days=1),
                                              duration_minutes=60, scenario="泄漏",
                                              created_at=T0), [a.id or 0, b.id or 0, a.id or 0])
        teams = await drill_repo.teams_of(s, drill.id or 0)
        assert [t.unit_id for t in teams] == [a.id, b.id]
        assert await drill_repo.not_started(s, T0) == []
        assert await drill_repo.not_started(s, T0 + timedelta(days=1)) == [drill]
        assert await drill_repo.claim_reminder(s, drill, 1)
        assert not await drill_repo.claim_reminder(s, drill, 1)
        assert await drill_repo.claim_start(s, drill, T0 + timedelta(days=1))
        assert not await drill_repo.claim_start(s, drill, T0 + timedelta(days=1))
        teams[0].chat_id = -100
        s.add(teams[0])
        await s.flush()
        row = await drill_repo.team_in_chat(s, drill.id or 0, -100)
        assert row is not None and row.unit_id == a.id
        assert await drill_repo.attend(s, row, wu.id or 0, T0)
        assert not await drill_repo.attend(s, teams[1], wu.id or 0, T0)  # once per drill
        assert [p.name for p in await drill_repo.attendees(s, row)] == ["吴工"]
        assert await drill_repo.last_held(s, ["onsite"]) == {}  # no findings yet
        assert await drill_repo.claim_close(s, drill, now=T0 + timedelta(days=1, hours=2),
                                            closed_by=wu.id, went_well="快", problems="慢",
                                            measures="练")
        assert not await drill_repo.claim_close(s, drill, now=T0, closed_by=None, went_well="",
                                                problems="", measures="")
        held = await drill_repo.last_held(s, ["onsite"])
        assert held == {a.id: T0 + timedelta(days=1), b.id: T0 + timedelta(days=1)}
        assert await drill_repo.last_held(s, ["special", "comprehensive"]) == {}
        assert await drill_repo.record_lapse(s, unit_id=a.id or 0, rule="team_onsite",
                                             due_on="2027-06-04", now=T0)
        assert not await drill_repo.record_lapse(s, unit_id=a.id or 0, rule="team_onsite",
                                                 due_on="2027-06-04", now=T0)
        assert await drill_repo.lapses_told(s, "team_onsite") == {(a.id, "2027-06-04")}
        assert await drill_repo.of_units(s, [b.id or 0], since=T0) == [drill]
