"""Drills (预案演练): the drill, its teams and their posts, attendance, lapses told."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Drill, DrillAttendance, DrillLapse, DrillTeam, Person


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


async def get(session: AsyncSession, drill_id: int) -> Drill | None:
    """The drill with this id."""
    return await session.get(Drill, drill_id)


async def add(session: AsyncSession, drill: Drill, unit_ids: Sequence[int]) -> Drill:
    """Store a new drill and the teams taking part."""
    session.add(drill)
    await session.flush()
    for unit_id in dict.fromkeys(unit_ids):
        session.add(DrillTeam(drill_id=drill.id or 0, unit_id=unit_id))
    await session.flush()
    return drill


async def teams_of(session: AsyncSession, drill_id: int) -> list[DrillTeam]:
    """The teams taking part, in the order they were chosen."""
    result = await session.exec(select(DrillTeam).where(DrillTeam.drill_id == drill_id)
                                .order_by(col(DrillTeam.id)))
    return list(result.all())


async def team_in_chat(session: AsyncSession, drill_id: int, chat_id: int) -> DrillTeam | None:
    """The drill's team whose post is in this group chat, if any."""
    result = await session.exec(select(DrillTeam).where(DrillTeam.drill_id == drill_id,
                                                        DrillTeam.chat_id == chat_id))
    return result.first()


async def not_started(session: AsyncSession, starts_before: datetime,
                      limit: int = 500) -> list[Drill]:
    """Drills not yet started (nor closed) that start before the given moment."""
    result = await session.exec(select(Drill).where(
        col(Drill.started_at).is_(None), col(Drill.closed_at).is_(None),
        col(Drill.starts_at) <= starts_before).order_by(col(Drill.starts_at)).limit(limit))
    return list(result.all())


async def claim_start(session: AsyncSession, drill: Drill, now: datetime) -> bool:
    """Mark the drill started unless it was meanwhile: its posts go out once."""
    result = await session.exec(update(Drill).where(  # type: ignore[call-overload]
        col(Drill.id) == drill.id, col(Drill.started_at).is_(None)).values(started_at=now))
    return bool(result.rowcount)


async def claim_reminder(session: AsyncSession, drill: Drill, rounds_done: int) -> bool:
    """Record that reminder rounds up to ``rounds_done`` went out, unless they had."""
    result = await session.exec(update(Drill).where(  # type: ignore[call-overload]
        col(Drill.id) == drill.id, col(Drill.started_at).is_(None),
        col(Drill.reminders_done) < rounds_done).values(reminders_done=rounds_done))
    return bool(result.rowcount)


async def attend(session: AsyncSession, drill_team: DrillTeam, person_id: int,
                 now: datetime) -> bool:
    """Record a member present; False when they were already."""
    insert = _insert(session)
    result = await session.exec(insert(DrillAttendance).values(  # type: ignore[call-overload]
        drill_id=drill_team.drill_id, drill_team_id=drill_team.id, person_id=person_id,
        at=now).on_conflict_do_nothing(index_elements=["drill_id", "person_id"])
        .returning(col(DrillAttendance.id)))
    return result.first() is not None


async def attendees(session: AsyncSession, drill_team: DrillTeam) -> list[Person]:
    """Who tapped "present" in this team's group, in order of tapping."""
    result = await session.exec(
        select(Person).join(DrillAttendance, col(DrillAttendance.person_id) == Person.id)
        .where(DrillAttendance.drill_team_id == drill_team.id)
        .order_by(col(DrillAttendance.at), col(DrillAttendance.id)))
    return list(result.all())


async def attendee_ids(session: AsyncSession, drill_id: int) -> set[int]:
    """Everyone recorded present at the drill, whichever team."""
    result = await session.exec(select(DrillAttendance.person_id)
                                .where(DrillAttendance.drill_id == drill_id))
    return set(result.all())


async def claim_close(session: AsyncSession, drill: Drill, *, now: datetime,
                      closed_by: int | None, went_well: str, problems: str,
                      measures: str) -> bool:
    """Record the findings and close the drill, unless someone closed it meanwhile."""
    result = await session.exec(update(Drill).where(  # type: ignore[call-overload]
        col(Drill.id) == drill.id, col(Drill.closed_at).is_(None)).values(
        closed_at=now, closed_by=closed_by, went_well=went_well, problems=problems,
        measures=measures))
    return bool(result.rowcount)


async def mark_roll_call_dirty(session: AsyncSession, drill_team: DrillTeam) -> None:
    """Note that the team's roll call changed and is to be shown (now or after the throttle)."""
    await session.exec(update(DrillTeam).where(  # type: ignore[call-overload]
        col(DrillTeam.id) == drill_team.id).values(roll_call_dirty=True))


async def claim_roll_call_edit(session: AsyncSession, drill_team: DrillTeam, now: datetime,
                               edited_before: datetime) -> int | None:
    """Take the right to edit the team's roll call now: the edit's number, or None when
    it was edited after ``edited_before`` (throttled) or the drill closed meanwhile."""
    open_drill = select(Drill.id).where(col(Drill.closed_at).is_(None))
    result = await session.exec(update(DrillTeam).where(  # type: ignore[call-overload]
        col(DrillTeam.id) == drill_team.id, col(DrillTeam.drill_id).in_(open_drill),
        or_(col(DrillTeam.last_edit_at).is_(None),
            col(DrillTeam.last_edit_at) <= edited_before))
        .values(last_edit_at=now, roll_call_dirty=False,
                roll_call_edits=col(DrillTeam.roll_call_edits) + 1)
        .returning(col(DrillTeam.roll_call_edits)))
    number = result.scalars().first()
    return int(number) if number is not None else None


async def stale_roll_calls(session: AsyncSession, edited_before: datetime,
                           limit: int = 500) -> list[DrillTeam]:
    """Teams of open drills whose roll call changed and may be edited again (throttled)."""
    open_drill = select(Drill.id).where(col(Drill.closed_at).is_(None))
    result = await session.exec(select(DrillTeam).where(
        DrillTeam.roll_call_dirty == True,  # noqa: E712
        col(DrillTeam.drill_id).in_(open_drill),
        or_(col(DrillTeam.last_edit_at).is_(None),
            col(DrillTeam.last_edit_at) <= edited_before)).limit(limit))
    return list(result.all())


async def of_units(session: AsyncSession, unit_ids: Sequence[int], *, since: datetime,
                   limit: int = 20) -> list[Drill]:
    """Drills any of these teams take part in, starting from ``since``, soonest first."""
    if not unit_ids:
        return []
    taking_part = select(DrillTeam.drill_id).where(col(DrillTeam.unit_id).in_(list(unit_ids)))
    result = await session.exec(select(Drill).where(
        col(Drill.id).in_(taking_part), col(Drill.starts_at) >= since)
        .order_by(col(Drill.starts_at)).limit(limit))
    return list(result.all())


async def open_of_units(session: AsyncSession, unit_ids: Sequence[int], *,
                        started_before: datetime, limit: int = 20) -> list[Drill]:
    """Drills of these teams that began by ``started_before`` and have no findings yet."""
    if not unit_ids:
        return []
    taking_part = select(DrillTeam.drill_id).where(col(DrillTeam.unit_id).in_(list(unit_ids)))
    result = await session.exec(select(Drill).where(
        col(Drill.id).in_(taking_part), col(Drill.closed_at).is_(None),
        col(Drill.starts_at) <= started_before)
        .order_by(col(Drill.starts_at)).limit(limit))
    return list(result.all())


async def last_held(session: AsyncSession, kinds: Sequence[str]) -> dict[int, datetime]:
    """For each team: when its latest drill of ``kinds`` with findings recorded started."""
    result = await session.exec(
        select(DrillTeam.unit_id, func.max(Drill.starts_at))
        .join(Drill, col(Drill.id) == col(DrillTeam.drill_id))
        .where(col(Drill.kind).in_(list(kinds)), col(Drill.closed_at).is_not(None))
        .group_by(col(DrillTeam.unit_id)))
    return {unit_id: at for unit_id, at in result.all()}


async def record_lapse(session: AsyncSession, *, unit_id: int, rule: str, due_on: str,
                       now: datetime) -> bool:
    """Remember that a unit's lapse was told; False when it had been (told once)."""
    insert = _insert(session)
    result = await session.exec(insert(DrillLapse).values(  # type: ignore[call-overload]
        unit_id=unit_id, rule=rule, due_on=due_on, told_at=now)
        .on_conflict_do_nothing(index_elements=["unit_id", "rule", "due_on"])
        .returning(col(DrillLapse.id)))
    return result.first() is not None


async def lapses_told(session: AsyncSession, rule: str) -> set[tuple[int, str]]:
    """(unit id, due day) of every lapse of ``rule`` already told."""
    result = await session.exec(select(DrillLapse.unit_id, DrillLapse.due_on)
                                .where(DrillLapse.rule == rule))
    return {(unit_id, due) for unit_id, due in result.all()}
