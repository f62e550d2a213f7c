"""``/publish`` in the publisher's private chat: parse each step, let the service decide.

Publishing is a conversation kept as a draft row: send a file (.md, .txt, .pdf,
.docx) or pick one from the library → a change note when it replaces an earlier
version → the audience (buttons, or unit keys typed) → a preview showing what a
team will see and who must read it → publish. Files are downloaded after the
draft's transaction, so a slow download never holds the database. Who may
publish where, and the publishing itself, are services/publishing.py's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.documents import library
from domain.documents import (
    DEFAULT_DUE_HOURS,
    UploadProblem,
    markdown_to_html,
    parse_upload,
    upload_kind,
)
from domain.telegram_html import split_message
from handlers.common import (
    Context,
    is_bot_admin,
    is_group,
    language_of,
    learn_person,
    reply,
    runtime,
    send_html,
    sender,
    services,
)
from handlers.conversations import Say, route
from services.buttons import keyboard, parse_button
from services.documents import file_caption, post_html
from services.publishing import (
    PublishChoice,
    PublishStep,
    audience_reach,
    draft_audience,
    draft_document,
    due_hours,
    publish_draft,
    publishable_units,
    version_refusal,
)
from storage import documents as doc_repo
from storage import drafts as drafts_repo
from storage.models import ConversationDraft, Person, PublishedDocument, Unit

MAX_AUDIENCE_BUTTONS = 40
MAX_NOTE = 500
PREVIEW_CHARS = 3000


async def _publishable_units(session: AsyncSession, person: Person,
                             context: Context) -> list[Unit]:
    """Units a person may publish to (the service decides; the edge knows who is admin)."""
    return await publishable_units(
        session, person.id or 0,
        is_bot_admin=await is_bot_admin(session, person.telegram_id, context))


def _library_choices() -> list[str]:
    """Library ids in a fixed order; buttons carry the index (ids may be long)."""
    return sorted(library())


def _markup(rows: list[list[tuple[str, Any]]]) -> InlineKeyboardMarkup:
    markup = InlineKeyboardMarkup.de_json(keyboard(rows), None)
    assert markup is not None
    return markup


async def publish_command(update: Update, context: Context) -> None:
    """/publish: start publishing a policy document (managers and admins, private chat)."""
    user = sender(update)
    chat = update.effective_chat
    if chat is None:
        return
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    if is_group(chat):
        await reply(update, context, "publish.private_only")
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        if not await _publishable_units(session, person, context):
            await reply(update, context, "publish.not_allowed")
            return
        lang = await language_of(session, update, context)
        await drafts_repo.start_draft(session, chat.id, person.id or 0, step="pub:source",
                                      data={}, now=svc.clock.now())
    rows: list[list[tuple[str, Any]]] = []
    for index, doc_id in enumerate(_library_choices()):
        versions = library()[doc_id]
        doc = versions.get(lang) or next(iter(versions.values()))
        rows.append([(f"📄 {doc.title} · v{doc.version}", PublishChoice("lib", index))])
    rows.append([(svc.renderer.plain("button.cancel", lang), PublishStep("x"))])
    await reply(update, context, "publish.ask_source", reply_markup=_markup(rows))


# ---------------------------------------------------------------- the conversation


async def continue_publish(session: AsyncSession, update: Update, context: Context,
                           draft: ConversationDraft, message: Message) -> Say | None:
    """A message while publishing: the file, the change note or the audience keys."""
    step = draft.step.split(":", 1)[1]
    if step == "source":
        document = message.document
        if document is None:
            return lambda: reply(update, context, "publish.send_file")
        try:
            kind = upload_kind(document.file_name, document.file_size)
        except UploadProblem as problem:
            key, detail = f"publish.problem_{problem.code}", str(problem)
            return lambda: reply(update, context, key, detail=detail)
        caption = message.caption
        file_id, file_name = document.file_id, document.file_name or "document"
        person_id = draft.person_id
        return lambda: _read_upload(update, context, person_id, kind, file_id, file_name,
                                    caption)
    text = (message.text or "").strip()
    svc = services(context)
    data = drafts_repo.draft_data(draft)
    if step == "note":
        if not text or len(text) > MAX_NOTE:
            return lambda: reply(update, context, "publish.ask_note", force_reply=True,
                                 version=data["version"], limit=MAX_NOTE)
        data["note"] = text
        drafts_repo.save_draft(session, draft, step="pub:audience", data=data,
                               now=svc.clock.now())
        return await _ask_audience(session, update, context, draft)
    if step == "audience":
        person = (await session.get(Person, draft.person_id))
        assert person is not None
        allowed = {u.key: u for u in await _publishable_units(session, person, context)}
        keys = [k for k in re.split(r"[\s,，、]+", text) if k]
        unknown = [k for k in keys if k not in allowed]
        if not keys or unknown:
            return lambda: reply(update, context, "publish.audience_unknown",
                                 keys=", ".join(unknown) or text[:100])
        data["units"] = list(dict.fromkeys(
            data.get("units", []) + [allowed[k].id for k in keys]))
        drafts_repo.save_draft(session, draft, step="pub:audience", data=data,
                               now=svc.clock.now())
        return await _ask_audience(session, update, context, draft)
    return None


async def _read_upload(update: Update, context: Context, person_id: int, kind: str,
                       file_id: str, file_name: str, caption: str | None) -> None:
    """Download and read an uploaded file, then go on to the note or the audience."""
    svc = services(context)
    chat = update.effective_chat
    assert chat is not None
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    data = b""
    if kind in ("markdown", "text"):
        try:
            data = bytes(await (await context.bot.get_file(file_id)).download_as_bytearray())
        except TelegramError:
            await reply(update, context, "publish.problem_download")
            return
    try:
        found = parse_upload(kind, file_name, data if kind in ("markdown", "text") else b"x",
                             caption, lang)
    except UploadProblem as problem:
        await reply(update, context, f"publish.problem_{problem.code}", detail=str(problem))
        return
    fields = {"source": "upload", "doc_key": found.doc_key, "version": found.version,
              "texts": {lang: {"title": found.title, "summary": found.summary,
                               "html": found.html}},
              "file_id": None if found.html is not None else file_id,
              "file_name": file_name, "requires_ack": found.requires_ack,
              "due_hours": found.due_hours or DEFAULT_DUE_HOURS}
    say = None
    async with svc.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat.id, person_id)
        if draft is None or draft.step != "pub:source":
            return  # cancelled meanwhile
        say = await _source_chosen(session, update, context, draft, fields)
    if say is not None:
        await say()


async def _source_chosen(session: AsyncSession, update: Update, context: Context,
                         draft: ConversationDraft, fields: dict[str, Any]) -> Say:
    """The document is known: refuse an old version, ask for a change note, or the audience."""
    svc = services(context)
    now = svc.clock.now()
    latest = await doc_repo.latest_version(session, fields["doc_key"])
    version = fields["version"] or ((latest.version + 1) if latest else 1)
    fields["version"] = version
    if latest is not None and version < latest.version:
        await drafts_repo.drop_draft(session, draft)
        return lambda: reply(update, context, "publish.older", version=version,
                             latest=latest.version)
    person = await session.get(Person, draft.person_id)
    assert person is not None
    allowed = [u.key for u in await _publishable_units(session, person, context)]
    refusal = version_refusal(draft_document(fields), latest, version, allowed)
    if refusal is not None:
        await drafts_repo.drop_draft(session, draft)
        return lambda: reply(update, context, f"publish.refused_{refusal.code}",
                             **refusal.values)
    fields["extends"] = latest is not None and version == latest.version
    # A new version goes wherever the old one went; the preview shows those units too.
    fields["carried"] = doc_repo.audience_of(latest) if latest is not None else []
    if latest is not None and version > latest.version:
        drafts_repo.save_draft(session, draft, step="pub:note", data=fields, now=now)
        return lambda: reply(update, context, "publish.ask_note", force_reply=True,
                             version=version, limit=MAX_NOTE)
    drafts_repo.save_draft(session, draft, step="pub:audience", data=fields, now=now)
    return await _ask_audience(session, update, context, draft)


async def _ask_audience(session: AsyncSession, update: Update, context: Context,
                        draft: ConversationDraft) -> Say:
    """The audience buttons: tap units to choose (✓), then done; or type unit keys."""
    person = await session.get(Person, draft.person_id)
    assert person is not None
    units = await _publishable_units(session, person, context)
    chosen = set(drafts_repo.draft_data(draft).get("units", []))
    lang = await language_of(session, update, context)
    renderer = services(context).renderer
    top = min((u.path.count("/") for u in units), default=0)
    rows: list[list[tuple[str, Any]]] = [[(
        f"{'✅ ' if u.id in chosen else ''}{'　' * (u.path.count('/') - top)}{u.name}",
        PublishChoice("u", u.id or 0))] for u in units[:MAX_AUDIENCE_BUTTONS]]
    rows.append([(renderer.plain("button.audience_done", lang), PublishStep("ok")),
                 (renderer.plain("button.cancel", lang), PublishStep("x"))])
    names = [u.name for u in units if u.id in chosen]
    return lambda: reply(update, context, "publish.ask_audience", chosen=names,
                         more=max(0, len(units) - MAX_AUDIENCE_BUTTONS),
                         reply_markup=_markup(rows))


# ---------------------------------------------------------------- buttons


async def publish_clicked(update: Update, context: Context) -> None:
    """Library pick, audience toggles, done, publish and cancel."""
    query = update.callback_query
    assert query is not None
    user, chat, svc = sender(update), update.effective_chat, services(context)
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
    button = parse_button(query.data)
    if not isinstance(button, PublishChoice | PublishStep) or user is None or chat is None \
            or is_group(chat):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    say: Say | None = None
    answered = False
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        draft = await drafts_repo.get_draft(session, chat.id, person.id or 0)
        if draft is None or not draft.step.startswith("pub:"):
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        action, step = button.action, draft.step.split(":", 1)[1]
        if action == "x":
            await drafts_repo.drop_draft(session, draft)
            say = lambda: reply(update, context, "publish.cancelled")  # noqa: E731
        elif isinstance(button, PublishChoice) and action == "lib" and step == "source":
            say = await _library_pick(session, update, context, draft, button.item)
        elif isinstance(button, PublishChoice) and action == "u" and step == "audience":
            say = await _toggle_unit(session, update, context, draft, person, button.item)
        elif action == "ok" and step == "audience":
            say = await _preview(session, update, context, draft)
        elif action == "go" and step == "preview":
            # Answered first: posting to hundreds of teams takes seconds, and Telegram
            # gives up on a callback query left unanswered that long.
            await query.answer(svc.renderer.plain("publish.publishing", lang))
            say = await _publish_now(session, update, context, draft, person) or \
                (lambda: reply(update, context, "callback.stale"))
            answered = True
        if say is None:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
    if not answered:
        await query.answer()
    await say()


async def _library_pick(session: AsyncSession, update: Update, context: Context,
                        draft: ConversationDraft, index: int) -> Say | None:
    choices = _library_choices()
    if not 0 <= index < len(choices):
        return None
    versions = library()[choices[index]]
    first = next(iter(versions.values()))
    fields = {"source": "library", "doc_key": first.id, "version": first.version,
              "texts": {lang: {"title": d.title, "summary": d.summary,
                               "html": markdown_to_html(d.body)} for lang, d in versions.items()},
              "file_id": None, "file_name": None, "requires_ack": first.requires_ack,
              "due_hours": first.due_hours,
              "suggested": list(first.audience)}
    return await _source_chosen(session, update, context, draft, fields)


async def _toggle_unit(session: AsyncSession, update: Update, context: Context,
                       draft: ConversationDraft, person: Person,
                       unit_id: int) -> Say | None:
    allowed = {u.id for u in await _publishable_units(session, person, context)}
    if unit_id not in allowed:
        return None
    data = drafts_repo.draft_data(draft)
    units = data.get("units", [])
    data["units"] = [u for u in units if u != unit_id] if unit_id in units else [*units, unit_id]
    drafts_repo.save_draft(session, draft, step="pub:audience", data=data,
                           now=services(context).clock.now())
    return await _ask_audience(session, update, context, draft)


async def _preview(session: AsyncSession, update: Update, context: Context,
                   draft: ConversationDraft) -> Say | None:
    """Show what a team will see and who must read it; publish or cancel."""
    data = drafts_repo.draft_data(draft)
    audience = await draft_audience(session, data)
    if not audience:
        return lambda: reply(update, context, "publish.audience_empty")
    svc = services(context)
    lang = await language_of(session, update, context)
    with_group, without, people = await audience_reach(session, audience)
    drafts_repo.save_draft(session, draft, step="pub:preview", data=data, now=svc.clock.now())
    shown = PublishedDocument(doc_key=data["doc_key"], version=data["version"],
                              texts_json=json.dumps(data["texts"], ensure_ascii=False),
                              file_id=data.get("file_id"),
                              change_note=data.get("note"), published_at=svc.clock.now())
    body = file_caption(svc.renderer, shown, lang) if shown.file_id else \
        post_html(svc.renderer, shown, lang)
    body = _shorten(body)
    markup = _markup([[(svc.renderer.plain("button.publish", lang), PublishStep("go")),
                       (svc.renderer.plain("button.cancel", lang), PublishStep("x"))]])
    facts = svc.renderer.html(
        "publish.preview", lang, audience=[u.name for u in audience], teams=with_group,
        without=without, people=people, extends=bool(data.get("extends")),
        requires_ack=bool(data.get("requires_ack", True)), file=bool(shown.file_id),
        due_hours=due_hours(data))
    message = update.effective_message
    assert message is not None

    async def say() -> None:
        await send_html(message, body)
        await send_html(message, facts, reply_markup=markup)

    return say


def _shorten(html: str) -> str:
    """The start of a long text for the preview, cut at a paragraph and closed cleanly."""
    parts = split_message(html, limit=PREVIEW_CHARS) or [html]
    return parts[0] + ("\n…" if len(parts) > 1 else "")


async def _publish_now(session: AsyncSession, update: Update, context: Context,
                       draft: ConversationDraft, person: Person) -> Say | None:
    svc = services(context)
    outcome = await publish_draft(
        session, runtime(context), drafts_repo.draft_data(draft), person_id=person.id or 0,
        is_bot_admin=await is_bot_admin(session, person.telegram_id, context))
    if outcome is None:
        return None  # roles changed since the preview
    await drafts_repo.drop_draft(session, draft)
    key, values = outcome.key, outcome.values
    if not outcome.ok:
        return lambda: reply(update, context, key, **values)

    async def say() -> None:
        svc.wake_outbox()
        await reply(update, context, key, **values)

    return say


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /publish, its buttons and the publishing conversation."""
    application.add_handler(CommandHandler("publish", publish_command))
    application.add_handler(CallbackQueryHandler(publish_clicked, pattern=r"^pubd:"))
    route("pub", continue_publish)
