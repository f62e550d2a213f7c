"""Hazards, their photos, their history, and report drafts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.escalation import SeverityPolicy, escalate_due
from domain.hazard import OPEN_STATES, HazardState, Severity, hazard_code
from storage.models import Hazard, HazardEvent, HazardPhoto, ReporterPoints

SEVERITY_ORDER = {Severity.MAJOR.value: 0, Severity.SERIOUS.value: 1, Severity.GENERAL.value: 2}


async def next_code(session: AsyncSession, day: str) -> str:
    """The next free code of the day, e.g. ``YH-20261122-0007``."""
    prefix = hazard_code(day, 0)[:-4]
    result = await session.exec(
        select(func.count()).select_from(Hazard).where(col(Hazard.code).startswith(prefix)))
    return hazard_code(day, int(result.one()) + 1)


async def create_hazard(
    session: AsyncSession,
    *,
    unit_id: int,
    reporter_id: int,
    severity: Severity,
    category: str,
    location_text: str | None,
    latitude: float | None,
    longitude: float | None,
    description: str | None,
    photos: Sequence[tuple[str, str, str | None]],
    now: datetime,
    day: str,
    policy: SeverityPolicy,
) -> Hazard:
    """Register a reported hazard and start its acknowledgement clock.

    Args:
        photos: (file_id, file_unique_id, local path) of each photo.
        day: The reporting day in the team's time zone, ``YYYYMMDD``, for the code.
    """
    deadline = now + policy.acknowledge_within
    hazard = Hazard(code=await next_code(session, day), unit_id=unit_id, team_unit_id=unit_id,
                    reporter_id=reporter_id, state=HazardState.REPORTED,
                    severity=severity, category=category, location_text=location_text,
                    latitude=latitude, longitude=longitude, description=description,
                    reported_at=now, updated_at=now,
                    **start_clock(policy, "ack", deadline, now))
    session.add(hazard)
    await session.flush()
    for file_id, unique_id, local_path in photos:
        session.add(HazardPhoto(hazard_id=hazard.id or 0, kind="before", file_id=file_id,
                                file_unique_id=unique_id, local_path=local_path,
                                created_at=now))
    await record_event(session, hazard, at=now, actor_id=reporter_id, action="reported",
                       to_state=HazardState.REPORTED.value)
    return hazard


def start_clock(policy: SeverityPolicy, watch: str, deadline: datetime,
                now: datetime) -> dict[str, Any]:
    """The columns that (re)start a hazard's escalation clock on ``deadline``.

    The one place a clock starts: acknowledging on report, rectifying on acknowledge,
    reopen and a new 五落实 deadline all write these same values.

    Args:
        watch: Which deadline is watched, ``"ack"`` or ``"rectify"``.
    """
    first = escalate_due(policy, deadline, alerted_level=-1, last_alert_at=None, now=now)
    return {"watch": watch, "watch_deadline": deadline, "alerted_level": -1,
            "last_alert_at": None, "next_escalation_at": first.next_at}


async def record_event(session: AsyncSession, hazard: Hazard, *, at: datetime,
                       actor_id: int | None, action: str, from_state: str | None = None,
                       to_state: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append one line to the hazard's history (never updated, never deleted)."""
    session.add(HazardEvent(hazard_id=hazard.id or 0, at=at, actor_id=actor_id, action=action,
                            from_state=HazardState(from_state) if from_state else None,
                            to_state=HazardState(to_state) if to_state else None,
                            detail=json.dumps(detail, ensure_ascii=False) if detail else None))


async def record_events(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Append many events in one statement (sweeps)."""
    if not events:
        return
    await session.exec(insert(HazardEvent), params=[
        {"hazard_id": e["hazard_id"], "at": e["at"], "actor_id": e.get("actor_id"),
         "action": e["action"], "from_state": e.get("from_state"),
         "to_state": e.get("to_state"),
         "detail": json.dumps(e["detail"], ensure_ascii=False) if e.get("detail") else None}
        for e in events])


async def update_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Update many hazards by id in one executemany (sweeps; each dict holds "id")."""
    if rows:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:  # one statement per set of columns
            groups.setdefault(tuple(sorted(row)), []).append(row)
        for group in groups.values():
            await session.exec(update(Hazard), params=group)


async def history(session: AsyncSession, hazard_id: int) -> list[HazardEvent]:
    """A hazard's events, oldest first."""
    result = await session.exec(select(HazardEvent).where(HazardEvent.hazard_id == hazard_id)
                                .order_by(col(HazardEvent.id)))
    return list(result.all())


async def photos_of(session: AsyncSession, hazard_id: int) -> list[HazardPhoto]:
    """A hazard's photos, in order."""
    result = await session.exec(select(HazardPhoto).where(HazardPhoto.hazard_id == hazard_id)
                                .order_by(col(HazardPhoto.id)))
    return list(result.all())


async def find_duplicate(session: AsyncSession, *, unit_id: int, unique_ids: Sequence[str],
                         since: datetime) -> Hazard | None:
    """A hazard of the same unit reported since ``since`` with one of these photos."""
    if not unique_ids:
        return None
    result = await session.exec(
        select(Hazard).join(HazardPhoto, col(HazardPhoto.hazard_id) == Hazard.id)
        .where(Hazard.team_unit_id == unit_id, col(Hazard.reported_at) >= since,
               col(HazardPhoto.file_unique_id).in_(list(unique_ids))))
    return result.first()


async def get_hazard(session: AsyncSession, hazard_id: int) -> Hazard | None:
    """The hazard with this id."""
    return await session.get(Hazard, hazard_id)


async def get_by_code(session: AsyncSession, code: str) -> Hazard | None:
    """The hazard with this code (case-insensitive)."""
    result = await session.exec(select(Hazard).where(Hazard.code == code.strip().upper()))
    return result.first()


async def save_if_unchanged(session: AsyncSession, hazard: Hazard, expected_version: int,
                            values: dict[str, Any]) -> bool:
    """Write ``values`` only if nobody changed the hazard since ``expected_version``.

    Two leaders pressing "acknowledge" at the same moment: one write wins, the
    other finds the version moved on and is told.
    """
    result = await session.exec(
        update(Hazard).where(col(Hazard.id) == hazard.id, col(Hazard.version) == expected_version)
        .values(**values, version=expected_version + 1))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(hazard)
    return True


async def due_for_escalation(session: AsyncSession, now: datetime, limit: int = 500
                             ) -> list[Hazard]:
    """Open hazards whose next escalation time has come (an indexed range read).

    On PostgreSQL the rows are locked for the caller's transaction and rows another
    sweep holds are skipped: two instances sweeping at once (a hot standby's
    split-brain moment) never escalate the same hazard twice.
    """
    query = select(Hazard).where(col(Hazard.next_escalation_at) <= now) \
        .order_by(col(Hazard.next_escalation_at)).limit(limit)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    result = await session.exec(query)
    return list(result.all())


async def open_hazards(session: AsyncSession, unit_ids: Sequence[int]) -> list[Hazard]:
    """Open hazards owned by these units, most urgent first."""
    if not unit_ids:
        return []
    result = await session.exec(
        select(Hazard).where(col(Hazard.unit_id).in_(list(unit_ids)),
                             col(Hazard.state).in_([s.value for s in OPEN_STATES])))
    hazards = list(result.all())
    far = datetime.max.replace(tzinfo=hazards[0].reported_at.tzinfo) if hazards else None
    hazards.sort(key=lambda h: (SEVERITY_ORDER.get(h.severity, 9), h.watch_deadline or far,
                                h.reported_at))
    return hazards


async def award_points(session: AsyncSession, *, hazard: Hazard, points: int,
                       now: datetime) -> bool:
    """Credit the reporter once for a verified hazard. False if already credited."""
    existing = await session.exec(select(ReporterPoints.id).where(
        ReporterPoints.hazard_id == hazard.id))
    if existing.first() is not None:
        return False
    session.add(ReporterPoints(person_id=hazard.reporter_id, hazard_id=hazard.id or 0,
                               points=points, awarded_at=now))
    await session.flush()
    return True


async def points_of(session: AsyncSession, person_id: int) -> int:
    """A reporter's total points."""
    result = await session.exec(select(func.coalesce(func.sum(ReporterPoints.points), 0))
                                .where(ReporterPoints.person_id == person_id))
    return int(result.one())


async def reports_of(session: AsyncSession, person_id: int, *, open_: bool,
                     limit: int) -> list[Hazard]:
    """The hazards a person reported, open ones or finished ones, newest first."""
    states = [s.value for s in OPEN_STATES]
    state = col(Hazard.state)
    result = await session.exec(
        select(Hazard).where(Hazard.reporter_id == person_id,
                             state.in_(states) if open_ else state.not_in(states))
        .order_by(col(Hazard.reported_at).desc(), col(Hazard.id).desc()).limit(limit))
    return list(result.all())


async def report_counts(session: AsyncSession, person_id: int) -> dict[str, int]:
    """How many hazards a person reported, by state."""
    result = await session.exec(
        select(Hazard.state, func.count()).where(Hazard.reporter_id == person_id)
        .group_by(col(Hazard.state)))
    return {state: int(count) for state, count in result.all()}


def add_photo(session: AsyncSession, hazard: Hazard, *, kind: str, file_id: str,
              unique_id: str, local_path: str | None, now: datetime) -> None:
    """Attach a photo (``after`` for the fix) to a hazard."""
    session.add(HazardPhoto(hazard_id=hazard.id or 0, kind=kind, file_id=file_id,
                            file_unique_id=unique_id, local_path=local_path, created_at=now))


async def set_photo_paths(session: AsyncSession, hazard_id: int, kind: str,
                          paths: Mapping[str, str]) -> int:
    """Record where the bot keeps copies of a hazard's photos (by unique id); photos
    already kept are left alone. Returns how many rows changed."""
    changed = 0
    for unique_id, local_path in paths.items():
        result = await session.exec(
            update(HazardPhoto)
            .where(col(HazardPhoto.hazard_id) == hazard_id, col(HazardPhoto.kind) == kind,
                   col(HazardPhoto.file_unique_id) == unique_id,
                   col(HazardPhoto.local_path).is_(None))
            .values(local_path=local_path))
        changed += result.rowcount or 0  # type: ignore[attr-defined]
    return changed
