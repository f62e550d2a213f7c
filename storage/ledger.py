"""Reading the ledger: hazards, handovers and meetings of some units in a date range."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.hazard import OPEN_STATES, HazardState
from domain.ledger import HandoverRow, LedgerRow, MeetingRow
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.models import Attendance, Handover, Hazard, Person, PreShiftMeeting


async def ledger_rows(session: AsyncSession, *, unit_ids: Sequence[int], since: datetime,
                      until: datetime, name_of: Callable[[str, str], str]) -> list[LedgerRow]:
    """Hazards reported in [since, until) whose team or owner is among ``unit_ids``.

    Args:
        name_of: ``(kind, key) -> text`` for categories ("category"), severities
            ("severity") and states ("state") in the reader's language.
    """
    ids = list(unit_ids)
    result = await session.exec(
        select(Hazard).where(
            (col(Hazard.team_unit_id).in_(ids)) | (col(Hazard.unit_id).in_(ids)),
            col(Hazard.reported_at) >= since, col(Hazard.reported_at) < until)
        .order_by(col(Hazard.reported_at)))
    hazards = list(result.all())
    people = {p.id: p.name for p in await people_repo.people_by_ids(
        session, [i for h in hazards for i in (h.reporter_id, h.responsible_id) if i])}
    units = {u.id: u.name for u in await org_repo.all_units(session)}
    rows = []
    for hazard in hazards:
        photos = await hazard_repo.photos_of(session, hazard.id or 0)
        rows.append(LedgerRow(
            code=hazard.code, reported_at=hazard.reported_at,
            team=units.get(hazard.team_unit_id, ""), reporter=people.get(hazard.reporter_id, ""),
            location=hazard.location_text or "", category=name_of("category", hazard.category),
            severity=name_of("severity", hazard.severity), description=hazard.description or "",
            responsible=people.get(hazard.responsible_id, "") if hazard.responsible_id else "",
            measures=hazard.measures or "", funds=hazard.funds or "", deadline=hazard.deadline,
            contingency=hazard.contingency or "", state=name_of("state", hazard.state),
            acknowledged_at=hazard.acknowledged_at, rectified_at=hazard.rectified_at,
            verified_at=hazard.verified_at, closed_at=hazard.closed_at,
            open=HazardState(hazard.state) in OPEN_STATES,
            photos=[f"{p.kind}: {p.local_path or 'telegram:' + p.file_id}" for p in photos]))
    return rows


async def handover_rows(session: AsyncSession, *, unit_ids: Sequence[int], since: datetime,
                        until: datetime, name_of: Callable[[str, str], str]) -> list[HandoverRow]:
    """Handovers of ``unit_ids`` made in [since, until), oldest first.

    Args:
        name_of: ``("handover_state", state) -> text`` in the reader's language.
    """
    result = await session.exec(
        select(Handover).where(col(Handover.unit_id).in_(list(unit_ids)),
                               col(Handover.created_at) >= since,
                               col(Handover.created_at) < until)
        .order_by(col(Handover.created_at)))
    handovers = list(result.all())
    people = {p.id: p.name for p in await people_repo.people_by_ids(
        session, [i for h in handovers for i in (h.outgoing_id, h.incoming_id, h.accepted_by)
                  if i])}
    units = {u.id: u.name for u in await org_repo.all_units(session)}
    return [HandoverRow(
        created_at=h.created_at, team=units.get(h.unit_id, ""),
        outgoing=people.get(h.outgoing_id, ""),
        incoming=people.get(h.incoming_id, "") if h.incoming_id else "",
        equipment=h.equipment, work_in_progress=h.work_in_progress,
        safety_notes=h.safety_notes, open_hazards=h.open_hazards, notes=h.notes or "",
        state=name_of("handover_state", h.state), accepted_at=h.accepted_at,
        accepted_by=people.get(h.accepted_by, "") if h.accepted_by else "",
        reminded_at=h.reminded_at, escalated_at=h.escalated_at) for h in handovers]


async def meeting_rows(session: AsyncSession, *, unit_ids: Sequence[int], since: datetime,
                       until: datetime) -> list[MeetingRow]:
    """Pre-shift meetings of ``unit_ids`` whose shift started in [since, until), with attendees.

    Meetings of shifts cancelled after their briefing never took place and are left out.
    """
    result = await session.exec(
        select(PreShiftMeeting).where(col(PreShiftMeeting.unit_id).in_(list(unit_ids)),
                                      col(PreShiftMeeting.cancelled_at).is_(None),
                                      col(PreShiftMeeting.starts_at) >= since,
                                      col(PreShiftMeeting.starts_at) < until)
        .order_by(col(PreShiftMeeting.starts_at), col(PreShiftMeeting.unit_id)))
    meetings = list(result.all())
    attendees: dict[int, list[str]] = {}
    if meetings:
        checked = await session.exec(
            select(Attendance.meeting_id, Person.name)
            .join(Person, col(Person.id) == col(Attendance.person_id))
            .where(col(Attendance.meeting_id).in_([m.id for m in meetings]))
            .order_by(col(Attendance.checked_in_at)))
        for meeting_id, name in checked.all():
            attendees.setdefault(meeting_id, []).append(name)
    leaders = {p.id: p.name for p in await people_repo.people_by_ids(
        session, [m.held_by for m in meetings if m.held_by])}
    units = {u.id: u.name for u in await org_repo.all_units(session)}
    return [MeetingRow(
        starts_at=m.starts_at, team=units.get(m.unit_id, ""), shift=m.shift_name,
        posted_at=m.posted_at, held_at=m.held_at,
        held_by=leaders.get(m.held_by, "") if m.held_by else "",
        escalated_at=m.escalated_at, attendees=attendees.get(m.id or 0, []))
        for m in meetings]
