"""Exports of the team ledger: hazards, handovers and pre-shift attendance as XLSX.

``/export`` in chat and ``safetybot ledger export`` both land here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category
from content.render import Renderer
from domain.org import Role, role_rank
from services import inspections
from services.base import Actor, Outcome, Runtime
from services.incident_notices import ledger_rows as incident_rows
from services.ledger_xlsx import ledger_workbook
from services.training import sheet_rows
from storage import org as org_repo
from storage.ledger import handover_rows, ledger_rows, meeting_rows
from storage.models import Unit


def ledger_names(renderer: Renderer, lang: str) -> Callable[[str, str], str]:
    """``(kind, key) -> name`` for the ledger: categories, severities and states."""

    def name_of(kind: str, key: str) -> str:
        if kind == "category":
            found = category(key)
            return found.name(lang) if found else key
        return renderer.plain(f"{kind}.{key}", lang)

    return name_of


@dataclass(frozen=True)
class LedgerFile:
    """The ledger workbook and how many rows each sheet has."""

    data: bytes
    hazards: int
    handovers: int
    meetings: int
    training: int = 0
    checks: int = 0
    incidents: int = 0


@dataclass
class LedgerOutcome(Outcome):
    """An export: the outcome, and the file when there is one."""

    file: LedgerFile | None = field(default=None)


class UnknownUnit(LookupError):
    """A unit key that names no unit."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


async def ledger_file(session: AsyncSession, renderer: Renderer, *, roots: Sequence[Unit],
                      since: datetime, until: datetime, lang: str, timezone: str,
                      now: datetime) -> LedgerFile:
    """The XLSX ledger of everything under ``roots`` in [since, until).

    Hazards by report date, handovers by when they were made, meetings by shift start.
    """
    unit_ids = [u.id or 0 for root in roots for u in await org_repo.subtree(session, root)]
    name_of = ledger_names(renderer, lang)
    rows = await ledger_rows(session, unit_ids=unit_ids, since=since, until=until,
                             name_of=name_of)
    handovers = await handover_rows(session, unit_ids=unit_ids, since=since, until=until,
                                    name_of=name_of)
    meetings = await meeting_rows(session, unit_ids=unit_ids, since=since, until=until)
    # The training record (安全培训档案) of the same units and period: issue 13.
    training = [[row.person, row.team, named.kind, named.what, named.result, row.at]
                for row, named in await sheet_rows(session, renderer, unit_ids=unit_ids,
                                                   since=since, until=until, lang=lang)]
    # The checks (检查) by when they fell due, each answer a row: issue 14.
    checks = await inspections.sheet_rows(session, renderer, unit_ids=unit_ids, since=since,
                                          until=until, lang=lang)
    # Incidents (事故台账) that happened in the period: issue 14.
    incidents = await incident_rows(session, renderer, unit_ids=unit_ids, since=since,
                                    until=until, lang=lang, timezone=timezone)
    title = "隐患台账" if lang == "zh" else "Hazard ledger"
    data = ledger_workbook(rows, lang=lang, timezone=timezone, now=now, title=title,
                           handovers=handovers, meetings=meetings, training=training,
                           checks=checks, incidents=incidents)
    return LedgerFile(data, len(rows), len(handovers), len(meetings), len(training),
                      len(checks), incidents=len(incidents))


async def export_for(rt: Runtime, actor: Actor, *, since: datetime,
                     until: datetime) -> LedgerOutcome:
    """The ledger of the units ``actor`` leads (everything for a bot admin), in [since, until).

    Refused (``export.not_allowed``) for anyone below team leader.
    """
    now = rt.clock.now()
    async with rt.db.session() as session:
        if actor.is_bot_admin:
            roots = [u for u in await org_repo.all_units(session) if u.parent_id is None]
        else:
            rows = await org_repo.role_rows_of(session, actor.person_id)
            roots = [u for g, u in rows if role_rank(g.role) >= role_rank(Role.TEAM_LEADER)]
        if not roots:
            return LedgerOutcome(False, "export.not_allowed")
        ledger = await ledger_file(session, rt.renderer, roots=roots, since=since,
                                   until=until, lang=actor.language,
                                   timezone=rt.default_timezone, now=now)
    last_day = until - timedelta(seconds=1)
    return LedgerOutcome(
        True, "export.caption",
        {"units": " / ".join(r.name for r in roots), "since": f"{since:%Y-%m-%d}",
         "until": f"{last_day:%Y-%m-%d}", "hazards": ledger.hazards,
         "handovers": ledger.handovers, "meetings": ledger.meetings},
        file=ledger)


async def export_units(rt: Runtime, unit_keys: Sequence[str], *, since: datetime,
                       until: datetime, lang: str) -> LedgerFile:
    """The ledger of the units with these keys (the operator's export, no rights asked).

    Raises:
        UnknownUnit: a key names no unit.
    """
    async with rt.db.session() as session:
        roots = []
        for key in unit_keys:
            unit = await org_repo.get_unit_by_key(session, key)
            if unit is None:
                raise UnknownUnit(key)
            roots.append(unit)
        return await ledger_file(session, rt.renderer, roots=roots, since=since,
                                 until=until, lang=lang, timezone=rt.default_timezone,
                                 now=rt.clock.now())
