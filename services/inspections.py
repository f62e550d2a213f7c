"""Inspections (检查): checks falling due, answered item by item, missed ones escalated.

- :func:`post_due` (the sweep, every minute): each checklist's checks that fell due
  and are not recorded yet are recorded (the row is the idempotency key) and sent to
  the people responsible: privately to those who pressed Start, else by a mention in
  their unit's group, with a "start" button.
- :func:`press` (the buttons) and :func:`continue_in` (typed numbers, photos, notes
  by reply) answer one item at a time. Every answer is a row: whoever answers next,
  after a restart too, continues at the first item still open. An item "not OK" (or a
  number outside its limits) asks for a photo and a note and becomes a hazard report
  through :func:`services.hazard_reports.register_in`, with its closed loop.
- :func:`escalate_missed` (the sweep): a check not done by its deadline is marked
  missed and the level above is told, once.
- :func:`board` is ``/checks``; :func:`completion` the figures for the monthly report;
  :func:`sheet_rows` the ledger's sheet of checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.checklists import checklists
from content.render import Renderer, mention
from domain.inspections import (
    CheckCompletion,
    Checklist,
    Given,
    Item,
    Occurrence,
    due_now,
    next_step,
    parse_number,
)
from domain.org import Role, UnitKind, has_role_over
from domain.shifts import ShiftSchedule
from services import hazard_reports, shifts
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import inspections as repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import ConversationDraft, Inspection, InspectionAnswer, Person, Unit

DRAFT_PREFIX = "chk"  # conversation steps: chk:num, chk:photo, chk:note
BATCH = 50  # checks recorded and sent per write transaction
MAX_NOTE = 500
BOARD_DAYS = 7  # /checks shows what fell due in the last week, and everything still due
UP_ROLES = (Role.SAFETY_OFFICER, Role.MANAGER)
FORCE_REPLY = {"force_reply": True, "selective": True}
Want = Literal["answer", "photo", "note"]
_STEP_OF = {"num": "answer", "photo": "photo", "note": "note"}


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


# ------------------------------------------------------------------ answering


@dataclass
class _Loaded:
    inspection: Inspection
    checklist: Checklist
    unit: Unit


async def _may_answer(session: AsyncSession, actor: Actor, inspection: Inspection,
                      checklist: Checklist, unit: Unit) -> bool:
    """The person asked, or anyone holding the checklist's role over the unit (a post's
    check: the team's leaders and above), or a bot admin."""
    if actor.is_bot_admin or actor.person_id in (inspection.assignee_id, inspection.subject_id):
        return True
    needed = checklist.role if checklist.role is not None else Role.TEAM_LEADER
    return has_role_over(await org_repo.grants_of(session, actor.person_id), unit.path, needed)


async def _load(session: AsyncSession, actor: Actor, inspection_id: int,
                now: datetime) -> _Loaded | Outcome:
    """The check if ``actor`` may answer it now; else the refusal (one sentence)."""
    inspection = await repo.get(session, inspection_id)
    if inspection is None:
        return Outcome.refused("callback.stale")
    checklist = checklists().get(inspection.checklist_id)
    unit = await org_repo.get_unit(session, inspection.unit_id)
    if checklist is None or unit is None:
        return Outcome.refused("checks.gone")
    if not await _may_answer(session, actor, inspection, checklist, unit):
        return Outcome.refused("checks.not_yours")
    if inspection.state == repo.DONE:
        return Outcome.refused("checks.already_done")
    if inspection.state == repo.MISSED or now >= inspection.deadline_at:
        return Outcome.refused("checks.no_longer_due")
    return _Loaded(inspection, checklist, unit)


def _given(answers: Sequence[InspectionAnswer]) -> dict[int, Given]:
    return {a.item_index: Given(a.ok, a.photo_file_id is not None, a.hazard_id is not None)
            for a in answers}


async def _language(session: AsyncSession, rt: Runtime, actor: Actor, chat_id: int) -> str:
    """The group's language in a group, the person's in private."""
    if chat_id > 0:
        return actor.language
    group = await org_repo.get_group_chat(session, chat_id)
    unit = await org_repo.get_unit(session, group.unit_id) \
        if group is not None and group.unit_id else None
    return org_repo.unit_language(unit, group, rt.default_language)


@dataclass
class _Chat:
    """Where a check is being answered, by whom, in which language."""

    chat_id: int
    actor: Actor
    lang: str

    def addressed(self, html: str) -> str:
        """In a group, a question waiting for a reply names its person (selective ForceReply)."""
        if self.chat_id > 0:
            return html
        return f"{mention(self.actor.telegram_id, self.actor.name)} {html}"


def _item_values(loaded: _Loaded, index: int, lang: str) -> dict[str, Any]:
    item = loaded.checklist.items[index]
    return {"title": loaded.checklist.title_in(lang), "number": index + 1,
            "count": len(loaded.checklist.items), "text": item.text_in(lang),
            "kind": item.kind, "min": _figure(item.minimum), "max": _figure(item.maximum),
            "unit": item.unit, "photo": item.photo}


def _figure(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


async def _ask(session: AsyncSession, rt: Runtime, loaded: _Loaded, step: tuple[int, Want],
               chat: _Chat, now: datetime, nonce: str = "") -> int:
    """Queue the question for ``step`` in the chat; keep the conversation's step (a typed
    answer) or drop it (a button answer). Returns how many messages were queued."""
    index, want = step
    item = loaded.checklist.items[index]
    inspection_id = loaded.inspection.id or 0
    values = _item_values(loaded, index, chat.lang)
    draft = await drafts_repo.get_draft(session, chat.chat_id, chat.actor.person_id)
    markup: dict[str, Any]
    if want == "answer" and item.kind == "yes_no":
        if draft is not None and draft.step.startswith(f"{DRAFT_PREFIX}:"):
            await drafts_repo.drop_draft(session, draft)
        html = rt.renderer.html("checks.item", chat.lang, **values)
        markup = keyboard([[
            (rt.renderer.plain("button.check_ok", chat.lang),
             InspectionButton("ok", inspection_id, index)),
            (rt.renderer.plain("button.check_not_ok", chat.lang),
             InspectionButton("no", inspection_id, index))]])
    else:
        step_name = {"answer": "num", "photo": "photo", "note": "note"}[want]
        await drafts_repo.start_draft(session, chat.chat_id, chat.actor.person_id,
                                      step=f"{DRAFT_PREFIX}:{step_name}",
                                      data={"inspection": inspection_id, "item": index},
                                      now=now)
        answer = await repo.answer_of(session, inspection_id, index)
        key = {"answer": "checks.ask_number", "note": "checks.ask_note",
               "photo": "checks.ask_photo" if answer is not None and answer.ok
               else "checks.ask_problem_photo"}[want]
        html = chat.addressed(rt.renderer.html(key, chat.lang, **values))
        markup = FORCE_REPLY
    rows = await outbox_repo.enqueue_text(
        session, chat_id=chat.chat_id, html=html, now=now, purpose="checks.ask",
        reply_markup=markup, person_id=chat.actor.person_id if chat.chat_id > 0 else None,
        dedupe_key=f"check-ask:{inspection_id}:{index}:{want}:{chat.chat_id}:{nonce}")
    return len(rows)


async def _advance(session: AsyncSession, rt: Runtime, loaded: _Loaded, chat: _Chat,
                   now: datetime) -> int:
    """Ask what is next, or close the check when nothing is: messages queued."""
    step = next_step(loaded.checklist,
                     _given(await repo.answers(session, loaded.inspection.id or 0)))
    if step is not None:
        return await _ask(session, rt, loaded, step, chat, now)
    return await _finish(session, rt, loaded, chat, now)


async def _finish(session: AsyncSession, rt: Runtime, loaded: _Loaded, chat: _Chat,
                  now: datetime) -> int:
    """Every item answered: the check is done (once) and the answerer hears how it went."""
    draft = await drafts_repo.get_draft(session, chat.chat_id, chat.actor.person_id)
    if draft is not None and draft.step.startswith(f"{DRAFT_PREFIX}:"):
        await drafts_repo.drop_draft(session, draft)
    if not await repo.finish(session, loaded.inspection, chat.actor.person_id, now):
        return 0
    answers = await repo.answers(session, loaded.inspection.id or 0)
    codes = await _hazard_codes(session, [a.hazard_id for a in answers if a.hazard_id])
    html = rt.renderer.html("checks.completed", chat.lang,
                            title=loaded.checklist.title_in(chat.lang), unit=loaded.unit.name,
                            items=len(answers), not_ok=sum(1 for a in answers if not a.ok),
                            codes=codes)
    return len(await outbox_repo.enqueue_text(
        session, chat_id=chat.chat_id, html=html, now=now, purpose="checks.completed",
        dedupe_key=f"check-completed:{loaded.inspection.id}"))


async def _hazard_codes(session: AsyncSession, hazard_ids: Sequence[int]) -> list[str]:
    found = [await hazard_repo.get_hazard(session, i) for i in hazard_ids]
    return [h.code for h in found if h is not None]


async def press(rt: Runtime, actor: Actor, button: InspectionButton, *, chat_id: int,
                message_id: int | None) -> Outcome:
    """A check's button: open it where it stands (``go``), or answer a yes/no item.

    A second tap on the same answer, an answer to an item already answered, or a
    check done or past its deadline is refused in one sentence; so is anyone who
    may not answer this check.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await _load(session, actor, button.inspection_id, now)
        if isinstance(loaded, Outcome):
            return loaded
        chat = _Chat(chat_id, actor, await _language(session, rt, actor, chat_id))
        step = next_step(loaded.checklist,
                         _given(await repo.answers(session, button.inspection_id)))
        if button.action == "go":
            await repo.mark_started(session, loaded.inspection, now)
            if step is None:
                queued = await _finish(session, rt, loaded, chat, now)
                return Outcome.done("checks.started", queued=queued)
            queued = await _ask(session, rt, loaded, step, chat, now,
                                nonce=f"go{message_id or 0}")
            return Outcome.done("checks.started" if queued else "checks.continue_above",
                                queued=queued)
        if step is None or step != (button.item, "answer") \
                or loaded.checklist.items[button.item].kind != "yes_no":
            answered = await repo.answer_of(session, button.inspection_id, button.item)
            return Outcome.refused("checks.already_answered" if answered is not None
                                   else "callback.stale")
        item = loaded.checklist.items[button.item]
        ok = button.action == "ok"
        if not await repo.add_answer(session, inspection_id=button.inspection_id,
                                     item_index=button.item, item_text=item.text_in(chat.lang),
                                     person_id=actor.person_id, ok=ok, answered_at=now):
            return Outcome.refused("checks.already_answered")
        await repo.mark_started(session, loaded.inspection, now)
        queued = await _show_answer(session, rt, loaded, chat, button.item, ok, None,
                                    message_id, now)
        queued += await _advance(session, rt, loaded, chat, now)
    rt.wake()
    return Outcome.done("checks.recorded" if ok else "checks.recorded_not_ok", queued=queued)


async def _show_answer(session: AsyncSession, rt: Runtime, loaded: _Loaded, chat: _Chat,
                       index: int, ok: bool, value: float | None, message_id: int | None,
                       now: datetime) -> int:
    """The question's message shows the answer and loses its buttons (one answer each)."""
    if message_id is None:
        return 0
    values = _item_values(loaded, index, chat.lang)
    html = rt.renderer.html("checks.item", chat.lang, **values) + "\n" + rt.renderer.html(
        "checks.item_answered", chat.lang, ok=ok, who=chat.actor.name)
    row = await outbox_repo.enqueue(
        session, chat_id=chat.chat_id, method="editMessageText", now=now,
        params={"message_id": message_id, "text": html, "parse_mode": "HTML",
                "reply_markup": {"inline_keyboard": []}},
        purpose="checks.answered", dedupe_key=f"check-answered:{loaded.inspection.id}:{index}")
    return int(row is not None)


@dataclass(frozen=True)
class Reply:
    """What one message says to a check in progress (read by the edge)."""

    text: str | None = None
    photo: tuple[str, str] | None = None  # file_id, file_unique_id
    message_id: int | None = None


@dataclass
class Continued:
    """What a reply did, once committed: a new hazard's photos to download."""

    queued: int = 0
    hazard_id: int | None = None
    photos: tuple[tuple[str, str], ...] = field(default_factory=tuple)



async def continue_in(session: AsyncSession, rt: Runtime, actor: Actor,
                      draft: ConversationDraft, reply: Reply) -> Continued:
    """One typed answer, photo or note, inside the conversation's transaction.

    Everything to say is queued in the outbox; the caller wakes it once committed
    and downloads the photos of a hazard registered here.
    """
    now = rt.clock.now()
    data = drafts_repo.draft_data(draft)
    want = draft.step.split(":", 1)[1]
    index = int(data.get("item", -1))
    chat = _Chat(draft.chat_id, actor, await _language(session, rt, actor, draft.chat_id))
    loaded = await _load(session, actor, int(data.get("inspection", 0)), now)
    if isinstance(loaded, Outcome):
        await drafts_repo.drop_draft(session, draft)
        return Continued(await _say(session, rt, chat, loaded.key, now, reply))
    step = next_step(loaded.checklist, _given(await repo.answers(session,
                                                                 loaded.inspection.id or 0)))
    if step != (index, _STEP_OF.get(want)):
        # Answered meanwhile (another leader, another chat): carry on from where it stands.
        return Continued(await _advance(session, rt, loaded, chat, now))
    item = loaded.checklist.items[index]
    if want == "num":
        return await _number(session, rt, loaded, chat, index, item, reply, now)
    if want == "photo":
        if reply.photo is None:
            return Continued(await _say(session, rt, chat, "checks.photo_needed", now, reply,
                                        force_reply=True))
        answer = await repo.answer_of(session, loaded.inspection.id or 0, index)
        assert answer is not None
        answer.photo_file_id, answer.photo_unique_id = reply.photo
        session.add(answer)
        await session.flush()
        return Continued(await _advance(session, rt, loaded, chat, now))
    return await _note(session, rt, loaded, chat, index, item, reply, now)


async def _say(session: AsyncSession, rt: Runtime, chat: _Chat, key: str, now: datetime,
               reply: Reply, *, force_reply: bool = False, **values: Any) -> int:
    """One sentence in the chat (a refusal, or a question asked again)."""
    html = rt.renderer.html(key, chat.lang, **values)
    rows = await outbox_repo.enqueue_text(
        session, chat_id=chat.chat_id, html=chat.addressed(html) if force_reply else html,
        now=now, purpose="checks.say", reply_markup=FORCE_REPLY if force_reply else None,
        dedupe_key=f"check-say:{chat.chat_id}:{reply.message_id}:{key}"
        if reply.message_id is not None else None)
    return len(rows)


async def _number(session: AsyncSession, rt: Runtime, loaded: _Loaded, chat: _Chat, index: int,
                  item: Item, reply: Reply, now: datetime) -> Continued:
    value = parse_number(reply.text)
    if value is None:  # one sentence, then the question again
        queued = await _say(session, rt, chat, "checks.not_a_number", now, reply)
        queued += await _ask(session, rt, loaded, (index, "answer"), chat, now,
                             nonce=f"m{reply.message_id}")
        return Continued(queued)
    ok = item.within(value)
    await repo.add_answer(session, inspection_id=loaded.inspection.id or 0, item_index=index,
                          item_text=item.text_in(chat.lang), person_id=chat.actor.person_id,
                          ok=ok, value=value, answered_at=now)
    await repo.mark_started(session, loaded.inspection, now)
    queued = 0
    if not ok:
        queued += await _say(session, rt, chat, "checks.out_of_limits", now, reply,
                             value=f"{value:g}", **_item_values(loaded, index, chat.lang))
    return Continued(queued + await _advance(session, rt, loaded, chat, now))


async def _note(session: AsyncSession, rt: Runtime, loaded: _Loaded, chat: _Chat, index: int,
                item: Item, reply: Reply, now: datetime) -> Continued:
    """The note of an item not OK: the hazard report is registered with the photo."""
    text = (reply.text or "").strip()
    if not text:
        return Continued(await _say(session, rt, chat, "checks.note_needed", now, reply,
                                    force_reply=True))
    if len(text) > MAX_NOTE:
        return Continued(await _say(session, rt, chat, "checks.note_too_long", now, reply,
                                    force_reply=True, length=len(text), limit=MAX_NOTE))
    answer = await repo.answer_of(session, loaded.inspection.id or 0, index)
    assert answer is not None and answer.photo_file_id and answer.photo_unique_id
    group = await org_repo.chat_of_unit(session, loaded.unit.id or 0)
    lang = org_repo.unit_language(loaded.unit, group, rt.default_language)
    values = _item_values(loaded, index, lang)
    photo = (answer.photo_file_id, answer.photo_unique_id)
    hazard = await hazard_reports.register_in(
        rt, session, loaded.unit, chat.actor, category=item.category, severity=item.severity,
        location=rt.renderer.plain("checks.hazard_location", lang, **values),
        description=rt.renderer.plain(
            "checks.hazard_description", lang, note=text,
            value=_figure(answer.value), **values),
        photos=[photo])
    answer.note, answer.hazard_id = text, hazard.id
    session.add(answer)
    await session.flush()
    queued = await _say(session, rt, chat, "checks.hazard_registered", now, reply,
                        code=hazard.code)
    queued += await _advance(session, rt, loaded, chat, now)
    return Continued(queued, hazard.id, (photo,))


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
                    await _may_answer(session, actor, check, checklist, unit):
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
