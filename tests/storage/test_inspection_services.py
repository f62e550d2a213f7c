"""The inspection sweep's services called directly: the shipped shift checks fall due once
per shift for the leader and for each welder, from what the database holds; missed ones
are escalated once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from content.checklists import SHIPPED_CHECKLISTS, use_checklists_dir
from content.render import Renderer
from domain.clock import ManualClock
from domain.org import Role, UnitKind
from services import inspections as inspection_service
from services import shifts as shift_service
from services.base import Runtime
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import Inspection, OutboxMessage

PRE_SHIFT = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)  # UTC here; past the 20th's monthly check
SHIFTS = {"shifts": [{"name": "早班", "start": "08:00", "end": "16:00"}]}


async def test_shift_checks_fall_due_once_each_and_missed_ones_climb_once(db: Database) -> None:
    use_checklists_dir(SHIPPED_CHECKLISTS)  # another test's bot may have chosen others
    clock = ManualClock(PRE_SHIFT - timedelta(minutes=1))
    rt = Runtime(db=db, renderer=Renderer(), clock=clock, default_language="zh",
                 default_timezone="UTC")
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=PRE_SHIFT)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="焊接车间",
                                        parent=ent, now=PRE_SHIFT)
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="焊接甲班",
                                          parent=ws, now=PRE_SHIFT, timezone="UTC")
        team.extra_json = shift_service.encode(None, SHIFTS)
        group = await org_repo.upsert_group_chat(s, chat_id=-1001, title="焊接甲班",
                                                 chat_type="supergroup", now=PRE_SHIFT)
        await org_repo.bind_chat(s, group, team, now=PRE_SHIFT)
        people = {}
        for telegram_id, name in ((1, "李班长"), (2, "王焊工"), (3, "赵安全")):
            people[name] = await people_repo.upsert_person(
                s, telegram_id=telegram_id, name=name, username=None, language_code="zh",
                now=PRE_SHIFT)
        people["王焊工"].post, people["王焊工"].started = "welder", True
        people["赵安全"].started = True
        await org_repo.record_membership(s, chat=group, person=people["王焊工"], active=True,
                                         now=PRE_SHIFT)
        await org_repo.grant_role(s, person=people["李班长"], unit=team, role=Role.TEAM_LEADER,
                                  now=PRE_SHIFT)
        await org_repo.grant_role(s, person=people["赵安全"], unit=ws,
                                  role=Role.SAFETY_OFFICER, now=PRE_SHIFT)

    async def queued(purpose: str) -> list[OutboxMessage]:
        async with db.session() as s:
            return list((await s.exec(select(OutboxMessage).where(
                OutboxMessage.purpose == purpose).order_by(col(OutboxMessage.id)))).all())

    assert await inspection_service.post_due(rt, PRE_SHIFT - timedelta(minutes=1)) == 0
    # 07:30: the leader's pre-shift check and the welder's hot-work permit check.
    assert await inspection_service.post_due(rt, PRE_SHIFT) == 2
    assert await inspection_service.post_due(rt, PRE_SHIFT + timedelta(minutes=1)) == 0
    notices = await queued("checks.due")
    by_chat = {row.chat_id: json.loads(row.payload)["text"] for row in notices}
    assert set(by_chat) == {-1001, 2}  # the leader never pressed Start: the group
    assert "班前设备点检" in by_chat[-1001] and "李班长" in by_chat[-1001]
    assert "动火作业票核查" in by_chat[2]
    async with db.session() as s:
        checks = list((await s.exec(select(Inspection).order_by(
            col(Inspection.checklist_id)))).all())
    assert [(c.checklist_id, c.period, c.subject_id) for c in checks] == [
        ("hot-work-permit", "2026-11-24/早班", people["王焊工"].id),
        ("team-pre-shift", "2026-11-24/早班", 0)]
    assert {c.deadline_at for c in checks} == {PRE_SHIFT + timedelta(minutes=30)}

    shift_start = PRE_SHIFT + timedelta(minutes=30)
    assert await inspection_service.escalate_missed(rt, shift_start - timedelta(seconds=1)) == 0
    assert await inspection_service.escalate_missed(rt, shift_start) == 2
    assert await inspection_service.escalate_missed(rt, shift_start + timedelta(hours=1)) == 0
    told = await queued("checks.missed")
    assert {row.chat_id for row in told} == {3}  # the workshop's officer, once per check
    assert len(told) == 2
    # The shift is under way: no new check until the next one's time.
    assert await inspection_service.post_due(rt, shift_start + timedelta(hours=2)) == 0
    assert await inspection_service.post_due(rt, PRE_SHIFT + timedelta(days=1)) == 2
