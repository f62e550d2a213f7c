"""随手拍 in chat: read the messages and buttons, call services.hazard_reports, answer.

Privacy mode: in groups the bot sees only replies to its own messages, so
each prompt asks for a reply; buttons work everywhere. A photo whose caption
starts with ``#隐患`` or ``#hazard`` starts a report at once.

Less noise in the team group: someone who has started the bot gets one
"continue in private" button (a deep link naming the team) and reports in the
private chat; only the card lands in the group. Otherwise the report runs in
the group, and where the bot may delete messages the prompts and answers are
deleted once it is submitted.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from domain.conversations import conversation_feature
from handlers.common import (
    Context,
    actor_of,
    bound_unit,
    button_press,
    is_group,
    language_of,
    photo_of,
    reply,
    runtime,
    sender,
    services,
)
from handlers.conversations import Say
from handlers.evidence import keep_photos
from services import hazard_reports
from services.base import Actor
from services.buttons import keyboard
from services.hazard_reports import Answer, ReportStep
from storage import people as people_repo
from storage.models import ConversationDraft

HASHTAG = r"^\s*#(隐患|hazard)\b"


# ---------------------------------------------------------------- starting


async def report_command(update: Update, context: Context) -> None:
    """/report: in private or in the group, open a draft and ask for the photo;
    in the group, someone who has started the bot is sent to the private chat."""
    user = sender(update)
    chat = update.effective_chat
    if user is None or chat is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
        person = await people_repo.get_person(session, user.id)
        unit = (await bound_unit(session, chat.id))[1] if is_group(chat) else None
        lang = await language_of(session, update, context)
    assert actor is not None and person is not None
    mention: dict[str, Any] = {"person_id": user.id, "person": actor.name}
    if unit is not None and person.started and not person.blocked and context.bot.username:
        link = (f"https://t.me/{context.bot.username}"
                f"?start={hazard_reports.deep_link_payload(unit.id or 0)}")
        markup = keyboard([[(svc.renderer.plain("button.continue_private", lang), link)]])
        await reply(update, context, "report.continue_private",
                    reply_markup=InlineKeyboardMarkup.de_json(markup, context.bot), **mention)
        return
    message = update.effective_message
    tidy_from = None
    if is_group(chat) and update.callback_query is None and message is not None \
            and await _may_delete(context, chat.id):
        tidy_from = message.message_id
    outcome = await hazard_reports.start(runtime(context), actor, chat.id, tidy_from=tidy_from)
    await _say(update, context, outcome.key, mention, {"tidy": tidy_from is not None},
               actor.person_id)


async def report_in_private(update: Update, context: Context, unit_id: int) -> None:
    """``/start report_<unit>``: the deep link from the group opens the report here."""
    user = sender(update)
    chat = update.effective_chat
    if user is None or chat is None:
        return
    actor = await _actor(update, context)
    if actor is None:
        return
    outcome = await hazard_reports.start(runtime(context), actor, chat.id, unit_id=unit_id)
    await _say(update, context, outcome.key, {"person_id": user.id, "person": actor.name}, {},
               actor.person_id)


async def hashtag_photo(update: Update, context: Context) -> None:
    """A photo captioned ``#隐患 …``: the photo is step one, the caption the description."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or sender(update) is None or chat is None:
        return
    answer = answer_of(message)
    if answer.photo is None:
        await reply(update, context,
                    "report.too_big" if answer.too_big else "report.ask_photo_again")
        return
    caption = (message.caption or "").strip()
    description = caption.split(maxsplit=1)[1] if len(caption.split(maxsplit=1)) > 1 else ""
    actor = await _actor(update, context)
    if actor is None:
        return
    tidy_from = message.message_id if is_group(chat) and await _may_delete(context, chat.id) \
        else None
    outcome = await hazard_reports.start(runtime(context), actor, chat.id, first=answer,
                                         description=description, tidy_from=tidy_from)
    await _say(update, context, outcome.key, {}, {"tidy": tidy_from is not None},
               actor.person_id)


# ---------------------------------------------------------------- the steps


def answer_of(message: Message) -> Answer:
    """What a message says to a report: a photo, a place, a text."""
    photo = photo_of(message)
    return Answer(
        photo=(str(photo[0]), str(photo[1])) if isinstance(photo, list) else None,
        too_big=photo == "too_big", album=message.media_group_id, text=message.text,
        latitude=message.location.latitude if message.location else None,
        longitude=message.location.longitude if message.location else None,
        message_id=message.message_id)


async def continue_report(session: AsyncSession, update: Update, context: Context,
                          draft: ConversationDraft, message: Message) -> Say | None:
    """One answer of a report in progress; returns what to say once it is committed."""
    step = hazard_reports.continue_in(session, draft, answer_of(message),
                                      services(context).clock.now())
    key = step.key
    if key is None:
        return None
    return lambda: _say(update, context, key, step.values, step.data, draft.person_id)


async def _say(update: Update, context: Context, key: str, values: dict[str, Any],
               data: dict[str, Any], person_id: int) -> None:
    """Send the prompt(s) for ``key``; a tidy report remembers them for deletion."""
    svc = services(context)
    chat = update.effective_chat
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    sent: list[int] = []
    for prompt in hazard_reports.prompts(runtime(context), key, lang, data, values):
        markup = InlineKeyboardMarkup.de_json(prompt.keyboard, context.bot) \
            if prompt.keyboard else None
        message = await reply(update, context, prompt.key, force_reply=prompt.force_reply,
                              reply_markup=markup, **prompt.values)
        if message is not None:
            sent.append(message.message_id)
    if data.get("tidy") and chat is not None:
        await hazard_reports.remember_messages(runtime(context), person_id, chat.id, sent)


# ---------------------------------------------------------------- buttons


async def report_clicked(update: Update, context: Context) -> None:
    """Category, severity, skip, submit and cancel buttons."""
    query, user, chat, svc, lang, _ = await button_press(update, context, "hr")
    button = ReportStep.unpack(query.data)
    if button is None or chat is None or user is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    actor = await _actor(update, context)
    if actor is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    step = await hazard_reports.press(runtime(context), actor, chat.id, button)
    if step.values.get("refused") and step.key is not None:
        await query.answer(svc.renderer.plain(step.key, lang), show_alert=True)
        return
    await query.answer()
    if query.message is not None:
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)  # one answer per prompt
    if step.submit:
        await _submit(update, context, actor, chat.id)
    elif step.key == "report.cancelled":
        await reply(update, context, step.key)
    elif step.key is not None:
        await _say(update, context, step.key, {}, step.data, actor.person_id)


async def cancel_command(update: Update, context: Context) -> None:
    """/cancel: drop the conversation in progress (report, handover, publishing, …)."""
    chat = update.effective_chat
    if sender(update) is None or chat is None:
        return
    actor = await _actor(update, context)
    if actor is None:
        return
    step = await hazard_reports.cancel(runtime(context), actor, chat.id)
    if step is None:
        await reply(update, context, "report.nothing_to_cancel")
    else:
        await reply(update, context, f"{conversation_feature(step)}.cancelled")


# ---------------------------------------------------------------- submitting


async def _submit(update: Update, context: Context, actor: Actor, chat_id: int) -> None:
    """Register the report, then download its photos (a new hazard's only: a duplicate or
    a second press has none) once that has committed."""
    outcome = await hazard_reports.submit(runtime(context), actor, chat_id)
    await keep_photos(context, outcome.hazard_id, "before", outcome.photos)
    if outcome.key == "report.not_yours" or outcome.tidy:
        return  # pressed twice (the first press submitted), or the card says it all
    await reply(update, context, outcome.key, **outcome.values)


# ---------------------------------------------------------------- helpers


async def _actor(update: Update, context: Context) -> Actor | None:
    async with services(context).db.transaction() as session:
        return await actor_of(session, update, context)


async def _may_delete(context: Context, chat_id: int) -> bool:
    """Whether the bot may delete other people's messages in this group (an admin with
    the right to), as Telegram says now."""
    try:
        member = await context.bot.get_chat_member(chat_id, context.bot.id)
    except TelegramError:
        return False
    if member.status == ChatMemberStatus.OWNER:
        return True
    return member.status == ChatMemberStatus.ADMINISTRATOR and \
        bool(getattr(member, "can_delete_messages", False))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /report, /cancel, the hashtag start, the steps and the buttons."""
    application.add_handler(CommandHandler("report", report_command))
    application.add_handler(CommandHandler("cancel", cancel_command))
    application.add_handler(CallbackQueryHandler(report_clicked, pattern=r"^hr:"))
    image = filters.PHOTO | filters.Document.IMAGE
    application.add_handler(MessageHandler(image & filters.CaptionRegex(HASHTAG), hashtag_photo))
