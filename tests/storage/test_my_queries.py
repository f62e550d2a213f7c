"""The /my queries on SQLite and PostgreSQL: one person's reports, counts and unread documents."""

from __future__ import annotations

from datetime import datetime, timedelta

from content.hazards import escalation_policy
from content.render import Renderer
from domain.hazard import Severity
from services.publishing import publish
from storage import documents as doc_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage.db import Database
from tests.storage.test_documents_repo import T0, _draft, _plant


async def test_reports_counts_and_unread_documents_of_one_person(db: Database) -> None:
    people = await _plant(db)
    wu, zhou = people["Wu"].id or 0, people["Zhou"].id or 0
    async with db.transaction() as s:
        team = await org_repo.get_unit_by_key(s, "a")
        ws = await org_repo.get_unit_by_key(s, "ws")
        assert team is not None and ws is not None
        codes = {}
        for n, (who, state) in enumerate([(wu, "reported"), (wu, "closed"), (wu, "rectifying"),
                                          (wu, "rejected"), (zhou, "reported")]):
            hazard = await hazard_repo.create_hazard(
                s, unit_id=team.id or 0, reporter_id=who, severity=Severity.GENERAL,
                category="electrical", location_text=None, latitude=None, longitude=None,
                description=None, photos=[], now=T0 + timedelta(minutes=n), day="20261123",
                policy=escalation_policy().for_severity(Severity.GENERAL))
            hazard.state = state
            s.add(hazard)
            codes[(who, state)] = hazard.code
        done = await publish(s, Renderer(), _draft(), audience=[ws], publisher_id=None, now=T0,
                             default_language="zh")
    async with db.session() as s:
        opened = await hazard_repo.reports_of(s, wu, open_=True, limit=10)
        finished = await hazard_repo.reports_of(s, wu, open_=False, limit=1)
        assert [h.code for h in opened] == [codes[(wu, "rectifying")], codes[(wu, "reported")]]
        assert [h.code for h in finished] == [codes[(wu, "rejected")]]  # newest, limited
        assert await hazard_repo.report_counts(s, wu) == {
            "reported": 1, "closed": 1, "rectifying": 1, "rejected": 1}
        assert await hazard_repo.report_counts(s, people["Li"].id or 0) == {}
        [(document, due)] = await doc_repo.unread_with_due(s, wu)
        assert document.id == done.document.id
        assert isinstance(due, datetime) and due > T0
        assert await doc_repo.unread_with_due(s, zhou) == []  # not in the team's group
    async with db.transaction() as s:
        await doc_repo.acknowledge(s, document_id=done.document.id or 0, person_id=wu, now=T0)
    async with db.session() as s:
        assert await doc_repo.unread_with_due(s, wu) == []
