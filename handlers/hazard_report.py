"""随手拍: reporting a hazard with a photo, step by step.

Steps: photo(s) → place → category → severity → description (optional) →
confirm. The report in progress is a row in ``conversation_draft``, so it survives a
restart and the idle drop follows the injected clock (a sweep, not a timer).

Privacy mode: in groups the bot sees only replies to its own messages, so
each prompt asks for a reply; buttons work everywhere. A photo whose caption
starts with ``#隐患`` or ``#hazard`` starts a report at once.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from content.hazards import categories, category, escalation_policy
from domain.hazard import Severity
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    is_group,
    keep_evidence,
    language_of,
    learn_person,
    photo_of,
    reply,
    sender,
    services,
)
from handlers.conversations import Say, conversation_feature
from services.buttons import pack
from services.hazard_steps import CARD_STEPS, labels, step_keyboard
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import ConversationDraft, Hazard, Person, Unit

MAX_PHOTOS = 5
MAX_DESCRIPTION = 1000
MAX_LOCATION = 200
DUPLICATE_WINDOW = timedelta(hours=24)
HASHTAG = r"^\s*#(隐患|hazard)\b"
# Texts that wait for a typed answer (or a photo): sent as selective ForceReply, so the
# answer reaches the bot with privacy mode on. The rest are answered with buttons.
PROMPTS = frozenset({"report.ask_photo", "report.ask_photo_again", "report.too_big",
                     "report.ask_location", "report.location_too_long",
                     "report.ask_description", "report.description_too_long"})


# ---------------------------------------------------------------- starting


async def report_command(update: Update, context: Context) -> None:
    """/report: open a draft and ask for the photo."""
    user = sender(update)
    chat = update.effective_chat
    if user is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        await drafts_repo.start_draft(session, chat.id, person.id or 0, step="photo", data={},
                                      now=svc.clock.now())
    await reply(update, context, "report.ask_photo", force_reply=True,
                 person_id=person.telegram_id, person=person.name)


async def hashtag_photo(update: Update, context: Context) -> None:
    """A photo captioned ``#隐患 …``: the photo is step one, the caption the description."""
    message = update.effective_message
    user = sender(update)
    chat = update.effective_chat
    if message is None or user is None or chat is None:
        return
    photo = photo_of(message)
    if photo is None or photo == "too_big":
        await reply(update, context, "report.too_big" if photo else "report.ask_photo_again")
        return
    caption = (message.caption or "").strip()
    description = caption.split(maxsplit=1)[1] if len(caption.split(maxsplit=1)) > 1 else ""
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        await drafts_repo.start_draft(
            session, chat.id, person.id or 0, step="location",
            data={"photos": [photo], "album": message.media_group_id,
                  "description": description[:MAX_DESCRIPTION] or None},
            now=svc.clock.now())
    await reply(update, context, "report.ask_location", force_reply=True)


# ---------------------------------------------------------------- the steps


async def continue_report(session: AsyncSession, update: Update, context: Context,
                          draft: ConversationDraft, message: Message) -> Say | None:
    """One answer of a report in progress; returns what to say once it is committed."""
    data = drafts_repo.draft_data(draft)
    outcome = _advance(draft.step, data, message)
    if outcome.next_step is not None:
        drafts_repo.save_draft(session, draft, step=outcome.next_step, data=data,
                               now=services(context).clock.now())
    if outcome.key is None:
        return None
    key = outcome.key
    return lambda: _prompt(update, context, key, outcome.values, data)


class _Outcome:
    def __init__(self, key: str | None, next_step: str | None = None,
                 **values: Any) -> None:
        self.key, self.next_step, self.values = key, next_step, values


def _advance(step: str, data: dict[str, Any], message: Message) -> _Outcome:
    """Apply one answer to the draft; say what to ask next."""
    photo = photo_of(message)
    if step == "photo":
        if photo == "too_big":
            return _Outcome("report.too_big")
        if not isinstance(photo, list):
            return _Outcome("report.ask_photo_again")
        data["photos"] = [photo]
        data["album"] = message.media_group_id
        return _Outcome("report.ask_location", "location")
    if step == "location" and isinstance(photo, list):
        # More photos of the same album (or sent one by one before the place).
        photos = data.setdefault("photos", [])
        if len(photos) < MAX_PHOTOS and photo not in photos:
            photos.append(photo)
        return _Outcome(None, "location")
    if step == "location":
        if message.location is not None:
            data["latitude"] = message.location.latitude
            data["longitude"] = message.location.longitude
            data["location"] = f"{message.location.latitude:.5f}, {message.location.longitude:.5f}"
        elif message.text and message.text.strip():
            text = message.text.strip()
            if len(text) > MAX_LOCATION:
                return _Outcome("report.location_too_long")
            data["location"] = text
        else:
            return _Outcome("report.ask_location")
        return _Outcome("report.ask_category", "category")
    if step == "description":
        text = (message.text or "").strip()
        if not text:
            return _Outcome("report.ask_description")
        if len(text) > MAX_DESCRIPTION:
            return _Outcome("report.description_too_long", length=len(text))
        data["description"] = text
        return _Outcome("report.confirm", "confirm")
    return _Outcome(None)  # category, severity, confirm: answered with buttons


async def _prompt(update: Update, context: Context, key: str, values: dict[str, Any],
                  data: dict[str, Any]) -> None:
    svc = services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    if key == "report.ask_category":
        rows = [[InlineKeyboardButton(c.name(lang), callback_data=pack("hr", "cat", c.key))
                 for c in categories()[i:i + 2]] for i in range(0, len(categories()), 2)]
        await reply(update, context, key, reply_markup=InlineKeyboardMarkup(rows))
    elif key == "report.ask_severity":
        buttons = [InlineKeyboardButton(svc.renderer.plain(f"severity.{s.value}", lang),
                                        callback_data=pack("hr", "sev", s.value))
                   for s in Severity]
        await reply(update, context, key, reply_markup=InlineKeyboardMarkup([buttons]))
    elif key == "report.ask_description":
        # The question waits for a reply (ForceReply, so it reaches the bot with privacy
        # mode on); a message has one kind of markup, so "skip" comes right after it.
        await reply(update, context, key, force_reply=True)
        skip = InlineKeyboardButton(svc.renderer.plain("button.skip", lang),
                                    callback_data=pack("hr", "skip"))
        await reply(update, context, "report.skip_description",
                    reply_markup=InlineKeyboardMarkup([[skip]]))
    elif key == "report.confirm":
        found = category(str(data.get("category")))
        markup = InlineKeyboardMarkup([[
            InlineKeyboardButton(svc.renderer.plain("button.submit", lang),
                                 callback_data=pack("hr", "ok")),
            InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                                 callback_data=pack("hr", "x"))]])
        await reply(update, context, key, reply_markup=markup,
                     photos=len(data.get("photos", [])), location=data.get("location", ""),
                     category=found.name(lang) if found else "",
                     severity=svc.renderer.plain(f"severity.{data.get('severity')}", lang),
                     description=data.get("description"))
    else:
        await reply(update, context, key, force_reply=key in PROMPTS, **values)


# ---------------------------------------------------------------- buttons


async def report_clicked(update: Update, context: Context) -> None:
    """Category, severity, skip, submit and cancel buttons."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "hr")
    if parts is None or chat is None or user is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        if draft is None:
            await query.answer(svc.renderer.plain("report.not_yours", lang), show_alert=True)
            return
        data = drafts_repo.draft_data(draft)
        action, arg = parts[0], (parts[1] if len(parts) > 1 else "")
        expected = {"cat": "category", "sev": "severity", "skip": "description",
                    "ok": "confirm", "x": draft.step}.get(action)
        if expected != draft.step or (action == "cat" and category(arg) is None) or \
                (action == "sev" and arg not in {s.value for s in Severity}):
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        now = svc.clock.now()
        if action == "x":
            await drafts_repo.drop_draft(session, draft)
            next_key: str | None = "report.cancelled"
        elif action == "cat":
            data["category"] = arg
            drafts_repo.save_draft(session, draft, step="severity", data=data, now=now)
            next_key = "report.ask_severity"
        elif action == "sev":
            data["severity"] = arg
            drafts_repo.save_draft(session, draft, step="description", data=data, now=now)
            next_key = "report.ask_description"
        elif action == "skip":
            data["description"] = data.get("description")
            drafts_repo.save_draft(session, draft, step="confirm", data=data, now=now)
            next_key = "report.confirm"
        else:
            next_key = None
    await query.answer()
    if query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)  # one answer per prompt
    if action == "ok":
        await _submit(update, context, person, data)
    elif next_key == "report.cancelled":
        await reply(update, context, next_key)
    elif next_key is not None:
        await _prompt(update, context, next_key, {}, data)


async def cancel_command(update: Update, context: Context) -> None:
    """/cancel: drop the conversation in progress (report, handover, publishing, …)."""
    user = sender(update)
    chat = update.effective_chat
    if user is None or chat is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        if draft is not None:
            await drafts_repo.drop_draft(session, draft)
    if draft is None:
        await reply(update, context, "report.nothing_to_cancel")
    else:
        await reply(update, context, f"{conversation_feature(draft.step)}.cancelled")


# ---------------------------------------------------------------- submitting


async def _team_of(session: Any, update: Update, person: Person) -> Unit | None:
    """The team a report belongs to: the group's, or the reporter's group in private."""
    chat = update.effective_chat
    assert chat is not None
    if is_group(chat):
        _, unit = await bound_unit(session, chat.id)
        return unit
    for group in await org_repo.groups_of_person(session, person.id or 0):
        if group.unit_id is not None:
            return await org_repo.get_unit(session, group.unit_id)
    return None


async def _submit(update: Update, context: Context, person: Person,
                  data: dict[str, Any]) -> None:
    chat = update.effective_chat
    assert chat is not None
    svc = services(context)
    now = svc.clock.now()
    photos = [tuple(p) for p in data.get("photos", [])]
    async with svc.db.transaction() as session:
        team = await _team_of(session, update, person)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        if draft is not None:
            await drafts_repo.drop_draft(session, draft)
        if team is None:
            outcome: tuple[str, str] = ("report.no_team", "")
        else:
            duplicate = await hazard_repo.find_duplicate(
                session, unit_id=team.id or 0, unique_ids=[p[1] for p in photos],
                since=now - DUPLICATE_WINDOW)
            if duplicate is not None:
                await hazard_repo.record_event(session, duplicate, at=now, actor_id=person.id,
                                               action="duplicate_report")
                outcome = ("report.duplicate", duplicate.code)
            else:
                hazard = await _register(update, context, session, team, person, data, photos)
                outcome = ("report.submitted", hazard.code)
    if outcome[0] == "report.submitted":
        svc.wake_outbox()
    await reply(update, context, outcome[0], code=outcome[1])


async def _register(update: Update, context: Context, session: Any, team: Unit, person: Person,
                    data: dict[str, Any], photos: list[tuple[Any, ...]]) -> Hazard:
    svc = services(context)
    now = svc.clock.now()
    severity = Severity(data["severity"])
    local = [await keep_evidence(context, str(file_id), str(unique)) for file_id, unique in photos]
    zone = team.timezone or svc.settings.default_timezone
    day = now.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")
    hazard = await hazard_repo.create_hazard(
        session, unit_id=team.id or 0, reporter_id=person.id or 0, severity=severity,
        category=str(data["category"]), location_text=data.get("location"),
        latitude=data.get("latitude"), longitude=data.get("longitude"),
        description=data.get("description"),
        photos=[(str(f), str(u), path) for (f, u), path in zip(photos, local, strict=True)],
        now=now, day=day, policy=escalation_policy().for_severity(severity))
    await _post_card(context, session, hazard, team, person, data, str(photos[0][0]))
    return hazard


async def _post_card(context: Context, session: Any, hazard: Hazard, team: Unit,
                     reporter: Person, data: dict[str, Any], photo_id: str) -> None:
    """The hazard card in the team group (photo, facts, acknowledge button)."""
    svc = services(context)
    group = await org_repo.chat_of_unit(session, team.id or 0)
    if group is None or not group.active:
        return
    lang = org_repo.unit_language(team, group, svc.settings.default_language)
    found = category(hazard.category)
    card = svc.renderer.html(
        "hazard.card", lang, code=hazard.code,
        severity=svc.renderer.plain(f"severity.{hazard.severity}", lang),
        category=found.name(lang) if found else hazard.category,
        location=hazard.location_text or "", description=hazard.description,
        reporter=reporter.name, deadline=hazard.watch_deadline)
    markup = step_keyboard(labels(svc.renderer, lang), hazard.id or 0, CARD_STEPS, per_row=3)
    key = f"hazard-card:{hazard.id}"
    await outbox_repo.enqueue(session, chat_id=group.chat_id, method="sendPhoto",
                              params={"photo": photo_id, "caption": f"⚠️ {hazard.code}"},
                              now=svc.clock.now(), purpose="hazard.card", dedupe_key=f"{key}:photo")
    await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=card,
                                   now=svc.clock.now(), purpose="hazard.card",
                                   reply_markup=markup, dedupe_key=key)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /report, /cancel, the hashtag start, the steps and the buttons."""
    application.add_handler(CommandHandler("report", report_command))
    application.add_handler(CommandHandler("cancel", cancel_command))
    application.add_handler(CallbackQueryHandler(report_clicked, pattern=r"^hr:"))
    image = filters.PHOTO | filters.Document.IMAGE
    application.add_handler(MessageHandler(image & filters.CaptionRegex(HASHTAG), hashtag_photo))

