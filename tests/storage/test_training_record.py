"""The training record's own rows: written once, read per person and per unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.org import UnitKind
from storage import org as org_repo
from storage import people as people_repo
from storage import training as training_repo
from storage.db import Database

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


async def test_an_entry_is_kept_once_and_read_back(db: Database) -> None:
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=None, now=T0)
        worker = await people_repo.upsert_person(s, telegram_id=501, name="王工",
                                                 username=None, language_code="zh", now=T0)
        for _ in range(2):  # Telegram delivered the answer twice
            await training_repo.record(s, person_id=worker.id or 0, unit_id=team.id,
                                       kind="quiz", subject="ppe-001", result="correct",
                                       at=T0, dedupe_key="quiz:ppe-001:501:1")
        await training_repo.record(s, person_id=worker.id or 0, unit_id=team.id,
                                   kind="drill", subject="fire drill", result="attended",
                                   at=T0 + timedelta(days=1), dedupe_key="drill:1:501")
    async with db.session() as s:
        mine = await training_repo.entries_of(s, worker.id or 0)
        quizzes = await training_repo.entries_of(s, worker.id or 0, kinds=("quiz",))
        team_rows = await training_repo.entries_of_units(s, [team.id or 0], T0,
                                                         T0 + timedelta(hours=1))
    assert [(e.kind, e.result) for e in mine] == [("quiz", "correct"), ("drill", "attended")]
    assert len(quizzes) == 1 and len(team_rows) == 1
