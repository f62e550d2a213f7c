"""Two instances acting at once (a hot standby's split-brain moment) never double work.

Only the leader sends and sweeps, but between a leader losing its lock and noticing,
two may: the outbox claims and the escalation sweep lock what they take and skip
what another holds (PostgreSQL), or queue behind one writer (SQLite).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlmodel import func, select

from content.hazards import escalation_policy
from content.render import Renderer
from domain.clock import ManualClock
from domain.hazard import Severity
from domain.org import Role, UnitKind
from services import escalation
from services.base import Runtime
from storage import hazards as hazards_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import HazardEvent, OutboxMessage

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_two_senders_claiming_at_once_never_take_the_same_row(db: Database) -> None:
    async with db.transaction() as s:
        for n in range(60):
            await outbox_repo.enqueue_text(s, chat_id=-100 - n, html=f"通知 {n}", now=T0,
                                           purpose="test", dedupe_key=f"n:{n}")

    async def claim(owner: str) -> list[int]:
        taken: list[int] = []
        while True:
            async with db.transaction() as s:
                rows = await outbox_repo.claim_due(s, now=T0, owner=owner,
                                                   lease=timedelta(minutes=2), limit=7)
            if not rows:
                return taken
            taken += [r.id or 0 for r in rows]

    first, second = await asyncio.gather(claim("node-a#1"), claim("node-b#1"))
    assert not set(first) & set(second)
    assert len(first) + len(second) == 60


async def test_two_escalation_sweeps_at_once_alert_each_hazard_once(db: Database) -> None:
    async with db.transaction() as s:
        acme = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                          name="示例化工", parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="合成车间",
                                        parent=acme, now=T0)
        team = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="甲班",
                                          parent=ws, now=T0)
        officer = await people_repo.upsert_person(s, telegram_id=501, name="Officer Zhao",
                                                  username=None, language_code="zh", now=T0)
        officer.started = True
        s.add(officer)
        await org_repo.grant_role(s, person=officer, unit=ws, role=Role.SAFETY_OFFICER, now=T0)
        reporter = await people_repo.upsert_person(s, telegram_id=502, name="Worker Wu",
                                                   username=None, language_code="zh", now=T0)
        policy = escalation_policy().for_severity(Severity.SERIOUS)
        for n in range(30):
            await hazards_repo.create_hazard(
                s, unit_id=team.id or 0, reporter_id=reporter.id or 0,
                severity=Severity.SERIOUS, category="electrical", location_text=f"泵房 {n}",
                latitude=None, longitude=None, description=None, photos=[], now=T0,
                day="20261123", policy=policy)
    later = T0 + timedelta(hours=3)  # past the 2 h to acknowledge

    def node() -> Runtime:
        return Runtime(db=db, renderer=Renderer(), clock=ManualClock(later))

    async def sweep(rt: Runtime) -> None:
        while await escalation.escalate_due_batch(rt, later, limit=4) == 4:
            pass

    await asyncio.gather(sweep(node()), sweep(node()))
    async with db.session() as s:
        keys = (await s.exec(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.chat_id == 501))).all()
        events = Counter((await s.exec(select(HazardEvent.hazard_id).where(
            HazardEvent.action != "reported"))).all())
        total = (await s.exec(select(func.count()).select_from(OutboxMessage))).one()
    assert len(keys) == len(set(keys)) == 30  # one alert per hazard to the officer
    assert total == 30
    assert set(events.values()) == {1}, events  # each hazard escalated once in its history
