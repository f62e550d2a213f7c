"""The organisation the benchmarks build: one enterprise, a workshop, and many teams.

Imported by the benchmark scripts as ``_org`` (a script's own folder is on the path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.org import UnitKind
from scheduler.meetings import pre_shift_sweep
from scheduler.timetable import SweepFunction
from storage import org as org_repo
from storage.db import Database
from storage.models import Unit

GRACE = timedelta(minutes=30)  # REMINDER_GRACE and MEETING_GRACE by default


async def enterprise_and_workshop(s: AsyncSession, now: datetime) -> tuple[Unit, Unit]:
    """The enterprise ``acme`` and its workshop ``ws``."""
    ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                     parent=None, now=now)
    ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                    parent=ent, now=now)
    return ent, ws


async def team(s: AsyncSession, workshop: Unit, n: int, now: datetime, *,
               shifts: Mapping[str, Any] | None = None, timezone: str | None = None,
               chat_id: int | None = None, chat_type: str = "supergroup") -> Unit:
    """Team ``t<n>`` of the workshop, with a shift schedule and a bound group if given."""
    unit = await org_repo.create_unit(s, key=f"t{n}", kind=UnitKind.TEAM, name=f"Team {n}",
                                      parent=workshop, now=now, timezone=timezone)
    if shifts is not None:
        unit.extra_json = json.dumps({"shifts": shifts}, ensure_ascii=False)
    if chat_id is not None:
        group = await org_repo.upsert_group_chat(s, chat_id=chat_id, title=unit.name,
                                                 chat_type=chat_type, now=now)
        await org_repo.bind_chat(s, group, unit, now=now)
    return unit


def briefing_sweep(db: Database, timezone: str) -> SweepFunction:
    """The pre-shift sweep with the default graces, queueing without waking anyone."""
    return pre_shift_sweep(db, Renderer(), default_language="zh", default_timezone=timezone,
                           reminder_grace=GRACE, meeting_grace=GRACE, wake=lambda: None)
