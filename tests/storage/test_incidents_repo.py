"""Incidents and ideas in the database: steps happen once, and the monthly figures are
one aggregate query each (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from content.render import Renderer
from domain.clock import ManualClock
from domain.idea import IdeaState
from domain.incident import IncidentEventKind, IncidentState, Injury
from domain.org import Role, UnitKind
from services.base import Runtime
from services.incident_notices import audience_of
from storage import ideas as idea_repo
from storage import incidents as incident_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.ideas import IdeaTotals
from storage.incidents import IncidentTotals
from storage.models import Idea

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


async def _plant(db: Database) -> tuple[dict[str, int], int, int]:
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=T0)
        a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A", parent=ws,
                                       now=T0)
        b = await org_repo.create_unit(s, key="b", kind=UnitKind.TEAM, name="B", parent=ws,
                                       now=T0)
        wu = await people_repo.upsert_person(s, telegram_id=601, name="吴", username=None,
                                             language_code="zh", now=T0)
        li = await people_repo.upsert_person(s, telegram_id=602, name="李", username=None,
                                             language_code="zh", now=T0)
        return ({"acme": ent.id or 0, "ws": ws.id or 0, "a": a.id or 0, "b": b.id or 0},
                wu.id or 0, li.id or 0)


async def _incident(db: Database, unit_id: int, reporter: int, at: datetime, injured: int,
                    injury: Injury) -> int:
    async with db.transaction() as s:
        incident = await incident_repo.create(
            s, day=f"{at:%Y%m%d}", unit_id=unit_id, reporter_id=reporter, chat_id=-100,
            what="泄漏", place="罐区", occurred_at=at, injured=injured, injury=injury,
            action_taken="关阀", reported_at=at)
        await incident_repo.add_event(s, incident, kind=IncidentEventKind.REPORTED,
                                      actor_id=reporter, at=at, injured=injured, injury=injury)
        return incident.id or 0


async def test_incident_steps_happen_once_and_the_figures_add_up(db: Database) -> None:
    units, wu, li = await _plant(db)
    first = await _incident(db, units["a"], wu, T0, 2, Injury.SERIOUS)
    await _incident(db, units["a"], wu, T0 + timedelta(days=5), 1, Injury.FATAL)
    await _incident(db, units["b"], li, T0 + timedelta(days=6), 0, Injury.NONE)
    await _incident(db, units["a"], wu, T0 - timedelta(days=10), 9, Injury.MINOR)  # October

    async with db.transaction() as s:
        incident = await incident_repo.get(s, first)
        assert incident is not None and incident.code == f"SG-20261103-{first:04d}"
        assert await incident_repo.mark_controlled(s, incident, person_id=li, now=T0)
        assert not await incident_repo.mark_controlled(s, incident, person_id=wu, now=T0)
        assert await incident_repo.close(s, incident, person_id=li, now=T0, cause="C",
                                         measures="M", lessons="L")
        assert not await incident_repo.close(s, incident, person_id=wu, now=T0, cause="X",
                                             measures="X", lessons="X")
        assert not await incident_repo.set_casualties(s, incident, 5, Injury.MINOR)
        await s.refresh(incident)
        assert (incident.state, incident.closed_by, incident.cause) == (
            IncidentState.CLOSED, li, "C")

    team_ids = [units["a"], units["b"]]
    async with db.session() as s:
        queries = QueryCounter(db)
        with queries:
            total = await incident_repo.totals(s, team_ids, *NOVEMBER)
        assert queries.count == 1
        assert total == IncidentTotals(incidents=3, injured=3, fatal=1, open=2)
        by_unit = await incident_repo.totals_by_unit(s, team_ids, *NOVEMBER)
        assert by_unit == {units["a"]: IncidentTotals(2, 3, 1, 1),
                           units["b"]: IncidentTotals(1, 0, 0, 1)}
        assert await incident_repo.totals(s, [units["ws"]], *NOVEMBER) == IncidentTotals()
        assert await incident_repo.totals(s, [], *NOVEMBER) == IncidentTotals()


async def test_ideas_are_decided_once_and_counted_by_month(db: Database) -> None:
    units, wu, li = await _plant(db)
    async with db.transaction() as s:
        one = await idea_repo.create(s, unit_id=units["a"], proposer_id=wu, chat_id=-100,
                                     text="挡鼠板", submitted_at=T0)
        two = await idea_repo.create(s, unit_id=units["a"], proposer_id=wu, chat_id=-100,
                                     text="电子记录", submitted_at=T0)
        late = await idea_repo.create(s, unit_id=units["b"], proposer_id=li, chat_id=-101,
                                      text="十月的", submitted_at=T0 - timedelta(days=10))
        assert one.reviewing_unit_id == units["a"] and one.state == IdeaState.SUBMITTED
        # A team leader read the idea at the team; the workshop took it meanwhile.
        as_read = Idea(id=one.id, reviewing_unit_id=units["a"])
        assert await idea_repo.pass_up(s, one, to_unit_id=units["ws"], person_id=li, now=T0)
        assert not await idea_repo.adopt(s, as_read, person_id=li, points=3, now=T0)
        assert not await idea_repo.pass_up(s, as_read, to_unit_id=units["ws"], person_id=li,
                                           now=T0)
        await s.refresh(one)
        assert one.reviewing_unit_id == units["ws"]
        assert await idea_repo.adopt(s, one, person_id=li, points=5, now=T0)
        assert not await idea_repo.decline(s, one, person_id=li, reason="x", now=T0)
        assert await idea_repo.decline(s, two, person_id=li, reason="纸质要保留", now=T0)
        # Submitted in October, adopted in November: counted as adopted in November.
        assert await idea_repo.adopt(s, late, person_id=wu, points=1, now=T0)
        assert await idea_repo.points_of(s, wu) == 5
        assert await idea_repo.state_counts(s, [units["a"], units["b"]]) == {
            "adopted": 2, "declined": 1}

    async with db.session() as s:
        queries = QueryCounter(db)
        with queries:
            total = await idea_repo.totals(s, [units["a"], units["b"]], *NOVEMBER)
        assert queries.count == 1
        assert total == IdeaTotals(submitted=2, adopted=2, points=6)
        october = (datetime(2026, 10, 1, tzinfo=UTC), NOVEMBER[0])
        assert await idea_repo.totals(s, [units["b"]], *october) == IdeaTotals(1, 0, 0)


class QueryCounter:
    """Counts the statements the engine runs inside the block."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine.sync_engine
        self.count = 0

    def _seen(self, *args: object) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *args: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


async def test_who_hears_of_an_incident_at_each_level(db: Database) -> None:
    """Privately who pressed Start; the level's group; mentions there (else in the team
    group) for who did not; a level where nobody can be told is not claimed as told."""
    rt = Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0))
    async with db.transaction() as s:
        park = await org_repo.create_unit(s, key="park", kind=UnitKind.AUTHORITY, name="园区",
                                          parent=None, now=T0)
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="企业",
                                         parent=park, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="车间",
                                        parent=ent, now=T0)
        team = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="甲班",
                                          parent=ws, now=T0)
        for unit, chat_id in ((team, -100), (ws, -200)):
            group = await org_repo.upsert_group_chat(s, chat_id=chat_id, title=unit.name,
                                                     chat_type="group", now=T0)
            await org_repo.bind_chat(s, group, unit, now=T0)
        people = {}
        for telegram_id, name, unit, role, started in (
                (701, "钱经理", ent, Role.MANAGER, True),
                (702, "赵安全", ws, Role.SAFETY_OFFICER, False),
                (703, "周主任", ws, Role.MANAGER, True),
                (704, "孙安全", ent, Role.SAFETY_OFFICER, False),
                (705, "李班长", team, Role.TEAM_LEADER, True)):
            person = await people_repo.upsert_person(s, telegram_id=telegram_id, name=name,
                                                     username=None, language_code="zh", now=T0)
            person.started = started
            s.add(person)
            await org_repo.grant_role(s, person=person, unit=unit, role=role, now=T0)
            people[name] = person
        # Also a manager of the enterprise: one message, not two.
        await org_repo.grant_role(s, person=people["周主任"], unit=ent, role=Role.MANAGER,
                                  now=T0)
    async with db.session() as s:
        loaded = await org_repo.get_unit(s, team.id or 0)
        assert loaded is not None
        audience = await audience_of(s, rt, loaded)
    assert set(audience.chats) == {-100, -200, 701, 703}  # the leader is in the team group
    assert audience.mentions == {-200: [{"id": 702, "name": "赵安全"}],
                                 -100: [{"id": 704, "name": "孙安全"}]}
    assert audience.levels == ["车间", "企业"]  # the park has nobody to tell
