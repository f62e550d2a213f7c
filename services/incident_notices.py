"""事故快报 announced: who hears of an incident at each level, what each step says,
and the incident ledger (事故台账).

Every step of an incident (the report, each follow-up, the final report) goes at
once to the same audience: the team group, and the managers and safety officers
of every level above the team (workshop, enterprise, authority) — privately to
those who pressed Start, in the level's group where it has one, and by a mention
(in the level's group, else the team group) for those who cannot be written to.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.incident import IncidentEventKind, IncidentRow
from domain.org import Role, UnitKind
from services.base import Runtime
from services.buttons import Button, keyboard
from storage import incidents as incident_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import Incident, IncidentEvent, Person, Unit

log = logging.getLogger(__name__)

# Who above the team hears at once, at each level above it.
UP_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER)
UP_KINDS = frozenset({UnitKind.WORKSHOP, UnitKind.ENTERPRISE, UnitKind.AUTHORITY})


@dataclass(frozen=True)
class IncidentButton(Button, prefix="inc"):
    """Buttons under every announcement: casualties changed, under control, a note,
    the final report."""

    action: Literal["hurt", "ctrl", "note", "close"]
    incident_id: int


@dataclass
class Audience:
    """Where an incident is announced: chats (language, person), and whom to mention where."""

    chats: dict[int, tuple[str, int | None]] = field(default_factory=dict)
    mentions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)


def follow_up_keyboard(rt: Runtime, lang: str, incident_id: int) -> dict[str, Any]:
    """The follow-up buttons under an announcement (rights are checked on the press)."""
    plain = rt.renderer.plain
    return keyboard([
        [(plain("button.incident_hurt", lang), IncidentButton("hurt", incident_id)),
         (plain("button.incident_controlled", lang), IncidentButton("ctrl", incident_id))],
        [(plain("button.incident_note", lang), IncidentButton("note", incident_id)),
         (plain("button.incident_close", lang), IncidentButton("close", incident_id))]])


def zone_of(rt: Runtime, unit: Unit | None) -> str:
    """The zone a unit's times are shown in."""
    return (unit.timezone if unit is not None else None) or rt.default_timezone


# ------------------------------------------------------------------ who hears


async def audience_of(session: AsyncSession, rt: Runtime, team: Unit) -> Audience:
    """The team group, and the managers and safety officers of every level above the team.

    Privately for those who pressed Start (and did not block the bot), in each level's
    group where it has one; those who cannot be written to are mentioned in the
    level's group, else in the team group.
    """
    audience = Audience()
    team_group = await org_repo.chat_of_unit(session, team.id or 0)
    team_chat = team_group.chat_id if team_group is not None and team_group.active else None
    if team_group is not None and team_chat is not None:
        audience.chats[team_chat] = (org_repo.unit_language(team, team_group,
                                                            rt.default_language), None)
    told: set[int] = set()
    for level in reversed(await org_repo.ancestors(session, team)):
        if level.id == team.id or UnitKind(level.kind) not in UP_KINDS:
            continue
        holders: list[Person] = []
        for person, _ in await org_repo.role_holders(session, [level.id or 0], UP_ROLES):
            if person.id not in told:
                told.add(person.id or 0)
                holders.append(person)
        group = await org_repo.chat_of_unit(session, level.id or 0)
        chats, _ = org_repo.reachable(holders, level, group, rt.default_language)
        for chat_id, recipient in chats.items():
            audience.chats.setdefault(chat_id, recipient)
        unreached: list[dict[str, Any]] = [
            {"id": p.telegram_id, "name": p.name} for p in holders if not p.started or p.blocked]
        where = group.chat_id if group is not None and group.active else team_chat
        if unreached and where is not None:
            audience.mentions.setdefault(where, []).extend(unreached)
        elif unreached:
            log.warning("incident at %s: %s cannot be told (no Start, no group)", team.key,
                        ", ".join(p["name"] for p in unreached))
        if chats or (unreached and where is not None):
            audience.levels.append(level.name)  # the reporter is told which levels heard
        else:
            log.warning("incident at %s: nobody at %s can be told", team.key, level.key)
    for chat_id in audience.mentions:
        audience.chats.setdefault(chat_id, (rt.default_language, None))
    return audience


async def announce(session: AsyncSession, rt: Runtime, incident: Incident, team: Unit,
                    event: IncidentEvent, who: str, audience: Audience,
                    history: Sequence[IncidentEvent] = ()) -> int:
    """Queue the step's announcement for every chat of the audience; how many rows.

    The first report carries the photo; every step but the final report carries the
    follow-up buttons.
    """
    queued = 0
    now = rt.clock.now()
    zone = zone_of(rt, team)
    names = await names_of(session, [e.actor_id for e in history])
    for chat_id, (lang, person_id) in audience.chats.items():
        html = _announcement(rt, lang, zone, incident, team, event, who, history, names)
        mentioned = audience.mentions.get(chat_id)
        if mentioned:
            html += "\n" + rt.renderer.html("incident.mentions", lang, people=mentioned)
        key = f"incident:{incident.id}:{event.id}:{chat_id}"
        if event.kind == IncidentEventKind.REPORTED and incident.photo_file_id:
            queued += await outbox_repo.enqueue(
                session, chat_id=chat_id, method="sendPhoto", now=now,
                params={"photo": incident.photo_file_id, "caption": f"🚨 {incident.code}"},
                purpose="incident.photo", person_id=person_id,
                dedupe_key=f"incident-photo:{incident.id}:{chat_id}") is not None
        markup = None if event.kind == IncidentEventKind.CLOSED else \
            follow_up_keyboard(rt, lang, incident.id or 0)
        queued += len(await outbox_repo.enqueue_text(
            session, chat_id=chat_id, html=html, now=now, purpose=f"incident.{event.kind}",
            reply_markup=markup, person_id=person_id, dedupe_key=key))
    return queued


def _announcement(rt: Runtime, lang: str, zone: str, incident: Incident, team: Unit,
                  event: IncidentEvent, who: str, history: Sequence[IncidentEvent],
                  names: dict[int, str]) -> str:
    plain = rt.renderer.plain
    common: dict[str, Any] = {
        "code": incident.code, "unit": team.name, "who": who, "at": event.at, "tz": zone,
        "injured": incident.injured, "injury": plain(f"injury.{incident.injury}", lang),
        "state": plain(f"incident_state.{incident.state}", lang)}
    if event.kind == IncidentEventKind.REPORTED:
        return rt.renderer.html("incident.report", lang, **common, what=incident.what,
                                place=incident.place, occurred_at=incident.occurred_at,
                                action=incident.action_taken)
    if event.kind == IncidentEventKind.CLOSED:
        lines = [history_line(rt.renderer, lang, e, names.get(e.actor_id, ""))
                 for e in history]
        return rt.renderer.html("incident.final", lang, **common, what=incident.what,
                                cause=incident.cause, measures=incident.measures,
                                lessons=incident.lessons, history=lines)
    return rt.renderer.html("incident.update", lang, **common, kind=event.kind.value,
                            text=event.text)


def history_line(renderer: Renderer, lang: str, event: IncidentEvent,
                 who: str) -> dict[str, Any]:
    """One step of the history as the final report and the ledger show it."""
    detail = event.text or ""
    if event.kind in (IncidentEventKind.REPORTED, IncidentEventKind.CASUALTIES):
        detail = renderer.plain("incident.casualties_line", lang, injured=event.injured or 0,
                                injury=renderer.plain(f"injury.{event.injury}", lang))
    return {"at": event.at, "who": who,
            "kind": renderer.plain(f"incident_event.{event.kind}", lang), "detail": detail}


async def names_of(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, str]:
    """People's names by row id."""
    return {p.id or 0: p.name for p in await people_repo.people_by_ids(session, set(person_ids))}


# ------------------------------------------------------------------ the ledger


async def ledger_rows(session: AsyncSession, renderer: Renderer, *, unit_ids: Sequence[int],
                      since: datetime, until: datetime, lang: str,
                      timezone: str) -> list[IncidentRow]:
    """The incident ledger (事故台账) of these units: what happened in [since, until),
    with every step, in the reader's language."""
    found = await incident_repo.in_units(session, unit_ids, since, until)
    events = await incident_repo.events_of(session, [i.id or 0 for i in found])
    names = await names_of(session, {i.reporter_id for i in found} | {e.actor_id for e in events}
                         | {i.closed_by for i in found if i.closed_by})
    units = {u.id: u.name for u in await org_repo.all_units(session)} if found else {}
    zone = ZoneInfo(timezone)
    rows = []
    for incident in found:
        lines = []
        for event in (e for e in events if e.incident_id == incident.id):
            line = history_line(renderer, lang, event, names.get(event.actor_id, ""))
            detail = f" ({line['detail']})" if line["detail"] else ""
            lines.append(f"{event.at.astimezone(zone):%m-%d %H:%M} {line['who']}: "
                         f"{line['kind']}{detail}")
        rows.append(IncidentRow(
            code=incident.code or "", occurred_at=incident.occurred_at,
            reported_at=incident.reported_at, team=units.get(incident.unit_id, ""),
            reporter=names.get(incident.reporter_id, ""), what=incident.what,
            place=incident.place, injured=incident.injured,
            injury=renderer.plain(f"injury.{incident.injury}", lang),
            action=incident.action_taken,
            state=renderer.plain(f"incident_state.{incident.state}", lang),
            controlled_at=incident.controlled_at, closed_at=incident.closed_at,
            closed_by=names.get(incident.closed_by or 0, ""), cause=incident.cause or "",
            measures=incident.measures or "", lessons=incident.lessons or "",
            history="\n".join(lines)))
    return rows
