"""Reading the ledger: hazards of some units in a date range, with names resolved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.hazard import OPEN_STATES, HazardState
from domain.ledger import LedgerRow
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.models import Hazard


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
