"""Evacuations: one active per team, kept by the database; "I am safe" stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.org import UnitKind
from storage import evacuations as evac_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def test_one_active_evacuation_per_team_and_one_answer_each(db: Database) -> None:
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=None, now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=-100, title="甲班群",
                                                 chat_type="group", now=T0)
        leader = await people_repo.upsert_person(s, telegram_id=501, name="李班长",
                                                 username=None, language_code="zh", now=T0)
        values = {"unit_id": team.id, "chat_id": -100, "group_chat_id": group.id,
                  "started_by": leader.id, "language": "zh", "alert_html": "ALERT",
                  "started_at": T0}
        first = await evac_repo.create(s, **values)
        second = await evac_repo.create(s, **values)  # a second leader at the same moment
        assert first is not None and second is None
        assert await evac_repo.mark_safe(s, first.id or 0, leader.id or 0, T0)
        assert not await evac_repo.mark_safe(s, first.id or 0, leader.id or 0, T0)
        assert [p.name for p in await evac_repo.safe_people(s, first.id or 0)] == ["李班长"]
        assert await evac_repo.missing_due(s, T0 + timedelta(minutes=10)) == [first]
        assert await evac_repo.claim_missing(s, first, T0 + timedelta(minutes=10))
        assert not await evac_repo.claim_missing(s, first, T0 + timedelta(minutes=11))
        first.ended_at = T0 + timedelta(minutes=20)
        s.add(first)
        await s.flush()
        third = await evac_repo.create(s, **{**values, "started_at": T0 + timedelta(hours=1)})
        assert third is not None and await evac_repo.active_in(s, team.id or 0) == third
