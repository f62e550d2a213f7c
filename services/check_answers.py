"""Answering a check (检查) item by item: the buttons and the typed answers by reply.

Every answer is a row (``inspection_answer``): whoever answers next, after a
restart too, continues at the first item still open (``domain.inspections.next_step``).
Each question is queued in the outbox in the chat where the check is answered
(privately, or the unit's group when the person never pressed Start): a yes/no
item with OK / not OK buttons, a number, a photo or a note as a ForceReply whose
answer comes back through the conversation router (step ``chk:num|photo|note``).
An item "not OK", or a number outside its limits, asks for a photo and a note and
becomes a hazard report (:func:`services.hazard_reports.register_in`). A check done,
past its deadline, or not the presser's, is refused in one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.checklists import checklists
from content.render import mention
from domain.inspections import Checklist, Given, Item, next_step, parse_number
from services import hazard_reports
from services.base import Actor, Outcome, Runtime
from services.buttons import keyboard
from services.inspections import InspectionButton, may_answer
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import inspections as repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import ConversationDraft, Inspection, InspectionAnswer, Unit

DRAFT_PREFIX = "chk"  # conversation steps: chk:num, chk:photo, chk:note
MAX_NOTE = 500
FORCE_REPLY = {"force_reply": True, "selective": True}
Want = Literal["answer", "photo", "note"]
_STEP_OF = {"num": "answer", "photo": "photo", "note": "note"}


@dataclass
class _Loaded:
    inspection: Inspection
    checklist: Checklist
    unit: Unit


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
    if not await may_answer(session, actor, inspection, checklist, unit):
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
