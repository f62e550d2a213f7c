"""Policy documents to every team (文件规定到班组): publishing and the reading timetable.

Publishing writes the document version, one post per team below the chosen
units (the text or the original file, then a roll call with "read and
understood"), and one receipt per member — all through the outbox, in the
caller's transaction. A sweep then keeps the promise:

- members seen after the post (joined later, or first seen with privacy mode
  on) are asked too: privately when they pressed Start, else by a mention;
- teams whose group was bound after publication get the document;
- reminder rounds (``DOCUMENT_REMINDERS`` after posting) go to those who have
  not read it, privately or by mention, and the team leader gets the list; a
  round that fell while the bot was down longer than the grace is skipped;
- at the due date the names go to the workshop, once;
- roll calls are edited in place at most every ``ROLL_CALL_EDIT_EVERY``; the
  roll-call sweep (scheduler/roll_calls.py) shows what a throttle held back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.delivery import OutboxStatus
from domain.documents import next_check, reminder_rounds_due
from domain.durations import as_duration, as_durations
from domain.org import Role, UnitKind, is_within
from domain.roll_call import EDIT_EVERY
from scheduler.timetable import SweepFunction
from services.buttons import pack
from storage import documents as doc_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import DocumentPost, GroupChat, OutboxMessage, PublishedDocument, Unit

log = logging.getLogger(__name__)

ROLL_CALL_EDIT_EVERY = EDIT_EVERY  # one throttle for every roll call
BATCH = 500
MAX_BATCHES = 1000  # a guard only: each batch moves its posts on


class PublishRefused(ValueError):
    """A publication that cannot go ahead; ``code`` names the user's message."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code, self.values = code, values


@dataclass
class DocumentDraft:
    """Everything needed to publish one version (from the library, an upload or the CLI)."""

    doc_key: str
    version: int | None  # None: the next version
    texts: dict[str, dict[str, Any]]  # lang -> {title, summary, html (None: post the file)}
    source: str = "library"
    file_id: str | None = None
    file_name: str | None = None
    change_note: str | None = None
    requires_ack: bool = True
    due_hours: int = 72


@dataclass
class Publication:
    """What publishing did, to tell the publisher."""

    document: PublishedDocument
    new_version: bool
    superseded: list[PublishedDocument] = field(default_factory=list)
    posted: list[Unit] = field(default_factory=list)
    required: int = 0
    without_group: list[Unit] = field(default_factory=list)


def ack_button(renderer: Renderer, lang: str, document_id: int) -> dict[str, Any]:
    """The "read and understood" button of a document version."""
    return {"inline_keyboard": [[{"text": renderer.plain("button.read_understood", lang),
                                  "callback_data": pack("doc", "ack", document_id)}]]}


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


# ---------------------------------------------------------------- publishing


async def publish(session: AsyncSession, renderer: Renderer, draft: DocumentDraft, *,
                  audience: Sequence[Unit], publisher_id: int | None, now: datetime,
                  default_language: str,
                  may_publish_to: Collection[str] | None = None) -> Publication:
    """Publish a document version to ``audience`` (and everything below it).

    The same version again widens its audience (the new teams get it); a newer
    version replaces the older ones everywhere they went — so it goes there too,
    whatever audience was chosen — and their roll calls say so and stop counting.

    Args:
        may_publish_to: The unit keys the publisher may publish to (None: any, as
            for the CLI). A new version must reach the old one's whole audience.

    Raises:
        PublishRefused: ``older`` (a newer version is out), ``no_audience``,
            ``note_needed`` (a new version without a change note),
            ``changed_same_version`` (a published version again with other text),
            ``not_yours`` (the old version went where the publisher may not).
    """
    if not audience:
        raise PublishRefused("no_audience")
    latest = await doc_repo.latest_version(session, draft.doc_key)
    version = draft.version if draft.version is not None else \
        ((latest.version + 1) if latest else 1)
    keys = list(dict.fromkeys((doc_repo.audience_of(latest) if latest else [])
                              + [unit.key for unit in audience]))
    if latest is not None and version < latest.version:
        raise PublishRefused("older", version=version, latest=latest.version)
    refusal = version_refusal(draft, latest, version, may_publish_to)
    if refusal is not None:
        raise refusal
    if latest is not None and version == latest.version:
        latest.audience_json = json.dumps(keys, ensure_ascii=False)
        session.add(latest)
        publication = Publication(latest, new_version=False)
    else:
        if latest is not None and not (draft.change_note or "").strip():
            raise PublishRefused("note_needed", version=version)
        document = PublishedDocument(
            doc_key=draft.doc_key, version=version, source=draft.source,
            texts_json=json.dumps(draft.texts, ensure_ascii=False), file_id=draft.file_id,
            file_name=draft.file_name, change_note=(draft.change_note or "").strip() or None,
            requires_ack=draft.requires_ack, due_hours=draft.due_hours,
            audience_json=json.dumps(keys, ensure_ascii=False), published_by=publisher_id,
            published_at=now)
        session.add(document)
        await session.flush()
        publication = Publication(document, new_version=True)
        publication.superseded = await doc_repo.supersede_older(session, document, now)
        for old in publication.superseded:
            await _mark_replaced(session, renderer, old, document.version, now)
    await deliver(session, renderer, publication, now=now, default_language=default_language)
    return publication


def version_refusal(draft: DocumentDraft, latest: PublishedDocument | None, version: int,
                    may_publish_to: Collection[str] | None) -> PublishRefused | None:
    """Why this version of ``draft`` may not follow ``latest``, if it may not.

    Checked when the document is chosen (to tell the publisher at once) and again
    when publishing (someone may have published in between).
    """
    if latest is None:
        return None
    if version > latest.version and may_publish_to is not None \
            and not set(doc_repo.audience_of(latest)) <= set(may_publish_to):
        # Not theirs to replace: most likely another unit's file of the same name.
        # (The same version again only widens its audience: harmless.)
        return PublishRefused("not_yours", title=doc_repo.text_in(latest, "zh")["title"],
                              version=latest.version)
    if version == latest.version:
        stored = doc_repo.texts_of(latest)
        if any(lang in stored and text.get("html") != stored[lang].get("html")
               for lang, text in draft.texts.items()):
            return PublishRefused("changed_same_version", version=version)
    return None


async def deliver(session: AsyncSession, renderer: Renderer, publication: Publication, *,
                  now: datetime, default_language: str,
                  teams: list[Unit] | None = None,
                  groups: dict[int, GroupChat] | None = None) -> None:
    """Post a document to every team of its audience that has a group and no post yet."""
    document = publication.document
    audience = [unit for key in doc_repo.audience_of(document)
                if (unit := await org_repo.get_unit_by_key(session, key)) is not None]
    teams = teams if teams is not None else await org_repo.units_of_kind(session, UnitKind.TEAM)
    if groups is None:  # one query, not one per team
        groups = {team.id or 0: group for team, group in await org_repo.teams_with_groups(session)}
    posted = {post.unit_id for post in await doc_repo.posts_of(session, document.id or 0)}
    targets: list[tuple[Unit, GroupChat]] = []
    for team in teams:
        if team.id in posted or not any(is_within(team.path, unit.path) for unit in audience):
            continue
        group = groups.get(team.id or 0)
        if group is None:  # never bound, or the bot was removed
            publication.without_group.append(team)
        else:
            targets.append((team, group))
    if targets:
        publication.required += await _post_all(session, renderer, document, targets, now,
                                                default_language)
        publication.posted += [team for team, _ in targets]


async def _post_all(session: AsyncSession, renderer: Renderer, document: PublishedDocument,
                    targets: list[tuple[Unit, GroupChat]], now: datetime,
                    default_language: str) -> int:
    """The teams' posts: the document, a roll call and receipts in each. Returns how many
    must read.

    A statement per kind of row, not per team: an enterprise of two thousand teams is
    published while the publisher waits.
    """
    posts = {}
    for team, group in targets:
        posts[team.id or 0] = DocumentPost(
            document_id=document.id or 0, unit_id=team.id or 0,
            language=org_repo.unit_language(team, group, default_language), posted_at=now,
            due_at=now + timedelta(hours=document.due_hours))
    session.add_all(posts.values())
    await session.flush()
    # All documents first, then all roll calls: ids in that order keep each chat's order.
    await outbox_repo.enqueue_many(session, [
        item for team, group in targets for item in document_messages(
            renderer, document, chat_id=group.chat_id, lang=posts[team.id or 0].language,
            dedupe_key=f"doc:{document.id}:{team.id}")], now=now)
    if not document.requires_ack:
        return 0
    members = await org_repo.active_member_ids(session, [group.id or 0 for _, group in targets])
    required = {team.id or 0: members.get(group.id or 0, []) for team, group in targets}
    await doc_repo.require_many(session, document_id=document.id or 0, required=required,
                                now=now)
    roll_calls = {}
    for team, group in targets:
        post = posts[team.id or 0]
        [(params, _)] = outbox_repo.text_parts(
            html=roll_call_html(renderer, document, post, 0, len(required[team.id or 0])),
            reply_markup=ack_button(renderer, post.language, document.id or 0))
        roll_calls[team.id or 0] = outbox_repo.Outgoing(
            chat_id=group.chat_id, params=params, purpose="document.roll_call",
            dedupe_key=f"doc-roll:{document.id}:{team.id}")
    await outbox_repo.enqueue_many(session, list(roll_calls.values()), now=now)
    ids = await outbox_repo.ids_by_key(session, [m.dedupe_key for m in roll_calls.values()])
    for unit_id, post in posts.items():
        post.roll_call_outbox_id = ids.get(roll_calls[unit_id].dedupe_key)
        post.next_check_at = now  # the sweep sets the first reminder from its settings
    return sum(len(people) for people in required.values())


async def _mark_replaced(session: AsyncSession, renderer: Renderer, old: PublishedDocument,
                         new_version: int, now: datetime) -> None:
    """Edit the old version's roll calls: replaced, no button (clicks are refused anyway)."""
    for post in await doc_repo.posts_of(session, old.id or 0):
        read, unread = await doc_repo.roll_call(session, old.id or 0, post.unit_id)
        await _edit_roll_call(session, post, roll_call_html(
            renderer, old, post, len(read), len(read) + len(unread), replaced_by=new_version),
            None, now)


async def _edit_roll_call(session: AsyncSession, post: DocumentPost, html: str,
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
    return await _edit_roll_call(session, post, html,
                                 ack_button(renderer, post.language, document.id or 0), now)


# ---------------------------------------------------------------- the sweep


def document_sweep(db: Database, renderer: Renderer, *, default_language: str,
                   reminders: str | Sequence[timedelta],
                   reminder_grace: str | timedelta,
                   wake: Callable[[], None]) -> SweepFunction:
    """Late joiners, late-bound teams, reminders and due-date reports (roll-call edits
    are the roll-call sweep's)."""
    offsets, grace = as_durations(reminders), as_duration(reminder_grace)

    async def sweep(now: datetime) -> None:
        queued = False
        async with db.transaction() as session:
            queued |= await _deliver_outstanding(session, renderer, now, default_language)
            queued |= await _ask_late_members(session, renderer, now, default_language)
        # Every due post in this sweep, a batch per transaction: thousands of posts due
        # at once (a document to every team) must not wait a minute per batch and miss
        # their round's grace. Each post's next check moves past "now", so this ends.
        for _ in range(MAX_BATCHES):
            async with db.transaction() as session:
                due = await doc_repo.posts_due(session, now, limit=BATCH)
                for post in due:
                    queued |= await _remind_or_report(session, renderer, post, now, offsets,
                                                      grace, default_language)
            if len(due) < BATCH:
                break
        if queued:
            wake()

    return sweep


async def _deliver_outstanding(session: AsyncSession, renderer: Renderer, now: datetime,
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


async def _ask_late_members(session: AsyncSession, renderer: Renderer, now: datetime,
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


async def _remind_or_report(session: AsyncSession, renderer: Renderer, post: DocumentPost,
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
