"""Policy documents as teams see them: the buttons, the post, the roll call, reading.

One home for what a document looks like in a chat (its text or file, its roll
call, the "read and understood" button) and for the actions of the people who
must read it: acknowledging a read (from the group, a reminder or a private
copy) and asking who has read what (``/readstatus``). Publishing is
services/publishing.py; the reading timetable (late joiners, reminders, the
due-date report) is services/reading.py. No Telegram here: what goes to a chat
is queued in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.delivery import OutboxStatus
from domain.documents import roll_up
from domain.org import Role, UnitKind, has_role_over, is_within, role_rank
from domain.roll_call import EDIT_EVERY
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import documents as doc_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import DocumentPost, OutboxMessage, PublishedDocument, Unit

ROLL_CALL_EDIT_EVERY = EDIT_EVERY  # one throttle for every roll call
MISSING_SHOWN = 20


# ---------------------------------------------------------------- buttons


@dataclass(frozen=True)
class DocumentButton(Button, prefix="doc"):
    """"Read and understood" under a document's roll call, reminder or private copy."""

    action: Literal["ack"]
    document_id: int


def ack_button(renderer: Renderer, lang: str, document_id: int) -> dict[str, Any]:
    """The "read and understood" keyboard of a document version (the only place built)."""
    return keyboard([[(renderer.plain("button.read_understood", lang),
                       DocumentButton("ack", document_id))]])


# ---------------------------------------------------------------- what a team sees


def post_html(renderer: Renderer, document: PublishedDocument, lang: str) -> str:
    """The full text of a document as a team sees it (split by the outbox)."""
    text = doc_repo.text_in(document, lang)
    return renderer.html("document.post", lang, title=text["title"], version=document.version,
                         summary=text.get("summary") or "", note=document.change_note or "",
                         body=Markup(text.get("html") or ""))


def file_caption(renderer: Renderer, document: PublishedDocument, lang: str) -> str:
    """The caption of a posted file (kept well under Telegram's 1024 characters)."""
    text = doc_repo.text_in(document, lang)
    return renderer.html("document.file_caption", lang, title=text["title"][:200],
                         version=document.version, summary=(text.get("summary") or "")[:400],
                         note=(document.change_note or "")[:250])


def document_messages(renderer: Renderer, document: PublishedDocument, *, chat_id: int,
                      lang: str, dedupe_key: str,
                      person_id: int | None = None) -> list[outbox_repo.Outgoing]:
    """The document itself (its text, in parts under 4096 characters, or its file)."""
    if document.file_id is not None:
        return [outbox_repo.Outgoing(
            chat_id=chat_id, method="sendDocument", purpose="document.post",
            params={"document": document.file_id, "parse_mode": "HTML",
                    "caption": file_caption(renderer, document, lang)},
            dedupe_key=dedupe_key, person_id=person_id)]
    return [outbox_repo.Outgoing(chat_id=chat_id, params=params, purpose="document.post",
                                 dedupe_key=key or dedupe_key, person_id=person_id)
            for params, key in outbox_repo.text_parts(
                html=post_html(renderer, document, lang), dedupe_key=dedupe_key)]


async def queue_document(session: AsyncSession, renderer: Renderer, document: PublishedDocument,
                         *, chat_id: int, lang: str, now: datetime, dedupe_key: str,
                         person_id: int | None = None) -> None:
    """Queue the document itself (its text, or its original file) to one chat."""
    await outbox_repo.enqueue_many(session, document_messages(
        renderer, document, chat_id=chat_id, lang=lang, dedupe_key=dedupe_key,
        person_id=person_id), now=now)


# ---------------------------------------------------------------- the roll call


def roll_call_html(renderer: Renderer, document: PublishedDocument, post: DocumentPost,
                   read: int, required: int, replaced_by: int | None = None) -> str:
    """The roll-call message: how many of the team have read it."""
    title = doc_repo.text_in(document, post.language)["title"]
    if replaced_by is not None:
        return renderer.html("document.roll_call_replaced", post.language, title=title,
                             version=document.version, new_version=replaced_by, read=read,
                             required=required)
    return renderer.html("document.roll_call", post.language, title=title,
                         version=document.version, due=post.due_at, read=read,
                         required=required)


async def edit_roll_call(session: AsyncSession, post: DocumentPost, html: str,
                         markup: dict[str, Any] | None, now: datetime) -> bool:
    """Queue an in-place edit of a post's roll call, once its message was sent."""
    row = await session.get(OutboxMessage, post.roll_call_outbox_id) \
        if post.roll_call_outbox_id else None
    if row is None or (row.telegram_message_id is None
                       and row.status == OutboxStatus.FAILED.value):
        post.roll_call_dirty = False  # no roll call in the group: nothing to edit
        session.add(post)
        return False
    if row.telegram_message_id is None:
        return False  # not sent yet: the sweep edits it once it is
    params: dict[str, Any] = {"message_id": row.telegram_message_id, "text": html,
                              "parse_mode": "HTML"}
    if markup is not None:
        params["reply_markup"] = markup
    post.roll_call_edits += 1
    await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                              params=params, now=now, purpose="document.roll_call_edit",
                              dedupe_key=f"doc-roll-edit:{post.id}:{post.roll_call_edits}")
    post.last_edit_at, post.roll_call_dirty = now, False
    session.add(post)
    return True


async def refresh_roll_call(session: AsyncSession, renderer: Renderer, post: DocumentPost,
                            now: datetime) -> bool:
    """Bring a post's roll call up to date (the caller throttles). True if an edit was queued."""
    document = await doc_repo.get_document(session, post.document_id)
    if document is None or document.superseded_at is not None:
        post.roll_call_dirty = False
        session.add(post)
        return False
    read, unread = await doc_repo.roll_call(session, post.document_id, post.unit_id)
    html = roll_call_html(renderer, document, post, len(read), len(read) + len(unread))
    return await edit_roll_call(session, post, html,
                                ack_button(renderer, post.language, document.id or 0), now)


# ---------------------------------------------------------------- read and understood


async def acknowledge(rt: Runtime, actor: Actor, document_id: int, chat_id: int) -> Outcome:
    """"Read and understood", pressed in ``chat_id`` (a team group, or a private copy).

    Idempotent: a second press says "already". The roll calls it changes are edited
    at once unless one was edited within the throttle (then the roll-call sweep
    shows it). Refusals: ``callback.stale``, ``document.superseded``,
    ``document.not_yours``.
    """
    now = rt.clock.now()
    queued = 0
    async with rt.db.transaction() as session:
        document = await doc_repo.get_document(session, document_id)
        refusal = await _ack_refusal(session, chat_id, document, actor.person_id, now)
        if refusal is not None:
            return Outcome.refused(refusal)
        changed = await doc_repo.acknowledge(session, document_id=document_id,
                                             person_id=actor.person_id, now=now)
        for receipt in changed:
            post = await doc_repo.post_for(session, document_id, receipt.unit_id)
            if post is not None and (post.last_edit_at is None
                                     or now - post.last_edit_at >= ROLL_CALL_EDIT_EVERY):
                queued += await refresh_roll_call(session, rt.renderer, post, now)
    if queued:
        rt.wake()
    return Outcome.done("document.acknowledged" if changed else "document.already", queued)


async def _ack_refusal(session: AsyncSession, chat_id: int, document: PublishedDocument | None,
                       person_id: int, now: datetime) -> str | None:
    """Why a click may not count (None: it counts). A group click needs the team's post;
    someone in that group without a receipt yet (first seen now) is added on the spot."""
    if document is None:
        return "callback.stale"
    if document.superseded_at is not None:
        return "document.superseded"
    if chat_id < 0:
        unit = await _bound_unit(session, chat_id)
        post = await doc_repo.post_for(session, document.id or 0, unit.id or 0) if unit else None
        if unit is None or post is None:
            return "callback.stale"
        await doc_repo.add_receipts(session, document_id=document.id or 0, unit_id=unit.id or 0,
                                    person_ids=[person_id], now=now, late=True)
        return None
    if not await doc_repo.receipts_of(session, document.id or 0, person_id):
        return "document.not_yours"
    return None


async def _bound_unit(session: AsyncSession, chat_id: int) -> Unit | None:
    """The unit a group chat is bound to, if any."""
    group = await org_repo.get_group_chat(session, chat_id)
    return await org_repo.get_unit(session, group.unit_id) \
        if group is not None and group.unit_id else None


# ---------------------------------------------------------------- /readstatus


async def read_status(rt: Runtime, actor: Actor, *, group_chat_id: int | None,
                      wanted: str | None, lang: str) -> Outcome:
    """Read rates rolling up the tree, and who is missing per team.

    In a group: that team (leaders and above); in private: everything under the
    units where the actor holds a leader role or more. Done as ``readstatus.show``
    with ``sections``; refused as ``readstatus.not_allowed`` or ``readstatus.none``.
    """
    async with rt.db.session() as session:
        tops = await _scope(session, actor, group_chat_id)
        if tops is None:
            return Outcome.refused("readstatus.not_allowed")
        sections = await _status_sections(session, tops, wanted, lang)
    if not sections:
        return Outcome.refused("readstatus.none")
    return Outcome.done("readstatus.show", sections=sections)


async def _scope(session: AsyncSession, actor: Actor,
                 group_chat_id: int | None) -> list[Unit] | None:
    """The units whose status a person may see: the group's team (leaders and above), or
    in private the top units where they hold a leader role or more. None: not allowed."""
    grants = await org_repo.grants_of(session, actor.person_id)
    if group_chat_id is not None:
        unit = await _bound_unit(session, group_chat_id)
        if unit is None or not has_role_over(grants, unit.path, Role.TEAM_LEADER,
                                             is_bot_admin=actor.is_bot_admin):
            return None
        return [unit]
    units = await org_repo.all_units(session)
    if actor.is_bot_admin:
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
