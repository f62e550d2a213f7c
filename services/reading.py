"""Keeping the promise of a published document: everyone of the team reads it.

What the documents sweep (scheduler/documents.py) calls, each in the caller's
transaction, all through the outbox:

- members seen after the post (joined later, or first seen with privacy mode
  on) are asked too: privately when they pressed Start, else by a mention;
- teams whose group was bound after publication get the document;
- reminder rounds go to those who have not read it, privately or by mention,
  and the team leader gets the list; a round that fell while the bot was down
  longer than the grace is skipped;
- at the due date the names go to the workshop, once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.documents import next_check, reminder_rounds_due
from domain.org import Role
from services.documents import ack_button, queue_document
from services.publishing import Publication, deliver
from storage import documents as doc_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import DocumentPost, PublishedDocument, Unit

log = logging.getLogger(__name__)


async def deliver_outstanding(session: AsyncSession, renderer: Renderer, now: datetime,
                              default_language: str) -> bool:
    """Teams bound to a group after a document was published get it now."""
    documents = await doc_repo.active_documents(session)
    if not documents:
        return False
    bound = await org_repo.teams_with_groups(session)
    teams = [team for team, _ in bound]  # teams without a group wait until one is bound
    groups = {team.id or 0: group for team, group in bound}
    queued = False
    for document in documents:
        publication = Publication(document, new_version=False)
        await deliver(session, renderer, publication, now=now, default_language=default_language,
                      teams=teams, groups=groups)
        queued |= bool(publication.posted)
    return queued


async def ask_late_members(session: AsyncSession, renderer: Renderer, now: datetime,
                           default_language: str) -> bool:
    """Members seen after a post must read it too: privately if they can be written to."""
    missing = await doc_repo.members_without_receipt(session)
    for person_id, post in missing:
        added = await doc_repo.add_receipts(session, document_id=post.document_id,
                                            unit_id=post.unit_id, person_ids=[person_id],
                                            now=now, late=True)
        if not added:
            continue  # they pressed "read" in the group meanwhile: nothing to ask
        [receipt] = added
        document = await doc_repo.get_document(session, post.document_id)
        unit = await org_repo.get_unit(session, post.unit_id)
        group = await org_repo.chat_of_unit(session, post.unit_id)
        [person] = await people_repo.people_by_ids(session, [person_id])
        if document is None or unit is None or group is None:
            continue
        title = doc_repo.text_in(document, post.language)["title"]
        if person.started and not person.blocked:
            lang = person.language or post.language
            intro = renderer.html("document.late_private", lang, unit=unit.name,
                                  title=doc_repo.text_in(document, lang)["title"])
            await outbox_repo.enqueue_text(session, chat_id=person.telegram_id, html=intro,
                                           now=now, purpose="document.late", person_id=person_id,
                                           dedupe_key=f"doc-late:{receipt.id}")
            await queue_document(session, renderer, document, chat_id=person.telegram_id,
                                 lang=lang, now=now, dedupe_key=f"doc-late-text:{receipt.id}",
                                 person_id=person_id)
            await outbox_repo.enqueue_text(
                session, chat_id=person.telegram_id, now=now, purpose="document.late",
                html=renderer.html("document.please_ack", lang, title=title, due=post.due_at),
                reply_markup=ack_button(renderer, lang, document.id or 0), person_id=person_id,
                dedupe_key=f"doc-late-ack:{receipt.id}")
        else:
            await outbox_repo.enqueue_text(
                session, chat_id=group.chat_id, now=now, purpose="document.late",
                html=renderer.html("document.late_mention", post.language, unit=unit.name,
                                   person_id=person.telegram_id, person=person.name,
                                   title=title, due=post.due_at),
                reply_markup=ack_button(renderer, post.language, document.id or 0),
                dedupe_key=f"doc-late:{receipt.id}")
        post.roll_call_dirty = True
        session.add(post)
    return bool(missing)


async def remind_or_report(session: AsyncSession, renderer: Renderer, post: DocumentPost,
                           now: datetime, offsets: tuple[timedelta, ...], grace: timedelta,
                           default_language: str) -> bool:
    """Send the reminder rounds that fell due, or the due-date report to the workshop."""
    document = await doc_repo.get_document(session, post.document_id)
    unit = await org_repo.get_unit(session, post.unit_id)
    if document is None or unit is None or document.superseded_at is not None:
        post.next_check_at = None
        session.add(post)
        return False
    send, skipped = reminder_rounds_due(post.posted_at, post.due_at, offsets,
                                        post.reminders_done, now, grace)
    if skipped:
        log.warning("document %s in %s: reminder rounds %s fell while the bot was down and "
                    "were skipped", document.doc_key, unit.key, skipped)
    queued = False
    # The roll call is read only when someone is to be told: a post's first check (its
    # rounds scheduled, nothing due yet) costs no query per team.
    _, unread = await doc_repo.roll_call(session, post.document_id, post.unit_id) \
        if send or now >= post.due_at else (None, [])
    for round_index in send:
        queued |= await _remind(session, renderer, document, post, unit, unread, round_index, now,
                                default_language)
    post.reminders_done = max([post.reminders_done, *(i + 1 for i in send + skipped)])
    if now >= post.due_at:
        if unread:
            queued |= await _report_overdue(session, renderer, document, post, unit, unread, now,
                                            default_language)
        post.reported_at, post.next_check_at = now, None
    else:
        post.next_check_at = next_check(post.posted_at, post.due_at, offsets,
                                        post.reminders_done)
    session.add(post)
    return queued


async def _remind(session: AsyncSession, renderer: Renderer, document: PublishedDocument,
                  post: DocumentPost, unit: Unit, unread: list[Any], round_index: int,
                  now: datetime, default_language: str) -> bool:
    """One reminder round: each reader privately (or by mention), the leader the list."""
    if not unread:
        return False
    group = await org_repo.chat_of_unit(session, unit.id or 0)
    title = doc_repo.text_in(document, post.language)["title"]
    mentioned = []
    for person in unread:
        if person.started and not person.blocked:
            lang = person.language or post.language
            await outbox_repo.enqueue_text(
                session, chat_id=person.telegram_id, now=now, purpose="document.reminder",
                html=renderer.html("document.reminder_private", lang, unit=unit.name,
                                   title=doc_repo.text_in(document, lang)["title"],
                                   version=document.version, due=post.due_at),
                reply_markup=ack_button(renderer, lang, document.id or 0), person_id=person.id,
                dedupe_key=f"doc-rem:{post.id}:{round_index}:{person.id}")
        else:
            mentioned.append({"id": person.telegram_id, "name": person.name})
    if mentioned and group is not None and group.active:
        await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, now=now, purpose="document.reminder",
            html=renderer.html("document.reminder_group", post.language, title=title,
                               people=mentioned, due=post.due_at),
            reply_markup=ack_button(renderer, post.language, document.id or 0),
            dedupe_key=f"doc-rem-group:{post.id}:{round_index}")
    read, _ = await doc_repo.roll_call(session, post.document_id, post.unit_id)
    leaders = [p for p, _ in await org_repo.role_holders(session, [unit.id or 0],
                                                         [Role.TEAM_LEADER])]
    chats, _ = org_repo.reachable(leaders, unit, None, default_language)
    for chat_id, (lang, person_id) in chats.items():
        await outbox_repo.enqueue_text(
            session, chat_id=chat_id, now=now, purpose="document.reminder_leader",
            html=renderer.html("document.reminder_leader", lang, unit=unit.name,
                               title=doc_repo.text_in(document, lang)["title"],
                               read=len(read), required=len(read) + len(unread),
                               names=[p.name for p in unread], due=post.due_at),
            person_id=person_id, dedupe_key=f"doc-rem-lead:{post.id}:{round_index}:{chat_id}")
    return True


async def _report_overdue(session: AsyncSession, renderer: Renderer, document: PublishedDocument,
                          post: DocumentPost, unit: Unit, unread: list[Any], now: datetime,
                          default_language: str) -> bool:
    """At the due date, the names of those who have not read it go to the workshop."""
    _, chats = await org_repo.nearest_recipients_above(
        session, unit, [Role.SAFETY_OFFICER, Role.MANAGER], default_language)
    for chat_id, (lang, person_id) in chats.items():
        await outbox_repo.enqueue_text(
            session, chat_id=chat_id, now=now, purpose="document.overdue",
            html=renderer.html("document.overdue", lang, unit=unit.name,
                               title=doc_repo.text_in(document, lang)["title"],
                               version=document.version, due=post.due_at,
                               names=[p.name for p in unread]),
            person_id=person_id, dedupe_key=f"doc-overdue:{post.id}:{chat_id}")
    if not chats:
        log.warning("document %s overdue in %s but nobody above can be told",
                    document.doc_key, unit.key)
    return bool(chats)
