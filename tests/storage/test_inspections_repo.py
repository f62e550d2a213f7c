"""Checks in storage: once per occurrence, one answer per item, done or missed once,
completion counted in one grouped query, the ledger's rows (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from domain.inspections import CheckCompletion
from domain.org import UnitKind
from storage import inspections as repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


async def test_checks_fall_due_once_and_are_answered_once_per_item(db: Database) -> None:
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=None, now=T0)
        leader = await people_repo.upsert_person(s, telegram_id=501, name="李班长",
                                                 username=None, language_code="zh", now=T0)
        values = {"checklist_id": "team-weekly", "unit_id": team.id, "period": "2026-11-27",
                  "subject_id": 0, "assignee_id": leader.id, "due_at": T0,
                  "deadline_at": T0 + timedelta(hours=4), "items": 2, "created_at": T0}
        first = await repo.create(s, **values)
        assert first is not None and first.state == repo.DUE
        assert await repo.create(s, **values) is None  # the sweep again, or a second process
        other = await repo.create(s, **{**values, "subject_id": leader.id})  # a post's check
        assert other is not None
        assert await repo.known_occurrences(s, "team-weekly", T0 - timedelta(days=1)) == {
            (team.id, "2026-11-27", 0), (team.id, "2026-11-27", leader.id)}
        answer = {"inspection_id": first.id, "item_index": 0, "item_text": "灭火器",
                  "person_id": leader.id, "ok": True, "answered_at": T0}
        assert await repo.add_answer(s, **answer)
        assert not await repo.add_answer(s, **{**answer, "ok": False})  # a double tap
        assert [a.ok for a in await repo.answers(s, first.id or 0)] == [True]
        assert await repo.answered_counts(s, [first.id or 0, other.id or 0]) == {first.id: 1}

        assert await repo.overdue(s, T0 + timedelta(hours=3)) == []
        assert await repo.finish(s, first, leader.id or 0, T0 + timedelta(hours=1))
        assert not await repo.finish(s, first, leader.id or 0, T0 + timedelta(hours=2))
        late = T0 + timedelta(hours=4)
        assert [i.id for i in await repo.overdue(s, late)] == [other.id]
        assert not await repo.claim_missed(s, first, late)  # done: never missed
        assert await repo.claim_missed(s, other, late)
        assert not await repo.claim_missed(s, other, late)  # escalated once
        await s.refresh(other)
        assert other.state == repo.MISSED and other.escalated_at == late


async def test_completion_is_one_grouped_query_over_the_period(db: Database) -> None:
    async with db.transaction() as s:
        teams = [await org_repo.create_unit(s, key=f"t{n}", kind=UnitKind.TEAM,
                                            name=f"班{n}", parent=None, now=T0)
                 for n in range(3)]
        leader = await people_repo.upsert_person(s, telegram_id=501, name="李班长",
                                                 username=None, language_code="zh", now=T0)
        states = {teams[0].id: ["done", "done", "missed", "due"], teams[1].id: ["missed"]}
        for unit_id, listed in states.items():
            for day, state in enumerate(listed):
                check = await repo.create(
                    s, checklist_id="daily", unit_id=unit_id, period=f"d{day}", subject_id=0,
                    due_at=T0 + timedelta(days=day), deadline_at=T0 + timedelta(days=day, hours=2),
                    items=3, created_at=T0)
                assert check is not None
                if state == "done":
                    await repo.finish(s, check, leader.id or 0, check.due_at)
                elif state == "missed":
                    await repo.claim_missed(s, check, check.deadline_at)
        # Outside the period: not counted.
        await repo.create(s, checklist_id="daily", unit_id=teams[0].id, period="before",
                          subject_id=0, due_at=T0 - timedelta(days=1),
                          deadline_at=T0 - timedelta(hours=22), items=3, created_at=T0)

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as s:
            found = await repo.completion_by_unit(s, [t.id or 0 for t in teams], T0,
                                                  T0 + timedelta(days=30))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len([q for q in statements if "inspection" in q]) == 1
    assert found == {teams[0].id: CheckCompletion(4, 2, 1), teams[1].id: CheckCompletion(1, 0, 1)}
    assert found[teams[0].id].open == 1


async def test_post_workers_and_the_ledgers_rows(db: Database) -> None:
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=None, now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=-100, title="甲班群",
                                                 chat_type="group", now=T0)
        await org_repo.bind_chat(s, group, team, now=T0)
        welder = await people_repo.upsert_person(s, telegram_id=601, name="王焊工",
                                                 username=None, language_code="zh", now=T0)
        welder.post = "welder"
        fitter = await people_repo.upsert_person(s, telegram_id=602, name="张钳工",
                                                 username=None, language_code="zh", now=T0)
        for person in (welder, fitter):
            await org_repo.record_membership(s, chat=group, person=person, active=True, now=T0)
        assert [(p.name, u.name) for p, u in await repo.post_workers(s, "welder")] == [
            ("王焊工", "甲班")]

        check = await repo.create(s, checklist_id="hot-work-permit", unit_id=team.id,
                                  period="2026-11-23/早班", subject_id=welder.id,
                                  assignee_id=welder.id, due_at=T0,
                                  deadline_at=T0 + timedelta(minutes=30), items=6,
                                  created_at=T0)
        missed = await repo.create(s, checklist_id="hot-work-permit", unit_id=team.id,
                                   period="2026-11-23/夜班", subject_id=welder.id,
                                   assignee_id=welder.id, due_at=T0 + timedelta(hours=14),
                                   deadline_at=T0 + timedelta(hours=15), items=6,
                                   created_at=T0)
        assert check is not None and missed is not None
        for index, ok in enumerate((True, False)):
            await repo.add_answer(s, inspection_id=check.id, item_index=index,
                                  item_text=f"项目{index + 1}", person_id=welder.id, ok=ok,
                                  answered_at=T0 + timedelta(minutes=index))
        rows = await repo.ledger_checks(s, unit_ids=[team.id or 0], since=T0,
                                        until=T0 + timedelta(days=1))
    assert [(r.inspection.period, r.answer.item_text if r.answer else None, r.answered_by)
            for r in rows] == [("2026-11-23/早班", "项目1", "王焊工"),
                               ("2026-11-23/早班", "项目2", "王焊工"),
                               ("2026-11-23/夜班", None, "")]
    assert {r.unit for r in rows} == {"甲班"} and rows[0].assignee == "王焊工"
