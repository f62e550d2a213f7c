"""Policy documents in chat: ``/publish`` (private), "read and understood", ``/readstatus``.

Publishing is a conversation in the publisher's private chat, kept as a draft
row: send a file (.md, .txt, .pdf, .docx) or pick one from the library → a
change note when it replaces an earlier version → the audience (buttons, or
unit keys typed) → a preview showing what a team will see and who must read
it → publish. Files are downloaded after the draft's transaction, so a slow
download never holds the database.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from content.documents import library
from domain.documents import (
    DEFAULT_DUE_HOURS,
    UploadProblem,
    markdown_to_html,
    parse_upload,
    roll_up,
    upload_kind,
)
from domain.org import Role, UnitKind, has_role_over, is_within, role_rank
from domain.telegram_html import split_message
from handlers.common import (
    Context,
    bound_unit,
    button_press,
    is_bot_admin,
    is_group,
    language_of,
    learn_person,
    reply,
    send_html,
    sender,
    services,
)
from handlers.conversations import Say, route
from scheduler.documents import (
    ROLL_CALL_EDIT_EVERY,
    DocumentDraft,
    PublishRefused,
    file_caption,
    post_html,
    publish,
    refresh_roll_call,
    version_refusal,
)
from services.buttons import int_arg, pack
from storage import documents as doc_repo
from storage import drafts as drafts_repo
from storage import org as org_repo
from storage.models import ConversationDraft, Person, PublishedDocument, Unit

MAX_AUDIENCE_BUTTONS = 40
MAX_NOTE = 500
PREVIEW_CHARS = 3000
MISSING_SHOWN = 20


# ---------------------------------------------------------------- who may publish


async def _publishable_units(session: AsyncSession, person: Person,
                             context: Context) -> list[Unit]:
    """Units a person may publish to, in tree order: all for admins, else under a manager role."""
    units = await org_repo.all_units(session)
    if await is_bot_admin(session, person.telegram_id, context):
        return [u for u in units if u.kind != UnitKind.AUTHORITY]
    grants = await org_repo.grants_of(session, person.id or 0)
    return [u for u in units if u.kind != UnitKind.AUTHORITY
            and has_role_over(grants, u.path, Role.MANAGER)]


def _library_choices() -> list[str]:
    """Library ids in a fixed order; buttons carry the index (ids may be long)."""
    return sorted(library())


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
    rows = []
    for index, doc_id in enumerate(_library_choices()):
        versions = library()[doc_id]
        doc = versions.get(lang) or next(iter(versions.values()))
        rows.append([InlineKeyboardButton(f"📄 {doc.title} · v{doc.version}",
                                          callback_data=pack("pubd", "lib", index))])
    rows.append([InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                                      callback_data=pack("pubd", "x"))])
    await reply(update, context, "publish.ask_source", reply_markup=InlineKeyboardMarkup(rows))


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
    refusal = version_refusal(_draft_document(fields), latest, version, allowed)
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
    top = min((u.path.count("/") for u in units), default=0)
    rows = [[InlineKeyboardButton(
        f"{'✅ ' if u.id in chosen else ''}{'　' * (u.path.count('/') - top)}{u.name}",
        callback_data=pack("pubd", "u", u.id or 0))] for u in units[:MAX_AUDIENCE_BUTTONS]]
    rows.append([InlineKeyboardButton(services(context).renderer.plain("button.audience_done",
                                                                         lang),
                                      callback_data=pack("pubd", "ok")),
                 InlineKeyboardButton(services(context).renderer.plain("button.cancel", lang),
                                      callback_data=pack("pubd", "x"))])
    names = [u.name for u in units if u.id in chosen]
    return lambda: reply(update, context, "publish.ask_audience", chosen=names,
                         more=max(0, len(units) - MAX_AUDIENCE_BUTTONS),
                         reply_markup=InlineKeyboardMarkup(rows))


# ---------------------------------------------------------------- buttons


async def publish_clicked(update: Update, context: Context) -> None:
    """Library pick, audience toggles, done, publish and cancel."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "pubd")
    if parts is None or user is None or chat is None or is_group(chat):
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
        action, step = parts[0], draft.step.split(":", 1)[1]
        if action == "x":
            await drafts_repo.drop_draft(session, draft)
            say = lambda: reply(update, context, "publish.cancelled")  # noqa: E731
        elif action == "lib" and step == "source":
            say = await _library_pick(session, update, context, draft, int_arg(parts, 1))
        elif action == "u" and step == "audience":
            say = await _toggle_unit(session, update, context, draft, person, int_arg(parts, 1))
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
                        draft: ConversationDraft, index: int | None) -> Say | None:
    choices = _library_choices()
    if index is None or not 0 <= index < len(choices):
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
                       unit_id: int | None) -> Say | None:
    allowed = {u.id for u in await _publishable_units(session, person, context)}
    if unit_id is None or unit_id not in allowed:
        return None
    data = drafts_repo.draft_data(draft)
    units = data.get("units", [])
    data["units"] = [u for u in units if u != unit_id] if unit_id in units else [*units, unit_id]
    drafts_repo.save_draft(session, draft, step="pub:audience", data=data,
                           now=services(context).clock.now())
    return await _ask_audience(session, update, context, draft)


def _due_hours(data: dict[str, Any]) -> int:
    # A draft started before deadlines were in hours carries "due_days".
    return int(data.get("due_hours") or 24 * int(data.get("due_days") or 0)
               or DEFAULT_DUE_HOURS)


def _draft_document(data: dict[str, Any]) -> DocumentDraft:
    return DocumentDraft(doc_key=data["doc_key"], version=data["version"], texts=data["texts"],
                         source=data["source"], file_id=data.get("file_id"),
                         file_name=data.get("file_name"), change_note=data.get("note"),
                         requires_ack=bool(data.get("requires_ack", True)),
                         due_hours=_due_hours(data))


async def _audience(session: AsyncSession, data: dict[str, Any]) -> list[Unit]:
    """The chosen units, and those an earlier version went to (the new one replaces it)."""
    chosen = [u for unit_id in data.get("units", [])
              if (u := await org_repo.get_unit(session, unit_id)) is not None]
    if not chosen:
        return []
    carried = [u for key in data.get("carried", [])
               if (u := await org_repo.get_unit_by_key(session, key)) is not None]
    return list({u.id: u for u in [*carried, *chosen]}.values())


async def _preview(session: AsyncSession, update: Update, context: Context,
                   draft: ConversationDraft) -> Say | None:
    """Show what a team will see and who must read it; publish or cancel."""
    data = drafts_repo.draft_data(draft)
    audience = await _audience(session, data)
    if not audience:
        return lambda: reply(update, context, "publish.audience_empty")
    svc = services(context)
    lang = await language_of(session, update, context)
    teams = [t for t in await org_repo.units_of_kind(session, UnitKind.TEAM)
             if any(is_within(t.path, u.path) for u in audience)]
    with_group, without, people = [], [], 0
    for team in teams:
        group = await org_repo.chat_of_unit(session, team.id or 0)
        if group is None or not group.active:
            without.append(team.name)
        else:
            with_group.append(team.name)
            people += len(await org_repo.active_members(session, group.id or 0))
    drafts_repo.save_draft(session, draft, step="pub:preview", data=data, now=svc.clock.now())
    shown = PublishedDocument(doc_key=data["doc_key"], version=data["version"],
                              texts_json=json.dumps(data["texts"], ensure_ascii=False),
                              file_id=data.get("file_id"),
                              change_note=data.get("note"), published_at=svc.clock.now())
    body = file_caption(svc.renderer, shown, lang) if shown.file_id else \
        post_html(svc.renderer, shown, lang)
    body = _shorten(body)
    markup = InlineKeyboardMarkup([[
        InlineKeyboardButton(svc.renderer.plain("button.publish", lang),
                             callback_data=pack("pubd", "go")),
        InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                             callback_data=pack("pubd", "x"))]])
    facts = svc.renderer.html(
        "publish.preview", lang, audience=[u.name for u in audience], teams=with_group,
        without=without, people=people, extends=bool(data.get("extends")),
        requires_ack=bool(data.get("requires_ack", True)), file=bool(shown.file_id),
        due_hours=_due_hours(data))
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
    data = drafts_repo.draft_data(draft)
    audience = await _audience(session, data)
    allowed = await _publishable_units(session, person, context)
    if not audience or any(u.id not in {a.id for a in allowed} for u in audience):
        return None  # roles changed since the preview
    try:
        publication = await publish(session, svc.renderer, _draft_document(data),
                                    audience=audience, publisher_id=person.id,
                                    now=svc.clock.now(),
                                    default_language=svc.settings.default_language,
                                    may_publish_to=[u.key for u in allowed])
    except PublishRefused as refused:
        await drafts_repo.drop_draft(session, draft)
        code, values = refused.code, refused.values
        return lambda: reply(update, context, f"publish.refused_{code}", **values)
    await drafts_repo.drop_draft(session, draft)
    document = publication.document
    values = {"title": doc_repo.text_in(document, "zh")["title"], "version": document.version,
              "teams": [t.name for t in publication.posted], "people": publication.required,
              "without": [t.name for t in publication.without_group],
              "replaced": [d.version for d in publication.superseded]}

    async def say() -> None:
        svc.wake_outbox()
        await reply(update, context, "publish.done", **values)

    return say


# ---------------------------------------------------------------- read and understood


async def ack_clicked(update: Update, context: Context) -> None:
    """"Read and understood": in the team group, in a reminder or in a private copy."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "doc")
    document_id = int_arg(parts or [], 1)
    if parts is None or parts[0] != "ack" or document_id is None or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if user is None:
        await query.answer(svc.renderer.plain("document.anonymous", lang), show_alert=True)
        return
    now = svc.clock.now()
    queued = False
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        document = await doc_repo.get_document(session, document_id)
        note = await _ack_refusal(session, chat.id, document, person, now)
        if note is None:
            assert document is not None
            changed = await doc_repo.acknowledge(session, document_id=document_id,
                                                 person_id=person.id or 0, now=now)
            note = "document.acknowledged" if changed else "document.already"
            for receipt in changed:
                post = await doc_repo.post_for(session, document_id, receipt.unit_id)
                if post is not None and (post.last_edit_at is None
                                         or now - post.last_edit_at >= ROLL_CALL_EDIT_EVERY):
                    queued |= await refresh_roll_call(session, svc.renderer, post, now)
    alert = note not in ("document.acknowledged", "document.already")
    await query.answer(svc.renderer.plain(note, lang), show_alert=alert)
    if queued:
        svc.wake_outbox()


async def _ack_refusal(session: AsyncSession, chat_id: int, document: PublishedDocument | None,
                       person: Person, now: Any) -> str | None:
    """Why a click may not count (None: it counts). A group click needs the team's post;
    someone in that group without a receipt yet (first seen now) is added on the spot."""
    if document is None:
        return "callback.stale"
    if document.superseded_at is not None:
        return "document.superseded"
    if chat_id < 0:
        _, unit = await bound_unit(session, chat_id)
        post = await doc_repo.post_for(session, document.id or 0, unit.id or 0) if unit else None
        if unit is None or post is None:
            return "callback.stale"
        await doc_repo.add_receipts(session, document_id=document.id or 0, unit_id=unit.id or 0,
                                    person_ids=[person.id or 0], now=now, late=True)
        return None
    if not await doc_repo.receipts_of(session, document.id or 0, person.id or 0):
        return "document.not_yours"
    return None


# ---------------------------------------------------------------- /readstatus


async def readstatus_command(update: Update, context: Context) -> None:
    """/readstatus [document]: read rates rolling up the tree, and who is missing."""
    user = sender(update)
    chat = update.effective_chat
    if chat is None:
        return
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    wanted = context.args[0].strip().lower() if context.args else None
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        tops = await _scope(session, person, chat.id if is_group(chat) else None, context)
    if tops is None:
        await reply(update, context, "readstatus.not_allowed")
        return
    async with svc.db.session() as session:
        lang = await language_of(session, update, context)
        sections = await _status_sections(session, tops, wanted, lang)
    if not sections:
        await reply(update, context, "readstatus.none")
        return
    message = update.effective_message
    assert message is not None
    await send_html(message, svc.renderer.html("readstatus.show", lang, sections=sections))


async def _scope(session: AsyncSession, person: Person, group_chat_id: int | None,
                 context: Context) -> list[Unit] | None:
    """The units whose status a person may see: the group's team (leaders and above), or
    in private the top units where they hold a leader role or more. None: not allowed."""
    admin = await is_bot_admin(session, person.telegram_id, context)
    grants = await org_repo.grants_of(session, person.id or 0)
    if group_chat_id is not None:
        _, unit = await bound_unit(session, group_chat_id)
        if unit is None or not has_role_over(grants, unit.path, Role.TEAM_LEADER,
                                             is_bot_admin=admin):
            return None
        return [unit]
    units = await org_repo.all_units(session)
    if admin:
        roots = [u for u in units if u.parent_id is None]
        return roots or None
    mine = [u for u in units for g in grants
            if g.unit_id == u.id and role_rank(g.role) >= role_rank(Role.TEAM_LEADER)]
    tops = [u for u in mine if not any(o.id != u.id and is_within(u.path, o.path)
                                       for o in mine)]
    return list({u.id: u for u in tops}.values()) or None


async def _status_sections(session: AsyncSession, tops: list[Unit], wanted: str | None,
                           lang: str) -> list[dict[str, Any]]:
    """One section per active document: rows per unit (indented), missing names per team."""
    units = [u for u in await org_repo.all_units(session)
             if any(is_within(u.path, top.path) for top in tops)]
    by_id = {u.id: u for u in units}
    posts = await doc_repo.posts_in_units(session, [u.id or 0 for u in units
                                                    if u.kind == UnitKind.TEAM])
    documents: dict[int, PublishedDocument] = {}
    for _, document in posts:
        if document.requires_ack and (wanted is None or document.doc_key == wanted):
            documents[document.id or 0] = document
    sections = []
    for document in documents.values():
        counts = {unit_id: c for unit_id, c in
                  (await doc_repo.team_counts(session, document.id or 0)).items()
                  if unit_id in by_id}
        unread = await doc_repo.unread_names(session, document.id or 0)
        rows = []
        for top in tops:
            for rate in roll_up([(u.id or 0, u.path) for u in units], counts, top.path):
                unit = by_id[rate.unit_id]
                missing = unread.get(rate.unit_id, []) if unit.kind == UnitKind.TEAM else []
                rows.append({"indent": "　" * rate.depth, "name": unit.name, "read": rate.read,
                             "required": rate.required, "percent": rate.percent,
                             "missing": missing[:MISSING_SHOWN],
                             "more": max(0, len(missing) - MISSING_SHOWN)})
        text = doc_repo.text_in(document, lang)
        sections.append({"title": text["title"], "version": document.version,
                         "key": document.doc_key, "rows": rows})
    return sections


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /publish, /readstatus, their buttons and the publishing conversation."""
    application.add_handler(CommandHandler("publish", publish_command))
    application.add_handler(CommandHandler("readstatus", readstatus_command))
    application.add_handler(CallbackQueryHandler(publish_clicked, pattern=r"^pubd:"))
    application.add_handler(CallbackQueryHandler(ack_clicked, pattern=r"^doc:"))
    route("pub", continue_publish)
