"""Inspections (检查): checks falling due, answered item by item, missed ones escalated.

- :func:`post_due` (the sweep, every minute): each checklist's checks that fell due
  and are not recorded yet are recorded (the row is the idempotency key) and sent to
  the people responsible: privately to those who pressed Start, else by a mention in
  their unit's group, with a "start" button.
- answering item by item is :mod:`services.check_answers`; :func:`may_answer` says
  who may (the person asked, or anyone holding the checklist's role over the unit).
- :func:`escalate_missed` (the sweep): a check not done by its deadline is marked
  missed and the level above is told, once.
- :func:`board` is ``/checks``; :func:`completion` the figures for the monthly report;
  :func:`sheet_rows` the ledger's sheet of checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.checklists import checklists
from content.render import Renderer
from domain.inspections import CheckCompletion, Checklist, Occurrence, due_now
from domain.org import Role, UnitKind, has_role_over
from domain.shifts import ShiftSchedule
from services import shifts
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import inspections as repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import Inspection, Person, Unit

BATCH = 50  # checks recorded and sent per write transaction
BOARD_DAYS = 7  # /checks shows what fell due in the last week, and everything still due
UP_ROLES = (Role.SAFETY_OFFICER, Role.MANAGER)


@dataclass(frozen=True)
class InspectionButton(Button, prefix="ck"):
    """A check's buttons: ``ck:go:ID`` opens it where it stands, ``ck:ok|no:ID:ITEM``
    answers a yes/no item."""

    action: Literal["go", "ok", "no"]
    inspection_id: int
    item: int = 0


def start_keyboard(renderer: Renderer, lang: str, inspection_id: int) -> dict[str, Any]:
    """The "start the check" button under a notice."""
    return keyboard([[(renderer.plain("button.check_start", lang),
                       InspectionButton("go", inspection_id))]])


# ------------------------------------------------------------------ falling due


@dataclass(frozen=True)
class _Due:
    checklist: Checklist
    unit: Unit
    occurrence: Occurrence
    subject: Person | None  # the worker of a post checklist


async def post_due(rt: Runtime, now: datetime) -> int:
    """Record and send every check that is due now and was not yet: how many were.

    One that fell due while the bot was down goes out as long as its deadline is ahead.
    """
    async with rt.db.session() as session:  # reads only: no write lock held
        found = await _due(session, rt, now)
    posted = 0
    for start in range(0, len(found), BATCH):
        async with rt.db.transaction() as session:
            for due in found[start:start + BATCH]:
                posted += await _fall_due(session, rt, due, now)
    if posted:
        rt.wake()
    return posted


async def _due(session: AsyncSession, rt: Runtime, now: datetime) -> list[_Due]:
    """What falls due now and is not recorded: one query per checklist for what is known."""
    found: list[_Due] = []
    for checklist in checklists().values():
        known = await repo.known_occurrences(session, checklist.id,
                                             now - checklist.deadline - timedelta(days=1))
        subjects: list[tuple[Unit, Person | None]]
        if checklist.post is not None:
            subjects = [(unit, person) for person, unit
                        in await repo.post_workers(session, checklist.post)]
        else:
            assert checklist.unit_kind is not None
            subjects = [(unit, None) for unit
                        in await org_repo.units_of_kind(session, checklist.unit_kind)]
        by_zone: dict[str, list[Occurrence]] = {}  # calendar checks depend on the zone only
        for unit, person in subjects:
            zone = unit.timezone or rt.default_timezone
            if checklist.rule.kind == "shift":
                schedule = shifts.team_schedule(unit, rt.default_timezone)
                occurrences = due_now(checklist, now, timezone=zone, schedule=schedule
                                      if isinstance(schedule, ShiftSchedule) else None)
            else:
                if zone not in by_zone:
                    by_zone[zone] = due_now(checklist, now, timezone=zone, schedule=None)
                occurrences = by_zone[zone]
            subject_id = person.id or 0 if person is not None else 0
            found += [_Due(checklist, unit, o, person) for o in occurrences
                      if (unit.id, o.period, subject_id) not in known]
    return found


async def _fall_due(session: AsyncSession, rt: Runtime, due: _Due, now: datetime) -> int:
    """Record one check and tell whoever is responsible; 0 when it was recorded already."""
    checklist, unit = due.checklist, due.unit
    if due.subject is not None:
        people = [due.subject]
    else:
        assert checklist.role is not None
        people = [p for p, _ in await org_repo.role_holders(session, [unit.id or 0],
                                                            [checklist.role])]
    inspection = await repo.create(
        session, checklist_id=checklist.id, unit_id=unit.id or 0, period=due.occurrence.period,
        subject_id=due.subject.id or 0 if due.subject is not None else 0,
        assignee_id=people[0].id if people else None, due_at=due.occurrence.due_at,
        deadline_at=due.occurrence.deadline_at, items=len(checklist.items), created_at=now)
    if inspection is None:
        return 0
    await _tell_responsible(session, rt, inspection, checklist, unit, people, now)
    return 1


async def _tell_responsible(session: AsyncSession, rt: Runtime, inspection: Inspection,
                            checklist: Checklist, unit: Unit, people: Sequence[Person],
                            now: datetime) -> int:
    """Privately to each who pressed Start; the others (or nobody named) by the unit's group."""
    group = await org_repo.chat_of_unit(session, unit.id or 0)
    group_lang = org_repo.unit_language(unit, group, rt.default_language)
    zone = unit.timezone or rt.default_timezone
    queued = 0
    unreachable = []
    for person in people:
        if not person.started or person.blocked:
            unreachable.append(person)
            continue
        lang = person.language or group_lang
        html = rt.renderer.html("checks.due", lang, title=checklist.title_in(lang),
                                unit=unit.name, items=len(checklist.items),
                                deadline=inspection.deadline_at, tz=zone)
        queued += len(await outbox_repo.enqueue_text(
            session, chat_id=person.telegram_id, html=html, now=now, purpose="checks.due",
            person_id=person.id, reply_markup=start_keyboard(rt.renderer, lang,
                                                             inspection.id or 0),
            dedupe_key=f"check-due:{inspection.id}:{person.id}"))
    if (unreachable or not people) and group is not None and group.active:
        html = rt.renderer.html(
            "checks.due_group", group_lang, title=checklist.title_in(group_lang),
            unit=unit.name, items=len(checklist.items), deadline=inspection.deadline_at,
            tz=zone, people=[{"id": p.telegram_id, "name": p.name} for p in unreachable])
        queued += len(await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, html=html, now=now, purpose="checks.due",
            reply_markup=start_keyboard(rt.renderer, group_lang, inspection.id or 0),
            dedupe_key=f"check-due-group:{inspection.id}"))
    return queued


async def may_answer(session: AsyncSession, actor: Actor, inspection: Inspection,
                      checklist: Checklist, unit: Unit) -> bool:
    """The person asked, or anyone holding the checklist's role over the unit (a post's
    check: the team's leaders and above), or a bot admin."""
    if actor.is_bot_admin or actor.person_id in (inspection.assignee_id, inspection.subject_id):
        return True
    needed = checklist.role if checklist.role is not None else Role.TEAM_LEADER
    return has_role_over(await org_repo.grants_of(session, actor.person_id), unit.path, needed)



# ------------------------------------------------------------------ missed


async def escalate_missed(rt: Runtime, now: datetime) -> int:
    """Checks not done by their deadline: marked missed, the level above told, once each.

    Returns how many checks were marked missed.
    """
    missed = 0
    while True:
        async with rt.db.transaction() as session:
            overdue = await repo.overdue(session, now, limit=BATCH)
            for inspection in overdue:
                if await repo.claim_missed(session, inspection, now):
                    missed += 1
                    await _tell_above(session, rt, inspection, now)
        if len(overdue) < BATCH:
            break
    if missed:
        rt.wake()
    return missed


async def _tell_above(session: AsyncSession, rt: Runtime, inspection: Inspection,
                      now: datetime) -> int:
    """The officers and managers above the unit (or their group) hear of a missed check."""
    unit = await org_repo.get_unit(session, inspection.unit_id)
    if unit is None:
        return 0
    checklist = checklists().get(inspection.checklist_id)
    _, chats = await org_repo.nearest_recipients_above(session, unit, list(UP_ROLES),
                                                       rt.default_language)
    answered = (await repo.answered_counts(session, [inspection.id or 0])).get(
        inspection.id or 0, 0)
    found = await people_repo.people_by_ids(session, [inspection.assignee_id]
                                            if inspection.assignee_id else [])
    zone = unit.timezone or rt.default_timezone
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html(
            "checks.missed", lang, unit=unit.name,
            title=checklist.title_in(lang) if checklist else inspection.checklist_id,
            who=found[0].name if found else "", deadline=inspection.deadline_at, tz=zone,
            answered=answered, items=inspection.items)
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="checks.missed", person_id=person_id,
                                       dedupe_key=f"check-missed:{inspection.id}:{chat_id}")
    return len(chats)


# ------------------------------------------------------------------ /checks


@dataclass
class Board(Outcome):
    """``/checks``: the outcome, and the start buttons of checks the asker may answer."""

    markup: dict[str, Any] | None = None


async def board(rt: Runtime, actor: Actor, *, chat_id: int, lang: str) -> Board:
    """What is due and what was done for the asker's unit: the group's team in a group;
    in private, the teams the asker is in and the units they hold a role on."""
    now = rt.clock.now()
    async with rt.db.session() as session:
        units = await _units_of(session, actor, chat_id)
        if not units:
            return Board(False, "checks.no_unit")
        found = await repo.of_units(session, [u.id or 0 for u in units],
                                    since=now - timedelta(days=BOARD_DAYS))
        counts = await repo.answered_counts(session, [i.id or 0 for i in found])
        names = {p.id: p.name for p in await people_repo.people_by_ids(
            session, {i for c in found for i in (c.done_by, c.assignee_id) if i})}
        rows: list[dict[str, Any]] = []
        buttons: list[list[tuple[str, Button | str]]] = []
        by_id = {u.id: u for u in units}
        for check in found:
            checklist = checklists().get(check.checklist_id)
            title = checklist.title_in(lang) if checklist else check.checklist_id
            unit = by_id[check.unit_id]
            open_now = check.state == repo.DUE and now < check.deadline_at
            # Past its deadline it is missed, whether or not the sweep has said so yet.
            state = repo.MISSED if check.state == repo.DUE and not open_now else check.state
            rows.append({"title": title, "unit": unit.name, "state": state,
                "due_at": check.due_at, "deadline": check.deadline_at,
                "answered": counts.get(check.id or 0, 0), "count": check.items,
                "who": names.get(check.done_by or check.assignee_id, ""),
                "done_at": check.done_at, "tz": unit.timezone or rt.default_timezone})
            if open_now and checklist is not None and len(buttons) < 5 and \
                    await may_answer(session, actor, check, checklist, unit):
                buttons.append([(rt.renderer.plain("button.check_open", lang, title=title),
                                 InspectionButton("go", check.id or 0))])
    return Board(True, "checks.board" if rows else "checks.board_empty",
                 {"units": "、".join(u.name for u in units) if lang == "zh"
                  else ", ".join(u.name for u in units), "checks": rows, "days": BOARD_DAYS},
                 markup=keyboard(buttons) if buttons else None)


async def _units_of(session: AsyncSession, actor: Actor, chat_id: int) -> list[Unit]:
    if chat_id < 0:
        group = await org_repo.get_group_chat(session, chat_id)
        unit = await org_repo.get_unit(session, group.unit_id) \
            if group is not None and group.unit_id else None
        return [unit] if unit is not None else []
    units: dict[int, Unit] = {}
    for group in await org_repo.groups_of_person(session, actor.person_id):
        unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        if unit is not None:
            units[unit.id or 0] = unit
    for _, unit in await org_repo.role_rows_of(session, actor.person_id):
        if UnitKind(unit.kind) in (UnitKind.TEAM, UnitKind.WORKSHOP, UnitKind.ENTERPRISE):
            units.setdefault(unit.id or 0, unit)
    return list(units.values())


# ------------------------------------------------------------------ figures and ledger


async def completion(rt: Runtime, unit_ids: Sequence[int], start: datetime,
                     end: datetime) -> CheckCompletion:
    """Checks of the units fallen due in [start, end): due, done, missed (one query)."""
    return sum((await completion_by_unit(rt, unit_ids, start, end)).values(), CheckCompletion())


async def completion_by_unit(rt: Runtime, unit_ids: Sequence[int], start: datetime,
                             end: datetime) -> Mapping[int, CheckCompletion]:
    """The same per unit (units without checks are left out), one grouped query."""
    async with rt.db.session() as session:
        return await repo.completion_by_unit(session, unit_ids, start, end)


async def sheet_rows(session: AsyncSession, renderer: Renderer, *, unit_ids: Sequence[int],
                     since: datetime, until: datetime, lang: str) -> list[list[Any]]:
    """The ledger's sheet of checks: one row per answer (a check without any: one row).

    ``[check, team, period, due, deadline, state, done by, done at, item no., item,
    answer, OK, note, photo, hazard, answered by, answered at]``.
    """
    rows: list[list[Any]] = []
    for found in await repo.ledger_checks(session, unit_ids=unit_ids, since=since,
                                          until=until):
        check, answer = found.inspection, found.answer
        checklist = checklists().get(check.checklist_id)
        title = checklist.title_in(lang) if checklist else check.checklist_id
        state = renderer.plain(f"checks.state_{check.state}", lang)
        base = [title, found.unit, check.period, check.due_at, check.deadline_at, state,
                found.done_by, check.done_at]
        if answer is None:
            rows.append([*base, None, "", "", "", "", "", "", "", None])
            continue
        shown = (f"{answer.value:g}" if answer.value is not None
                 else renderer.plain("button.check_ok" if answer.ok else "button.check_not_ok",
                                     lang))
        rows.append([
            *base, answer.item_index + 1, answer.item_text, shown,
            renderer.plain("checks.yes" if answer.ok else "checks.no", lang),
            answer.note or "", f"telegram:{answer.photo_file_id}" if answer.photo_file_id
            else "", found.hazard_code, found.answered_by, answer.answered_at])
    return rows
