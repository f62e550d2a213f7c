"""Pre-shift meetings and who checked in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import execute_many
from storage.models import Attendance, Person, PreShiftMeeting


async def get(session: AsyncSession, meeting_id: int) -> PreShiftMeeting | None:
    """The meeting with this id."""
    return await session.get(PreShiftMeeting, meeting_id)


async def exists(session: AsyncSession, unit_id: int, shift_key: str,
                 starts_at: datetime) -> bool:
    """Whether this team's meeting for this shift was already posted.

    A shift renamed after its briefing went out keeps its start: no second briefing.
    """
    result = await session.exec(select(PreShiftMeeting.id).where(
        PreShiftMeeting.unit_id == unit_id,
        (col(PreShiftMeeting.shift_key) == shift_key)
        | (col(PreShiftMeeting.starts_at) == starts_at)))
    return result.first() is not None


async def get_many(session: AsyncSession, meeting_ids: Sequence[int]) -> dict[int, PreShiftMeeting]:
    """The meetings with these ids, by id (unknown ids are absent)."""
    if not meeting_ids:
        return {}
    result = await session.exec(select(PreShiftMeeting).where(
        col(PreShiftMeeting.id).in_(sorted(set(meeting_ids)))))
    return {m.id or 0: m for m in result.all()}


async def check_in_many(session: AsyncSession, pairs: Sequence[tuple[int, int]],
                        now: datetime) -> set[tuple[int, int]]:
    """Record many ``(meeting_id, person_id)`` check-ins in one statement; the pairs
    that were new (the others had checked in already)."""
    rows = [{"meeting_id": m, "person_id": p, "checked_in_at": now} for m, p in set(pairs)]
    if not rows:
        return set()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = Attendance.__table__  # type: ignore[attr-defined]
    # Rows as parameters, not in the statement: one compiled statement serves every
    # batch size (a multi-row VALUES was compiled again for each tap's batch).
    result = await execute_many(session, insert(table).on_conflict_do_nothing(
        index_elements=["meeting_id", "person_id"])
        .returning(table.c.meeting_id, table.c.person_id), rows)
    return {(int(m), int(p)) for m, p in result.all()}


async def attendees(session: AsyncSession, meeting_id: int) -> list[Person]:
    """Who checked in, in order of arrival."""
    result = await session.exec(
        select(Person).join(Attendance, col(Attendance.person_id) == Person.id)
        .where(Attendance.meeting_id == meeting_id).order_by(col(Attendance.checked_in_at)))
    return list(result.all())


async def not_held(session: AsyncSession, started_before: datetime,
                   started_after: datetime) -> list[PreShiftMeeting]:
    """Meetings whose shift started in the window and that nobody closed or escalated.

    The window keeps the query on an index range: a year of meetings is a million
    rows, and a meeting missed days ago is history, not news for the workshop.
    """
    result = await session.exec(select(PreShiftMeeting).where(
        col(PreShiftMeeting.starts_at) < started_before,
        col(PreShiftMeeting.starts_at) >= started_after,
        col(PreShiftMeeting.held_at).is_(None), col(PreShiftMeeting.escalated_at).is_(None),
        col(PreShiftMeeting.cancelled_at).is_(None)))
    return list(result.all())


async def claim_escalation(session: AsyncSession, meeting: PreShiftMeeting,
                           now: datetime) -> bool:
    """Mark a meeting escalated unless it was held (or escalated) meanwhile.

    A leader may press "held" while the sweep is deciding; whoever writes first wins,
    and the workshop is never told of a meeting that was held.
    """
    result = await session.exec(
        update(PreShiftMeeting).where(col(PreShiftMeeting.id) == meeting.id,
                                      col(PreShiftMeeting.held_at).is_(None),
                                      col(PreShiftMeeting.escalated_at).is_(None),
                                      col(PreShiftMeeting.cancelled_at).is_(None))
        .values(escalated_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def ended_without_summary(session: AsyncSession, now: datetime,
                                ended_after: datetime) -> list[PreShiftMeeting]:
    """Meetings whose shift ended in the window and whose leader was not yet asked."""
    result = await session.exec(select(PreShiftMeeting).where(
        col(PreShiftMeeting.ends_at) <= now, col(PreShiftMeeting.ends_at) >= ended_after,
        col(PreShiftMeeting.summary_prompted_at).is_(None),
        col(PreShiftMeeting.cancelled_at).is_(None)))
    return list(result.all())


async def mark_roll_call_dirty(session: AsyncSession, meeting: PreShiftMeeting) -> None:
    """Note that the roll call changed and is to be shown (now or after the throttle)."""
    await session.exec(update(PreShiftMeeting).where(col(PreShiftMeeting.id) == meeting.id)
                       .values(roll_call_dirty=True))


async def claim_roll_call_edit(session: AsyncSession, meeting: PreShiftMeeting,
                               now: datetime, edited_before: datetime) -> int | None:
    """Take the right to edit the roll call now: the edit's number, or None when the
    meeting was edited after ``edited_before`` (throttled) or held meanwhile.

    Conditional, so two check-ins at the same moment queue one edit between them;
    the other stays dirty and the sweep shows it when the window has passed.
    """
    result = await session.exec(
        update(PreShiftMeeting).where(
            col(PreShiftMeeting.id) == meeting.id, col(PreShiftMeeting.held_at).is_(None),
            or_(col(PreShiftMeeting.last_edit_at).is_(None),
                col(PreShiftMeeting.last_edit_at) <= edited_before))
        .values(last_edit_at=now, roll_call_dirty=False,
                roll_call_edits=col(PreShiftMeeting.roll_call_edits) + 1)
        .returning(col(PreShiftMeeting.roll_call_edits)))
    number = result.scalars().first()
    return int(number) if number is not None else None


async def stale_roll_calls(session: AsyncSession, edited_before: datetime,
                           limit: int = 500) -> list[PreShiftMeeting]:
    """Open meetings whose roll call changed and may be edited again (throttled)."""
    result = await session.exec(select(PreShiftMeeting).where(
        PreShiftMeeting.roll_call_dirty == True,  # noqa: E712
        col(PreShiftMeeting.held_at).is_(None),
        or_(col(PreShiftMeeting.last_edit_at).is_(None),
            col(PreShiftMeeting.last_edit_at) <= edited_before)).limit(limit))
    return list(result.all())
