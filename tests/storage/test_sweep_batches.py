"""Sweeps that write for many teams commit in short batches, so check-ins are not held up.

On SQLite one write transaction locks out every other writer until it commits: a
sweep posting 1,000 briefings in one transaction kept check-ins waiting ~13 s.
Each test counts, per commit, the rows a sweep wrote, with a small batch size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import func, select

import scheduler.handovers as handovers_module
import scheduler.meetings as meetings_module
from content.render import Renderer
from domain.org import UnitKind
from scheduler.handovers import handover_sweep
from scheduler.meetings import pre_shift_sweep
from storage import handovers as handover_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import OutboxMessage, PreShiftMeeting

TEAMS = 25
BATCH = 10
BRIEFING = datetime(2026, 11, 23, 7, 45, tzinfo=UTC)  # 15 minutes before the 08:00 shift
SHIFTS = {"shifts": {"briefing_before": "15m",
                     "shifts": [{"name": "早班", "start": "08:00", "end": "16:00"}]}}


@contextmanager
def rows_per_commit(db: Database, count: str) -> Iterator[list[int]]:
    """How much each committed transaction added to ``count`` (zero before the sweep).

    The count runs in the transaction just before it commits, so it sees what that
    transaction wrote however the rows were written (one by one or in one statement).
    """
    added: list[int] = []
    seen = [0]

    def committing(connection: Any) -> None:
        now = int(connection.exec_driver_sql(count).scalar())
        if now != seen[0]:
            added.append(now - seen[0])
            seen[0] = now

    engine = db.engine.sync_engine
    event.listen(engine, "commit", committing)
    try:
        yield added
    finally:
        event.remove(engine, "commit", committing)


async def _plant(db: Database) -> None:
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=BRIEFING)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=BRIEFING)
        leader = await people_repo.upsert_person(s, telegram_id=500, name="李明",
                                                 username=None, language_code="zh",
                                                 now=BRIEFING)
        for n in range(TEAMS):
            team = await org_repo.create_unit(s, key=f"t{n}", kind=UnitKind.TEAM,
                                              name=f"班组{n}", parent=ws, now=BRIEFING,
                                              timezone="UTC")
            team.extra_json = json.dumps(SHIFTS, ensure_ascii=False)
            group = await org_repo.upsert_group_chat(s, chat_id=-1000 - n, title=f"班组{n}",
                                                     chat_type="supergroup", now=BRIEFING)
            await org_repo.bind_chat(s, group, team, now=BRIEFING)
            await handover_repo.create(
                s, unit_id=team.id, chat_id=group.chat_id, outgoing_id=leader.id,
                equipment="正常", work_in_progress="无", safety_notes="无", open_hazards="无",
                created_at=BRIEFING, next_check_at=BRIEFING + timedelta(minutes=30))


async def _count(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as s:
        return int((await s.exec(select(func.count()).select_from(model).where(*where))).one())


async def test_pre_shift_sweep_writes_briefings_escalations_and_prompts_in_batches(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meetings_module, "BATCH", BATCH, raising=False)
    await _plant(db)
    sweep = pre_shift_sweep(db, Renderer(), default_language="zh", default_timezone="UTC",
                            reminder_grace=timedelta(minutes=30),
                            meeting_grace=timedelta(minutes=30), wake=lambda: None)
    with rows_per_commit(db, "SELECT count(*) FROM pre_shift_meeting") as briefed:
        await sweep(BRIEFING)
    assert sum(briefed) == TEAMS and max(briefed) <= BATCH, briefed
    await sweep(BRIEFING + timedelta(minutes=1))  # idempotent: one briefing per team and shift
    assert await _count(db, PreShiftMeeting) == TEAMS
    assert await _count(db, OutboxMessage, OutboxMessage.purpose == "meeting.briefing") == TEAMS

    late = "SELECT count(*) FROM pre_shift_meeting WHERE escalated_at IS NOT NULL"
    with rows_per_commit(db, late) as escalated:
        await sweep(BRIEFING + timedelta(minutes=46))  # not held 30 minutes after 08:00
    assert sum(escalated) == TEAMS and max(escalated) <= BATCH, escalated

    asked = "SELECT count(*) FROM pre_shift_meeting WHERE summary_prompted_at IS NOT NULL"
    with rows_per_commit(db, asked) as prompted:
        await sweep(datetime(2026, 11, 23, 16, 1, tzinfo=UTC))  # the shift ended
    assert sum(prompted) == TEAMS and max(prompted) <= BATCH, prompted
    assert await _count(db, OutboxMessage, OutboxMessage.purpose == "meeting.summary") == TEAMS


async def test_handover_sweep_writes_reminders_in_batches(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handovers_module, "BATCH", BATCH, raising=False)
    await _plant(db)
    sweep = handover_sweep(db, Renderer(), escalate_after=timedelta(hours=2),
                           default_language="zh", wake=lambda: None)
    with rows_per_commit(db, "SELECT count(*) FROM handover WHERE reminded_at IS NOT NULL"
                         ) as reminded:
        await sweep(BRIEFING + timedelta(minutes=30))
    assert sum(reminded) == TEAMS and max(reminded) <= BATCH, reminded
    assert await _count(db, OutboxMessage,
                        OutboxMessage.purpose == "handover.reminder") == TEAMS
