"""The drill rules from the seeds, checked against the database (domain/drills.py decides).

Every team an on-site drill at least every six months, every enterprise a
comprehensive or special drill at least every year; a drill counts once its
findings are recorded. A unit fallen behind is told to its enterprise's managers
once per lapse: the lapse is named by its due day and remembered (``drill_lapse``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.drills import ENTERPRISE_MAJOR, TEAM_ONSITE, DrillRule, due_on, is_lapsed
from domain.org import Role, UnitKind, path_ids
from services.base import Runtime
from storage import drills as drill_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import Unit

log = logging.getLogger(__name__)


async def check_rules(rt: Runtime, now: datetime) -> int:
    """Tell the enterprise's managers, once per lapse, of every team without an on-site
    drill within six months and every enterprise without a comprehensive or special
    drill within a year (``domain.drills.RULES``). Returns how many lapses were told.

    Read whole from the database each time: a restart forgets nothing, and the lapse
    rows make "once" hold across restarts.
    """
    told = 0
    async with rt.db.transaction() as session:
        units = await org_repo.all_units(session)
        by_id = {u.id: u for u in units}
        onsite = await drill_repo.last_held(session, sorted(TEAM_ONSITE.types))
        major = await drill_repo.last_held(session, sorted(ENTERPRISE_MAJOR.types))
        known = {rule.name: await drill_repo.lapses_told(session, rule.name)
                 for rule in (TEAM_ONSITE, ENTERPRISE_MAJOR)}

        def enterprise_of(unit: Unit) -> Unit | None:
            for unit_id in path_ids(unit.path):
                above = by_id.get(unit_id)
                if above is not None and above.kind == UnitKind.ENTERPRISE:
                    return above
            return None

        for unit in units:
            if unit.kind == UnitKind.TEAM:
                rule, held = TEAM_ONSITE, onsite.get(unit.id or 0)
            elif unit.kind == UnitKind.ENTERPRISE:
                rule = ENTERPRISE_MAJOR
                times = [at for team_id, at in major.items()
                         if team_id in by_id and by_id[team_id].path.startswith(unit.path)]
                held = max(times) if times else None
            else:
                continue
            zone = ZoneInfo(unit.timezone or rt.default_timezone)
            last = held.astimezone(zone).date() if held is not None else None
            joined = unit.created_at.astimezone(zone).date()
            today = now.astimezone(zone).date()
            if not is_lapsed(rule, last, joined, today):
                continue
            due = due_on(rule, last, joined)
            if (unit.id, due.isoformat()) in known[rule.name]:
                continue
            if not await drill_repo.record_lapse(session, unit_id=unit.id or 0,
                                                 rule=rule.name, due_on=due.isoformat(),
                                                 now=now):
                continue
            enterprise = enterprise_of(unit)
            told += 1
            if enterprise is not None:
                await _tell_lapse(session, rt, unit, enterprise, rule, last, due.isoformat(),
                                  now)
    if told:
        rt.wake()
    return told


async def _tell_lapse(session: AsyncSession, rt: Runtime, unit: Unit, enterprise: Unit,
                      rule: DrillRule, last: date | None, due: str, now: datetime) -> None:
    """The enterprise's managers (privately, or its group when none can be written to)."""
    holders = [p for p, _ in await org_repo.role_holders(session, [enterprise.id or 0],
                                                          [Role.MANAGER])]
    chats, unreachable = org_repo.reachable(
        holders, enterprise, await org_repo.chat_of_unit(session, enterprise.id or 0),
        rt.default_language)
    if not chats:
        log.warning("drill lapse of %s (%s, due %s) reaches nobody: %s", unit.key, rule.name,
                    due, ", ".join(unreachable) or "no manager")
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html("drill.lapse", lang, unit=unit.name,
                                rule=rt.renderer.plain(f"drill.rule_{rule.name}", lang),
                                last=last.isoformat() if last is not None else None, due=due)
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="drill.lapse", person_id=person_id,
                                       dedupe_key=f"drill-lapse:{unit.id}:{rule.name}:{due}:"
                                                  f"{chat_id}")
