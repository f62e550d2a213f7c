"""Accident quick reports (事故快报) and their events; the figures the monthly report reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.incident import IncidentEventKind, IncidentState, Injury
from storage.models import Incident, IncidentEvent, OutboxMessage


async def get(session: AsyncSession, incident_id: int) -> Incident | None:
    """The incident with this id."""
    return await session.get(Incident, incident_id)


async def create(session: AsyncSession, *, day: str, **values: Any) -> Incident:
    """Register an incident; its code is ``SG-<day>-<id>`` (事故, unique by the id)."""
    incident = Incident(state=IncidentState.OPEN, **values)
    session.add(incident)
    await session.flush()
    incident.code = f"SG-{day}-{incident.id:04d}"
    session.add(incident)
    await session.flush()
    return incident


async def add_event(session: AsyncSession, incident: Incident, *, kind: IncidentEventKind,
                    actor_id: int, at: datetime, injured: int | None = None,
                    injury: Injury | None = None, text: str | None = None) -> IncidentEvent:
    """Append a step to the incident's history (never changed afterwards)."""
    event = IncidentEvent(incident_id=incident.id or 0, kind=kind, actor_id=actor_id, at=at,
                          injured=injured, injury=injury, text=text)
    session.add(event)
    await session.flush()
    return event


async def events_of(session: AsyncSession, incident_ids: Sequence[int]) -> list[IncidentEvent]:
    """The events of these incidents, oldest first."""
    if not incident_ids:
        return []
    result = await session.exec(select(IncidentEvent).where(
        col(IncidentEvent.incident_id).in_(list(incident_ids)))
        .order_by(col(IncidentEvent.at), col(IncidentEvent.id)))
    return list(result.all())


async def set_casualties(session: AsyncSession, incident: Incident, injured: int,
                         injury: Injury) -> bool:
    """The latest count and degree, unless the incident was closed meanwhile."""
    result = await session.exec(update(Incident).where(
        col(Incident.id) == incident.id, col(Incident.state) != IncidentState.CLOSED.value)
        .values(injured=injured, injury=injury.value))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_controlled(session: AsyncSession, incident: Incident, *, person_id: int,
                          now: datetime) -> bool:
    """Under control: once (two officers pressing at once: one wins)."""
    result = await session.exec(update(Incident).where(
        col(Incident.id) == incident.id, col(Incident.state) == IncidentState.OPEN.value)
        .values(state=IncidentState.CONTROLLED.value, controlled_at=now,
                controlled_by=person_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def close(session: AsyncSession, incident: Incident, *, person_id: int, now: datetime,
                cause: str, measures: str, lessons: str) -> bool:
    """The final report closes the incident: once."""
    result = await session.exec(update(Incident).where(
        col(Incident.id) == incident.id, col(Incident.state) != IncidentState.CLOSED.value)
        .values(state=IncidentState.CLOSED.value, closed_at=now, closed_by=person_id,
                cause=cause, measures=measures, lessons=lessons))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def in_units(session: AsyncSession, unit_ids: Sequence[int], since: datetime,
                   until: datetime) -> list[Incident]:
    """Incidents of these units that happened in [since, until), oldest first."""
    if not unit_ids:
        return []
    result = await session.exec(select(Incident).where(
        col(Incident.unit_id).in_(list(unit_ids)), col(Incident.occurred_at) >= since,
        col(Incident.occurred_at) < until).order_by(col(Incident.occurred_at)))
    return list(result.all())


async def message_keys(session: AsyncSession, incident_id: int) -> list[str]:
    """The outbox keys of every message announcing this incident (their buttons go at close)."""
    result = await session.exec(select(OutboxMessage.dedupe_key).where(
        col(OutboxMessage.dedupe_key).like(f"incident:{incident_id}:%")))
    return [key for key in result.all() if key and "#" not in key]


# ------------------------------------------------------------------ figures


@dataclass(frozen=True)
class IncidentTotals:
    """Incidents of some units in a period: how many, people hurt, how many with a death."""

    incidents: int = 0
    injured: int = 0
    fatal: int = 0
    open: int = 0  # not closed by a final report yet


def _totals_columns() -> list[Any]:
    return [func.count(col(Incident.id)), func.coalesce(func.sum(col(Incident.injured)), 0),
            func.coalesce(func.sum(case((col(Incident.injury) == Injury.FATAL.value, 1),
                                        else_=0)), 0),
            func.coalesce(func.sum(case((col(Incident.state) != IncidentState.CLOSED.value, 1),
                                        else_=0)), 0)]


async def totals(session: AsyncSession, unit_ids: Sequence[int], since: datetime,
                 until: datetime) -> IncidentTotals:
    """Incidents of ``unit_ids`` that happened in [since, until): one aggregate query."""
    if not unit_ids:
        return IncidentTotals()
    result = await session.exec(select(*_totals_columns()).where(  # type: ignore[call-overload]
        col(Incident.unit_id).in_(list(unit_ids)), col(Incident.occurred_at) >= since,
        col(Incident.occurred_at) < until))
    count, injured, fatal, open_ = result.one()
    return IncidentTotals(int(count), int(injured), int(fatal), int(open_))


async def totals_by_unit(session: AsyncSession, unit_ids: Sequence[int], since: datetime,
                         until: datetime) -> dict[int, IncidentTotals]:
    """:func:`totals` per unit (units without incidents left out): one grouped query."""
    if not unit_ids:
        return {}
    result = await session.exec(select(  # type: ignore[call-overload]
        col(Incident.unit_id), *_totals_columns()).where(
        col(Incident.unit_id).in_(list(unit_ids)), col(Incident.occurred_at) >= since,
        col(Incident.occurred_at) < until).group_by(col(Incident.unit_id)))
    return {int(unit_id): IncidentTotals(int(count), int(injured), int(fatal), int(open_))
            for unit_id, count, injured, fatal, open_ in result.all()}
