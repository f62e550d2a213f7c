"""Emergency drills (预案演练): schedule, remind, start with a roll call, record findings.

Team leaders (for their team) and safety officers and managers (for their unit and
everything below) schedule a drill for units; the teams below them take part. Each
team group is told when it is scheduled, reminded ``DRILL_REMINDERS`` before, and
at the start gets a post with a "present" button whose roll call is edited in place
(``services.roll_call_edits``). Each tap is a training-record row of kind ``drill``
(``attended``); when the findings are recorded the drill closes and the members who
never tapped get a row ``absent``. The rule checks are services/drill_rules.py's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.drills import (
    TEAM_ONSITE,
    DrillInputError,
    DrillType,
    due_on,
    parse_request,
)
from domain.org import Grant, Role, UnitKind, has_role_over
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard, no_keyboard
from services.roll_call_edits import show_roll_call
from storage import drills as drill_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import training as training_repo
from storage.models import Drill, DrillTeam, GroupChat, OutboxMessage, Unit

log = logging.getLogger(__name__)

KIND = "drill"  # the training record's kind
SCHEDULER_ROLE = Role.TEAM_LEADER  # and everything above, over the unit
POST_PURPOSE = "drill.post"
RECENT = timedelta(days=366)  # /drills looks back a year: the longest rule's period


@dataclass(frozen=True)
class DrillButton(Button, prefix="dr"):
    """The drill post's buttons: ``dr:here:ID`` (present) and ``dr:findings:ID`` (leaders)."""

    action: Literal["here", "findings"]
    drill_id: int


@dataclass(frozen=True)
class DrillChoice(Button, prefix="drs"):
    """The /drill conversation's buttons: a type (by index), a unit (by id), schedule,
    cancel, or a begun drill whose findings to record (by id)."""

    action: Literal["type", "unit", "ok", "x", "close"]
    value: int = 0


TYPES = tuple(DrillType)  # the type buttons carry the index


def post_buttons(renderer: Renderer, lang: str, drill_id: int) -> dict[str, Any]:
    """"Present", and the leaders' "record findings", under the drill post."""
    return keyboard([
        [(renderer.plain("button.drill_here", lang), DrillButton("here", drill_id))],
        [(renderer.plain("button.drill_findings", lang), DrillButton("findings", drill_id))]])


def type_name(renderer: Renderer, kind: str, lang: str) -> str:
    """A drill type in words (现场处置演练, on-site drill, …)."""
    return renderer.plain(f"drill.type_{kind}", lang)


def _zone(unit: Unit | None, rt: Runtime) -> str:
    return (unit.timezone if unit is not None else None) or rt.default_timezone


def _minutes(drill: Drill) -> int:
    return drill.duration_minutes


# ------------------------------------------------------------------ who may


async def schedulable_units(session: AsyncSession, actor: Actor) -> list[Unit]:
    """Units ``actor`` may schedule drills for, in tree order (never an authority)."""
    units = [u for u in await org_repo.all_units(session) if u.kind != UnitKind.AUTHORITY]
    if actor.is_bot_admin:
        return units
    grants = await org_repo.grants_of(session, actor.person_id)
    return [u for u in units if has_role_over(grants, u.path, SCHEDULER_ROLE)]


def _may_manage(grants: Sequence[Grant], actor: Actor | None, drill: Drill,
                teams: Sequence[Unit]) -> bool:
    """Who records findings: whoever scheduled it, or a leader over every team in it."""
    if actor is None or actor.is_bot_admin or drill.scheduled_by == actor.person_id:
        return True
    return bool(teams) and all(has_role_over(grants, t.path, SCHEDULER_ROLE) for t in teams)


async def _teams_below(session: AsyncSession, units: Sequence[Unit]) -> list[Unit]:
    teams: dict[int, Unit] = {}
    for unit in units:
        for below in await org_repo.subtree(session, unit):
            if below.kind == UnitKind.TEAM:
                teams.setdefault(below.id or 0, below)
    return list(teams.values())


# ------------------------------------------------------------------ scheduling


async def teams_for(session: AsyncSession, unit_keys: Sequence[str]) -> list[Unit]:
    """The teams a drill for these units reaches (unknown keys are left out)."""
    units = [u for u in [await org_repo.get_unit_by_key(session, key) for key in unit_keys]
             if u is not None]
    return await _teams_below(session, units)


async def may_schedule(rt: Runtime, actor: Actor) -> bool:
    """Whether ``actor`` may schedule a drill anywhere (workers may not)."""
    async with rt.db.session() as session:
        return bool(await schedulable_units(session, actor))


async def zone_of(rt: Runtime, unit_keys: Sequence[str]) -> str:
    """The time zone a drill for these units is written in: the first known unit's."""
    async with rt.db.session() as session:
        for key in unit_keys:
            unit = await org_repo.get_unit_by_key(session, key)
            if unit is not None:
                return _zone(unit, rt)
    return rt.default_timezone


async def schedule_line(rt: Runtime, actor: Actor | None, words: list[str]) -> Outcome:
    """``TYPE YYYY-MM-DD HH:MM [DURATION] UNIT[,UNIT] SCENARIO`` as typed after /drill."""
    if actor is not None and not await may_schedule(rt, actor):
        return Outcome.refused("drill.leaders_only")
    now = rt.clock.now()
    try:
        request = parse_request(words, now, rt.default_timezone)
        zone = await zone_of(rt, request.unit_keys)
        if zone != rt.default_timezone:  # the time was meant in the units' zone
            request = parse_request(words, now, zone)
    except DrillInputError as problem:
        return Outcome.refused(f"drill.bad_{problem.code}", value=problem.value)
    return await schedule(rt, actor, kind=request.kind, starts_at=request.starts_at,
                          duration=request.duration, unit_keys=request.unit_keys,
                          scenario=request.scenario)


async def schedule(rt: Runtime, actor: Actor | None, *, kind: DrillType, starts_at: datetime,
                   duration: timedelta, unit_keys: Sequence[str], scenario: str) -> Outcome:
    """Schedule a drill for the teams below ``unit_keys``; each team group is told.

    ``actor`` None is the operator at the command line (may schedule anywhere).
    Refused as ``drill.leaders_only`` (no unit of one's own), ``drill.unit_unknown``,
    ``drill.not_your_unit``, ``drill.no_teams`` or ``drill.bad_past``.
    """
    now = rt.clock.now()
    if starts_at <= now:
        return Outcome.refused("drill.bad_past", value="")
    async with rt.db.transaction() as session:
        allowed: set[int] | None = None
        if actor is not None:
            allowed = {u.id or 0 for u in await schedulable_units(session, actor)}
            if not allowed:
                return Outcome.refused("drill.leaders_only")
        units = []
        for key in unit_keys:
            unit = await org_repo.get_unit_by_key(session, key)
            if unit is None:
                return Outcome.refused("drill.unit_unknown", code=key[:64])
            if allowed is not None and unit.id not in allowed:
                return Outcome.refused("drill.not_your_unit", unit=unit.name)
            units.append(unit)
        teams = await _teams_below(session, units)
        if not teams:
            return Outcome.refused("drill.no_teams")
        drill = await drill_repo.add(session, Drill(
            kind=kind.value, starts_at=starts_at,
            duration_minutes=int(duration.total_seconds() // 60), scenario=scenario,
            scheduled_by=actor.person_id if actor is not None else None, created_at=now),
            [t.id or 0 for t in teams])
        queued, without = 0, []
        for team in teams:
            sent = await _tell_team(session, rt, drill, team, "drill.announce", now,
                                    f"drill-announce:{drill.id}:{team.id}")
            queued += sent
            if not sent:
                without.append(team.name)
    rt.wake()
    lang = actor.language if actor is not None else rt.default_language
    return Outcome.done("drill.scheduled", queued=queued, number=drill.id,
                        kind=type_name(rt.renderer, drill.kind, lang), at=starts_at,
                        tz=_zone(teams[0], rt), teams=[t.name for t in teams],
                        without=without)


async def _tell_team(session: AsyncSession, rt: Runtime, drill: Drill, team: Unit, key: str,
                     now: datetime, dedupe_key: str) -> int:
    """Queue a text about the drill in the team's group; 0 when it has none."""
    group = await org_repo.chat_of_unit(session, team.id or 0)
    if group is None or not group.active:
        return 0
    lang = org_repo.unit_language(team, group, rt.default_language)
    html = rt.renderer.html(key, lang, kind=type_name(rt.renderer, drill.kind, lang),
                            number=drill.id, at=drill.starts_at, tz=_zone(team, rt),
                            minutes=_minutes(drill), scenario=drill.scenario, unit=team.name)
    return len(await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=html, now=now,
                                              purpose=key, dedupe_key=dedupe_key))


# ------------------------------------------------------------------ reminders and the start


async def run_due(rt: Runtime, now: datetime, *, reminders: Sequence[timedelta]) -> int:
    """Send the reminder rounds that fell due and start the drills whose time came.

    Reminder rounds are ``reminders`` before the start, the earliest first; a round
    missed while the bot was down is skipped for a later one, never sent late twice.
    Returns how many drills were reminded or started.
    """
    leads = sorted(set(reminders), reverse=True)
    horizon = now + (leads[0] if leads else timedelta(0))
    acted = 0
    async with rt.db.transaction() as session:
        for drill in await drill_repo.not_started(session, horizon):
            if drill.starts_at <= now:
                acted += await _start(session, rt, drill, now)
                continue
            rounds = sum(1 for lead in leads if drill.starts_at - lead <= now)
            if rounds > drill.reminders_done and \
                    await drill_repo.claim_reminder(session, drill, rounds):
                for team in await _units_of(session, drill):
                    await _tell_team(session, rt, drill, team, "drill.reminder", now,
                                     f"drill-reminder:{drill.id}:{team.id}:{rounds}")
                acted += 1
    if acted:
        rt.wake()
    return acted


async def _units_of(session: AsyncSession, drill: Drill) -> list[Unit]:
    units = []
    for row in await drill_repo.teams_of(session, drill.id or 0):
        unit = await org_repo.get_unit(session, row.unit_id)
        if unit is not None:
            units.append(unit)
    return units


async def _start(session: AsyncSession, rt: Runtime, drill: Drill, now: datetime) -> int:
    """Post the drill with its "present" button in every team group taking part, once."""
    if not await drill_repo.claim_start(session, drill, now):
        return 0
    for row in await drill_repo.teams_of(session, drill.id or 0):
        team = await org_repo.get_unit(session, row.unit_id)
        group = await org_repo.chat_of_unit(session, row.unit_id)
        if team is None or group is None or not group.active:
            continue
        row.group_chat_id, row.chat_id = group.id, group.chat_id
        row.language = org_repo.unit_language(team, group, rt.default_language)
        members = len(await org_repo.active_members(session, group.id or 0))
        posted = await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, now=now, purpose=POST_PURPOSE,
            html=post_html(rt.renderer, drill, team, row.language, [], members,
                           _zone(team, rt)),
            reply_markup=post_buttons(rt.renderer, row.language, drill.id or 0),
            dedupe_key=f"drill-post:{drill.id}:{team.id}")
        row.post_outbox_id = posted[-1].id if posted else None
        session.add(row)
    return 1


def post_html(renderer: Renderer, drill: Drill, team: Unit, lang: str, names: list[str],
              members: int, tz: str) -> str:
    """The drill post in a team group: what, when, the scenario, and who is present."""
    return renderer.html("drill.post", lang, kind=type_name(renderer, drill.kind, lang),
                         number=drill.id, unit=team.name, at=drill.starts_at, tz=tz,
                         minutes=_minutes(drill), scenario=drill.scenario) + "\n" + \
        renderer.html("drill.roll_call", lang, names=names, count=len(names), members=members)


# ------------------------------------------------------------------ the roll call


async def post_message(session: AsyncSession, row: DrillTeam) -> OutboxMessage | None:
    """The outbox row of the team's drill post (the message with the buttons)."""
    if row.post_outbox_id is None:
        return None
    return await session.get(OutboxMessage, row.post_outbox_id)


async def _post_now(session: AsyncSession, renderer: Renderer, drill: Drill, row: DrillTeam,
                    default_timezone: str) -> str:
    team = await org_repo.get_unit(session, row.unit_id)
    assert team is not None
    names = [p.name for p in await drill_repo.attendees(session, row)]
    members = len(await org_repo.active_members(session, row.group_chat_id or 0))
    return post_html(renderer, drill, team, row.language or renderer.default_language, names,
                     members, (team.timezone or default_timezone))


async def refresh_roll_call(session: AsyncSession, renderer: Renderer, row: DrillTeam,
                            now: datetime) -> bool:
    """Show a new "present": queue an edit of the team's post, or mark the roll call dirty
    when one was queued within ``EDIT_EVERY`` (the roll-call sweep shows it)."""
    drill = await drill_repo.get(session, row.drill_id)
    if drill is None:
        return False

    async def queue_edit(sent: OutboxMessage, number: int) -> None:
        html = await _post_now(session, renderer, drill, row, renderer.timezone)
        await outbox_repo.enqueue(session, chat_id=sent.chat_id, method="editMessageText",
                                  params={"message_id": sent.telegram_message_id,
                                          "parse_mode": "HTML", "text": html,
                                          "reply_markup": post_buttons(
                                              renderer, row.language or renderer.default_language,
                                              drill.id or 0)},
                                  now=now, purpose="drill.roll_call_edit",
                                  dedupe_key=f"drill-roll-edit:{row.id}:{number}")

    return await show_roll_call(
        session, row, now, message=lambda: post_message(session, row),
        mark_dirty=drill_repo.mark_roll_call_dirty, claim=drill_repo.claim_roll_call_edit,
        queue_edit=queue_edit)


async def press_here(rt: Runtime, actor: Actor, drill_id: int, *, chat_id: int | None,
                     in_group: bool) -> Outcome:
    """Record a member present once; refused outside the drill's teams, before and after it.

    ``chat_id`` is where the button was pressed and ``in_group`` whether Telegram says
    the presser is a member there: a forwarded post is not the team's.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        drill = await drill_repo.get(session, drill_id)
        if drill is None:
            return Outcome.refused("callback.stale")
        if drill.closed_at is not None:
            return Outcome.refused("drill.over")
        if drill.started_at is None:
            return Outcome.refused("drill.not_started")
        row = await drill_repo.team_in_chat(session, drill_id, chat_id) \
            if chat_id is not None else None
        if row is None or not in_group:
            if row is not None:
                await _not_a_member(session, row, actor.person_id, now)
            return Outcome.refused("drill.not_in_team")
        if not await drill_repo.attend(session, row, actor.person_id, now):
            return Outcome.done("drill.already_here")
        await training_repo.record(
            session, person_id=actor.person_id, unit_id=row.unit_id, kind=KIND,
            subject=f"{drill.kind}#{drill.id}", result="attended", at=now,
            detail=drill.scenario[:200], dedupe_key=f"drill:{drill.id}:{actor.person_id}")
        queued = await refresh_roll_call(session, rt.renderer, row, now)
    if queued:
        rt.wake()
    return Outcome.done("drill.here_recorded")


async def _not_a_member(session: AsyncSession, row: DrillTeam, person_id: int,
                        now: datetime) -> None:
    """Telegram says the presser is not in the group: the press taught the bot otherwise
    (every update from a group learns its sender), so the roll call would count them."""
    group = await session.get(GroupChat, row.group_chat_id) if row.group_chat_id else None
    found = await people_repo.people_by_ids(session, [person_id])
    if group is not None and found:
        await org_repo.record_membership(session, chat=group, person=found[0], active=False,
                                         now=now)


# ------------------------------------------------------------------ findings


async def _manageable(session: AsyncSession, actor: Actor | None, drill: Drill,
                      now: datetime) -> Outcome | None:
    """The refusal to record findings for ``drill``, or None when ``actor`` may now."""
    teams = await _units_of(session, drill)
    grants = await org_repo.grants_of(session, actor.person_id) if actor is not None else []
    if not _may_manage(grants, actor, drill, teams):
        return Outcome.refused("drill.managers_only")
    if drill.closed_at is not None:
        return Outcome.refused("drill.over")
    if drill.starts_at > now:
        return Outcome.refused("drill.not_started")
    return None


async def may_record_findings(rt: Runtime, actor: Actor, drill_id: int) -> Outcome:
    """Whether ``actor`` may record this drill's findings now (done: ask the first one)."""
    async with rt.db.session() as session:
        drill = await drill_repo.get(session, drill_id)
        if drill is None:
            return Outcome.refused("callback.stale")
        refusal = await _manageable(session, actor, drill, rt.clock.now())
    return refusal or Outcome.done("drill.ask_went_well", number=drill_id)


async def open_drills(rt: Runtime, actor: Actor) -> list[tuple[int, str]]:
    """Drills begun and without findings that ``actor`` may close: (id, type name)."""
    now = rt.clock.now()
    async with rt.db.session() as session:
        teams = await _teams_below(session, await schedulable_units(session, actor))
        found = []
        for drill in await drill_repo.open_of_units(session, [t.id or 0 for t in teams],
                                                    started_before=now):
            if await _manageable(session, actor, drill, now) is None:
                found.append((drill.id or 0, type_name(rt.renderer, drill.kind,
                                                       actor.language)))
    return found


async def record_findings(rt: Runtime, actor: Actor | None, drill_id: int, *, went_well: str,
                          problems: str, measures: str) -> Outcome:
    """Record what went well, the problems and the measures; the drill closes.

    Members of the taking-part groups who never tapped "present" get an ``absent``
    row; each post shows its final roll call without buttons, and each group gets
    the findings. ``actor`` None is the operator at the command line.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        drill = await drill_repo.get(session, drill_id)
        if drill is None:
            return Outcome.refused("callback.stale")
        refusal = await _manageable(session, actor, drill, now)
        if refusal is not None:
            return refusal
        findings = {"went_well": went_well.strip()[:2000], "problems": problems.strip()[:2000],
                    "measures": measures.strip()[:2000]}
        if not await drill_repo.claim_close(
                session, drill, now=now, closed_by=actor.person_id if actor else None,
                **findings):
            return Outcome.refused("drill.over")
        present = await drill_repo.attendee_ids(session, drill_id)
        who = actor.name if actor is not None else "—"
        attended = absent = 0
        for row in await drill_repo.teams_of(session, drill_id):
            members = await org_repo.active_members(session, row.group_chat_id) \
                if row.group_chat_id is not None else []
            for person in members:
                if person.id in present:
                    attended += 1
                    continue
                absent += 1
                await training_repo.record(
                    session, person_id=person.id or 0, unit_id=row.unit_id, kind=KIND,
                    subject=f"{drill.kind}#{drill.id}", result="absent", at=now,
                    detail=drill.scenario[:200], dedupe_key=f"drill:{drill.id}:{person.id}")
            await _close_post(session, rt, drill, row, who, now, findings)
    rt.wake()
    return Outcome.done("drill.closed_ok", number=drill_id, attended=attended, absent=absent)


async def _close_post(session: AsyncSession, rt: Runtime, drill: Drill, row: DrillTeam,
                      who: str, now: datetime, findings: dict[str, str]) -> None:
    """The team's post a last time (who was present, closed, no buttons) and the findings."""
    if row.chat_id is None:
        return
    lang = row.language or rt.default_language
    sent = await post_message(session, row)
    if sent is not None and sent.telegram_message_id is not None:
        html = await _post_now(session, rt.renderer, drill, row, rt.default_timezone) + "\n" + \
            rt.renderer.html("drill.closed_line", lang, who=who)
        await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                                  params={"message_id": sent.telegram_message_id,
                                          "text": html, "parse_mode": "HTML",
                                          "reply_markup": no_keyboard()},
                                  now=now, purpose="drill.closed_edit",
                                  dedupe_key=f"drill-closed-edit:{row.id}")
    names = {p.id for p in await drill_repo.attendees(session, row)}
    members = await org_repo.active_members(session, row.group_chat_id or 0)
    await outbox_repo.enqueue_text(
        session, chat_id=row.chat_id, now=now, purpose="drill.findings",
        html=rt.renderer.html("drill.findings_posted", lang,
                              kind=type_name(rt.renderer, drill.kind, lang), number=drill.id,
                              attended=len(names),
                              absent=sum(1 for p in members if p.id not in names),
                              **findings),
        dedupe_key=f"drill-findings:{row.id}")


# ------------------------------------------------------------------ /drills


async def overview(rt: Runtime, actor: Actor, team: Unit | None) -> Outcome:
    """``/drills``: upcoming and recent drills of a team (in its group) or of one's units.

    Privately: the teams below the units one may schedule for, else one's own teams.
    """
    now = rt.clock.now()
    lang = actor.language
    async with rt.db.session() as session:
        if team is not None:
            teams, title = [team], team.name
        else:
            teams = await _teams_below(session, await schedulable_units(session, actor))
            if not teams:
                for group in await org_repo.groups_of_person(session, actor.person_id):
                    unit = await org_repo.get_unit(session, group.unit_id or 0)
                    if unit is not None and unit.kind == UnitKind.TEAM:
                        teams.append(unit)
            title = teams[0].name if len(teams) == 1 else ""
        if not teams:
            return Outcome.refused("drill.no_units")
        ids = [t.id or 0 for t in teams]
        drills = await drill_repo.of_units(session, ids, since=now - RECENT, limit=50)
        last = None
        due = None
        if team is not None:
            held = await drill_repo.last_held(session, sorted(TEAM_ONSITE.types))
            zone = ZoneInfo(_zone(team, rt))
            last_day = held[team.id].astimezone(zone).date() if team.id in held else None
            due = due_on(TEAM_ONSITE, last_day, team.created_at.astimezone(zone).date())
            last = last_day
    upcoming = [d for d in drills if d.closed_at is None and d.starts_at >= now]
    recent = [d for d in drills if d not in upcoming][-10:]

    def item(drill: Drill) -> dict[str, Any]:
        state = "closed" if drill.closed_at is not None else \
            "awaiting" if drill.starts_at <= now else "planned"
        return {"number": drill.id, "kind": type_name(rt.renderer, drill.kind, lang),
                "at": drill.starts_at, "state": rt.renderer.plain(f"drill.state_{state}", lang)}

    return Outcome.done("drill.list", title=title, upcoming=[item(d) for d in upcoming[:10]],
                        recent=[item(d) for d in reversed(recent)], last=last, due=due,
                        tz=_zone(teams[0], rt))
