"""随手拍: reporting a hazard, step by step, as actions any edge can call.

Steps: photo(s) → place → category → severity → description (optional) →
confirm → submit. The report in progress is a row in ``conversation_draft``
(one per person per chat), so it survives a restart; the idle drop is a sweep.

Photos are downloaded by the edge *after* :func:`submit` has committed, and only
for a new hazard (never for one linked as a duplicate, nor for a second press):
the outcome names them, and the edge records where it saved them with
``services.hazards.keep_photos`` (no network I/O inside a transaction).

A report made in a group where the bot may delete messages is *tidy*: the
draft remembers the ids of every prompt and answer (its ``trail``), and once
submitted the trail is deleted through the outbox, so the group keeps the card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import categories, category, escalation_policy
from domain.hazard import Severity
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, Chars, keyboard
from services.hazard_steps import CARD_STEPS, labels, step_keyboard
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import ConversationDraft, Hazard, Unit

MAX_PHOTOS = 5
MAX_DESCRIPTION = 1000
MAX_LOCATION = 200
DUPLICATE_WINDOW = timedelta(hours=24)
# Texts that wait for a typed answer (or a photo): sent as selective ForceReply, so the
# answer reaches the bot with privacy mode on. The rest are answered with buttons.
PROMPTS = frozenset({"report.ask_photo", "report.ask_photo_again", "report.too_big",
                     "report.ask_location", "report.location_too_long",
                     "report.ask_description", "report.description_too_long"})
STEPS = frozenset({"photo", "location", "category", "severity", "description", "confirm"})
DEEP_LINK_PREFIX = "report_"  # /start report_<unit id>: a report for that team, in private
DELETE_BATCH = 100  # deleteMessages takes at most 100 ids


@dataclass(frozen=True)
class ReportStep(Button, prefix="hr"):
    """A button of the report: category, severity, skip, submit (``ok``), cancel (``x``)."""

    action: Literal["cat", "sev", "skip", "ok", "x"]
    arg: Annotated[str, Chars(12)] = ""  # the longest category key: "housekeeping"


@dataclass(frozen=True)
class Answer:
    """What one message says to a report in progress (read by the edge)."""

    photo: tuple[str, str] | None = None  # file_id, file_unique_id
    too_big: bool = False
    album: str | None = None
    text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    message_id: int | None = None


@dataclass
class Step:
    """What an answer or a press did: the text to say next (if any) and the answers so far."""

    key: str | None
    values: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None
    submit: bool = False


@dataclass(frozen=True)
class Prompt:
    """One message to send: a text key, its values, and its keyboard or ForceReply."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    keyboard: dict[str, Any] | None = None
    force_reply: bool = False


@dataclass
class Submitted(Outcome):
    """A submit's outcome; ``tidy`` when the card alone speaks for it in the group.

    A new hazard names itself and its photos (file id, unique id) to download now.
    """

    tidy: bool = False
    hazard_id: int | None = None
    photos: tuple[tuple[str, str], ...] = ()


def deep_link_payload(unit_id: int) -> str:
    """The ``start`` parameter that opens a report for ``unit_id`` in the private chat."""
    return f"{DEEP_LINK_PREFIX}{unit_id}"


def unit_of_payload(payload: str) -> int | None:
    """The unit id of a report deep link, or None when the payload is not one."""
    if not payload.startswith(DEEP_LINK_PREFIX):
        return None
    digits = payload.removeprefix(DEEP_LINK_PREFIX)
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else None


# ---------------------------------------------------------------- starting


async def start(rt: Runtime, actor: Actor, chat_id: int, *, first: Answer | None = None,
                description: str | None = None, unit_id: int | None = None,
                tidy_from: int | None = None) -> Outcome:
    """Open a draft (replacing one in progress here) and say what to ask first.

    ``first`` is a photo that came with the start (the ``#隐患`` caption);
    ``unit_id`` the team a private report is for (from the group's deep link);
    ``tidy_from`` the id of the message that started it, in a group where the
    bot may delete messages (the report's trail begins there).
    """
    data: dict[str, Any] = {}
    step = "photo"
    if first is not None and first.photo is not None:
        data = {"photos": [list(first.photo)], "album": first.album,
                "description": (description or "")[:MAX_DESCRIPTION] or None}
        step = "location"
    if unit_id is not None:
        data["unit_id"] = unit_id
    if tidy_from is not None:
        data["tidy"], data["trail"] = True, [tidy_from]
    async with rt.db.transaction() as session:
        await drafts_repo.start_draft(session, chat_id, actor.person_id, step=step, data=data,
                                      now=rt.clock.now())
    return Outcome.done("report.ask_photo" if step == "photo" else "report.ask_location",
                        tidy=tidy_from is not None)


# ---------------------------------------------------------------- the steps


def is_report(draft: ConversationDraft) -> bool:
    """Whether a draft is a hazard report (its steps carry no feature prefix)."""
    return draft.step in STEPS


def advance(step: str, data: dict[str, Any], answer: Answer) -> Step:
    """Apply one answer to the answers so far (in place); say what to ask next."""
    if step == "photo":
        if answer.too_big:
            return Step("report.too_big")
        if answer.photo is None:
            return Step("report.ask_photo_again")
        data["photos"] = [list(answer.photo)]
        data["album"] = answer.album
        return Step("report.ask_location", next_step="location")
    if step == "location" and answer.photo is not None:
        # More photos of the same album (or sent one by one before the place).
        photos = data.setdefault("photos", [])
        if len(photos) < MAX_PHOTOS and list(answer.photo) not in photos:
            photos.append(list(answer.photo))
        return Step(None, next_step="location")
    if step == "location":
        if answer.latitude is not None and answer.longitude is not None:
            data["latitude"], data["longitude"] = answer.latitude, answer.longitude
            data["location"] = f"{answer.latitude:.5f}, {answer.longitude:.5f}"
        elif answer.text and answer.text.strip():
            text = answer.text.strip()
            if len(text) > MAX_LOCATION:
                return Step("report.location_too_long")
            data["location"] = text
        else:
            return Step("report.ask_location")
        return Step("report.ask_category", next_step="category")
    if step == "description":
        text = (answer.text or "").strip()
        if not text:
            return Step("report.ask_description")
        if len(text) > MAX_DESCRIPTION:
            return Step("report.description_too_long", {"length": len(text)})
        data["description"] = text
        return Step("report.confirm", next_step="confirm")
    return Step(None)  # category, severity, confirm: answered with buttons


def continue_in(session: AsyncSession, draft: ConversationDraft, answer: Answer,
                now: datetime) -> Step:
    """One answer to a report in progress, inside the caller's transaction."""
    data = drafts_repo.draft_data(draft)
    result = advance(draft.step, data, answer)
    if data.get("tidy") and answer.message_id is not None:
        data.setdefault("trail", []).append(answer.message_id)
    if result.next_step is not None or data.get("tidy"):
        drafts_repo.save_draft(session, draft, step=result.next_step or draft.step, data=data,
                               now=now)
    result.data = data
    return result


async def press(rt: Runtime, actor: Actor, chat_id: int, button: ReportStep | None) -> Step:
    """A report button: returns the next text, a refusal (``values["refused"]``) or submit."""
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        if button is None:
            return Step("callback.stale", {"refused": True})
        if draft is None:
            return Step("report.not_yours", {"refused": True})
        data = drafts_repo.draft_data(draft)
        action, arg = button.action, button.arg
        expected = {"cat": "category", "sev": "severity", "skip": "description",
                    "ok": "confirm", "x": draft.step}[action]
        if expected != draft.step or (action == "cat" and category(arg) is None) or \
                (action == "sev" and arg not in {s.value for s in Severity}):
            return Step("callback.stale", {"refused": True})
        now = rt.clock.now()
        if action == "x":
            await drafts_repo.drop_draft(session, draft)
            return Step("report.cancelled", data=data)
        if action == "ok":
            return Step(None, data=data, submit=True)
        if action == "cat":
            data["category"] = arg
            step, key = "severity", "report.ask_severity"
        elif action == "sev":
            data["severity"] = arg
            step, key = "description", "report.ask_description"
        else:
            data["description"] = data.get("description")
            step, key = "confirm", "report.confirm"
        drafts_repo.save_draft(session, draft, step=step, data=data, now=now)
    return Step(key, data=data, next_step=step)


def prompts(rt: Runtime, key: str, lang: str, data: Mapping[str, Any],
            values: Mapping[str, Any] | None = None) -> list[Prompt]:
    """The message(s) that ask ``key``: every report keyboard is built here."""
    plain = rt.renderer.plain
    if key == "report.ask_category":
        found = categories()
        rows: list[list[tuple[str, Button | str]]] = [
            [(c.name(lang), ReportStep("cat", c.key)) for c in found[i:i + 2]]
            for i in range(0, len(found), 2)]
        return [Prompt(key, keyboard=keyboard(rows))]
    if key == "report.ask_severity":
        row: list[tuple[str, Button | str]] = [
            (plain(f"severity.{s.value}", lang), ReportStep("sev", s.value)) for s in Severity]
        return [Prompt(key, keyboard=keyboard([row]))]
    if key == "report.ask_description":
        # The question waits for a reply (ForceReply, so it reaches the bot with privacy
        # mode on); a message has one kind of markup, so "skip" comes right after it.
        skip = keyboard([[(plain("button.skip", lang), ReportStep("skip"))]])
        return [Prompt(key, force_reply=True), Prompt("report.skip_description", keyboard=skip)]
    if key == "report.confirm":
        found_category = category(str(data.get("category")))
        buttons = keyboard([[(plain("button.submit", lang), ReportStep("ok")),
                             (plain("button.cancel", lang), ReportStep("x"))]])
        return [Prompt(key, {
            "photos": len(data.get("photos", [])), "location": data.get("location", ""),
            "category": found_category.name(lang) if found_category else "",
            "severity": plain(f"severity.{data.get('severity')}", lang),
            "description": data.get("description")}, keyboard=buttons)]
    return [Prompt(key, dict(values or {}), force_reply=key in PROMPTS)]


async def remember_messages(rt: Runtime, person_id: int, chat_id: int,
                            message_ids: Sequence[int]) -> None:
    """Add the bot's prompts to a tidy report's trail (nothing for other reports)."""
    if not message_ids:
        return
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, person_id)
        if draft is None or not is_report(draft):
            return
        data = drafts_repo.draft_data(draft)
        if not data.get("tidy"):
            return
        data.setdefault("trail", []).extend(message_ids)
        # Not a touch by the reporter: the idle clock keeps its time.
        drafts_repo.save_draft(session, draft, step=draft.step, data=data,
                               now=draft.updated_at)


# ---------------------------------------------------------------- submitting


async def submit(rt: Runtime, actor: Actor, chat_id: int) -> Submitted:
    """Register the report: a hazard code and its card queued for the team group.

    The same photo reported in the same team within 24 hours is linked to the
    hazard already registered instead. A new hazard's outcome lists its photos,
    for the edge to download once this has committed.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        if draft is None or draft.step != "confirm":
            return Submitted(False, "report.not_yours")
        data = drafts_repo.draft_data(draft)
        await drafts_repo.drop_draft(session, draft)
        photos = [(str(f), str(u)) for f, u in data.get("photos", [])]
        team = await _team_of(session, chat_id, actor, data)
        tidy = bool(data.get("tidy"))
        queued = await _tidy_up(session, chat_id, draft, data, now) if tidy else 0
        if team is None:
            result = Submitted(False, "report.no_team", queued=queued)
        else:
            duplicate = await hazard_repo.find_duplicate(
                session, unit_id=team.id or 0, unique_ids=[u for _, u in photos],
                since=now - DUPLICATE_WINDOW)
            if duplicate is not None:
                await hazard_repo.record_event(session, duplicate, at=now,
                                               actor_id=actor.person_id,
                                               action="duplicate_report")
                result = Submitted(True, "report.duplicate", {"code": duplicate.code},
                                   queued=queued)
            else:
                hazard, cards = await _register(rt, session, team, actor, data, photos)
                # Tidy: the card in the group is the confirmation; nothing else stays.
                result = Submitted(True, "report.submitted", {"code": hazard.code},
                                   queued=queued + cards, tidy=tidy, hazard_id=hazard.id,
                                   photos=tuple(photos))
    if result.queued:
        rt.wake()
    return result


async def _team_of(session: AsyncSession, chat_id: int, actor: Actor,
                   data: Mapping[str, Any]) -> Unit | None:
    """The team a report belongs to: the group's; in private, the team of the deep link
    (when the reporter is in its group) or else the reporter's first team."""
    if chat_id < 0:
        group = await org_repo.get_group_chat(session, chat_id)
        return await org_repo.get_unit(session, group.unit_id) \
            if group is not None and group.unit_id is not None else None
    groups = [g for g in await org_repo.groups_of_person(session, actor.person_id)
              if g.unit_id is not None]
    wanted = data.get("unit_id")
    chosen = next((g for g in groups if g.unit_id == wanted), None) or \
        (groups[0] if groups else None)
    return await org_repo.get_unit(session, chosen.unit_id or 0) if chosen else None


async def _tidy_up(session: AsyncSession, chat_id: int, draft: ConversationDraft,
                   data: Mapping[str, Any], now: datetime) -> int:
    """Queue the deletion of a tidy report's prompts and answers."""
    trail = sorted({int(i) for i in data.get("trail", [])})
    queued = 0
    for start_at in range(0, len(trail), DELETE_BATCH):
        batch = trail[start_at:start_at + DELETE_BATCH]
        row = await outbox_repo.enqueue(
            session, chat_id=chat_id, method="deleteMessages", params={"message_ids": batch},
            now=now, purpose="report.tidy",
            dedupe_key=f"report-tidy:{chat_id}:{draft.id}:{batch[0]}")
        queued += row is not None
    return queued


async def _register(rt: Runtime, session: AsyncSession, team: Unit, actor: Actor,
                    data: dict[str, Any],
                    photos: list[tuple[str, str]]) -> tuple[Hazard, int]:
    now = rt.clock.now()
    severity = Severity(data["severity"])
    zone = team.timezone or rt.default_timezone
    day = now.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")
    hazard = await hazard_repo.create_hazard(
        session, unit_id=team.id or 0, reporter_id=actor.person_id, severity=severity,
        category=str(data["category"]), location_text=data.get("location"),
        latitude=data.get("latitude"), longitude=data.get("longitude"),
        description=data.get("description"),
        photos=[(f, u, None) for f, u in photos],
        now=now, day=day, policy=escalation_policy().for_severity(severity))
    cards = await _post_card(rt, session, hazard, team, actor, photos[0][0])
    return hazard, cards


async def register_in(rt: Runtime, session: AsyncSession, team: Unit, reporter: Actor, *,
                      category: str, severity: str, location: str, description: str,
                      photos: Sequence[tuple[str, str]]) -> Hazard:
    """Register a hazard inside the caller's transaction, its card queued for the team group.

    For reports made another way than the conversation (a check's item answered
    "not OK"): the same code, card, closed loop and escalation as any report. The
    caller downloads the photos (file id, unique id) once its transaction committed.
    """
    data = {"category": category, "severity": severity,
            "location": location[:MAX_LOCATION] or None,
            "description": description[:MAX_DESCRIPTION] or None}
    hazard, _ = await _register(rt, session, team, reporter, data, list(photos))
    return hazard


async def _post_card(rt: Runtime, session: AsyncSession, hazard: Hazard, team: Unit,
                     reporter: Actor, photo_id: str) -> int:
    """The hazard card in the team group (photo, facts, acknowledge button)."""
    group = await org_repo.chat_of_unit(session, team.id or 0)
    if group is None or not group.active:
        return 0
    lang = org_repo.unit_language(team, group, rt.default_language)
    found = category(hazard.category)
    renderer = rt.renderer
    card = renderer.html(
        "hazard.card", lang, code=hazard.code,
        severity=renderer.plain(f"severity.{hazard.severity}", lang),
        category=found.name(lang) if found else hazard.category,
        location=hazard.location_text or "", description=hazard.description,
        reporter=reporter.name, deadline=hazard.watch_deadline)
    markup = step_keyboard(labels(renderer, lang), hazard.id or 0, CARD_STEPS, per_row=3)
    key = f"hazard-card:{hazard.id}"
    await outbox_repo.enqueue(session, chat_id=group.chat_id, method="sendPhoto",
                              params={"photo": photo_id, "caption": f"⚠️ {hazard.code}"},
                              now=rt.clock.now(), purpose="hazard.card",
                              dedupe_key=f"{key}:photo")
    await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=card,
                                   now=rt.clock.now(), purpose="hazard.card",
                                   reply_markup=markup, dedupe_key=key)
    return 2


# ---------------------------------------------------------------- cancelling


async def cancel(rt: Runtime, actor: Actor, chat_id: int) -> str | None:
    """Drop the person's conversation in progress here (any feature's); its step, or None."""
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        if draft is None:
            return None
        await drafts_repo.drop_draft(session, draft)
        return draft.step
