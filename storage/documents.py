"""Published policy documents, their posts in team groups and who has read them.

Counting rule, used everywhere (roll call, reminders, /readstatus, briefing):
an acknowledgement counts for ever; an outstanding one counts only while the
person is still an active member of the team's group — someone who left the
team is not nagged and does not drag the team's rate down.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import (
    DocumentPost,
    GroupChat,
    Membership,
    Person,
    PublishedDocument,
    ReadReceipt,
)


def texts_of(document: PublishedDocument) -> dict[str, dict[str, Any]]:
    """``{lang: {title, summary, html}}`` of a document."""
    value: dict[str, dict[str, Any]] = json.loads(document.texts_json)
    return value


def text_in(document: PublishedDocument, lang: str) -> dict[str, Any]:
    """The document's text in ``lang``, else in the first language it has."""
    texts = texts_of(document)
    return texts.get(lang) or next(iter(texts.values()))


def audience_of(document: PublishedDocument) -> list[str]:
    """The unit keys a document was published to."""
    value: list[str] = json.loads(document.audience_json)
    return value


async def get_document(session: AsyncSession, document_id: int) -> PublishedDocument | None:
    """The document version with this id."""
    return await session.get(PublishedDocument, document_id)


async def latest_version(session: AsyncSession, doc_key: str) -> PublishedDocument | None:
    """The newest published version of a document."""
    result = await session.exec(select(PublishedDocument).where(
        PublishedDocument.doc_key == doc_key).order_by(col(PublishedDocument.version).desc()))
    return result.first()


async def active_documents(session: AsyncSession) -> list[PublishedDocument]:
    """Every document version not replaced by a newer one, newest first."""
    result = await session.exec(select(PublishedDocument).where(
        col(PublishedDocument.superseded_at).is_(None))
        .order_by(col(PublishedDocument.published_at).desc(), col(PublishedDocument.id).desc()))
    return list(result.all())


async def supersede_older(session: AsyncSession, document: PublishedDocument,
                          now: datetime) -> list[PublishedDocument]:
    """Mark every older, still active version of the document as replaced."""
    result = await session.exec(select(PublishedDocument).where(
        PublishedDocument.doc_key == document.doc_key,
        col(PublishedDocument.version) < document.version,
        col(PublishedDocument.superseded_at).is_(None)))
    older = list(result.all())
    for old in older:
        old.superseded_at = now
        session.add(old)
        for post in await posts_of(session, old.id or 0):
            post.next_check_at = None  # no more reminders for a replaced version
            session.add(post)
    return older


async def posts_of(session: AsyncSession, document_id: int) -> list[DocumentPost]:
    """Every team post of a document version."""
    result = await session.exec(select(DocumentPost).where(
        DocumentPost.document_id == document_id).order_by(col(DocumentPost.id)))
    return list(result.all())


async def post_for(session: AsyncSession, document_id: int, unit_id: int) -> DocumentPost | None:
    """The post of a document in one team."""
    result = await session.exec(select(DocumentPost).where(
        DocumentPost.document_id == document_id, DocumentPost.unit_id == unit_id))
    return result.first()


async def add_receipts(session: AsyncSession, *, document_id: int, unit_id: int,
                       person_ids: Iterable[int], now: datetime, late: bool) -> list[ReadReceipt]:
    """Require acknowledgement from people (those already required are left alone)."""
    wanted = set(person_ids)
    if not wanted:
        return []
    result = await session.exec(select(ReadReceipt.person_id).where(
        ReadReceipt.document_id == document_id, ReadReceipt.unit_id == unit_id,
        col(ReadReceipt.person_id).in_(wanted)))
    known = set(result.all())
    rows = [ReadReceipt(document_id=document_id, unit_id=unit_id, person_id=person_id,
                        required_at=now, late=late) for person_id in sorted(wanted - known)]
    session.add_all(rows)
    await session.flush()
    return rows


async def require_many(session: AsyncSession, *, document_id: int,
                       required: Mapping[int, Sequence[int]], now: datetime) -> None:
    """Require acknowledgement in many teams at once (team id -> person ids), at posting.

    One statement; anyone already required is left alone.
    """
    values = [{"document_id": document_id, "unit_id": unit_id, "person_id": person_id,
               "required_at": now, "late": False}
              for unit_id, people in required.items() for person_id in sorted(set(people))]
    await insert_skipping_duplicates(session, ReadReceipt,
                                     ["document_id", "unit_id", "person_id"], values)


async def receipts_of(session: AsyncSession, document_id: int,
                      person_id: int) -> list[ReadReceipt]:
    """A person's acknowledgements of one document version (one per team)."""
    result = await session.exec(select(ReadReceipt).where(
        ReadReceipt.document_id == document_id, ReadReceipt.person_id == person_id))
    return list(result.all())


async def acknowledge(session: AsyncSession, *, document_id: int, person_id: int,
                      now: datetime) -> list[ReadReceipt]:
    """Record that a person read and understood a document. Returns what changed."""
    changed = []
    for receipt in await receipts_of(session, document_id, person_id):
        if receipt.read_at is None:
            receipt.read_at = now
            session.add(receipt)
            changed.append(receipt)
    if changed:
        posts = await session.exec(select(DocumentPost).where(
            DocumentPost.document_id == document_id,
            col(DocumentPost.unit_id).in_([r.unit_id for r in changed])))
        for post in posts.all():
            post.roll_call_dirty = True
            session.add(post)
    await session.flush()
    return changed


def _still_member() -> Any:
    """SQL: the receipt's person is an active member of the team's group."""
    return exists().where(
        col(Membership.person_id) == col(ReadReceipt.person_id),
        col(Membership.active) == True,  # noqa: E712
        col(Membership.group_chat_id) == col(GroupChat.id),
        col(GroupChat.unit_id) == col(ReadReceipt.unit_id))


def _counts() -> Any:
    return or_(col(ReadReceipt.read_at).is_not(None), _still_member())


async def roll_call(session: AsyncSession, document_id: int,
                    unit_id: int) -> tuple[list[Person], list[Person]]:
    """Who has read a document in a team, and who still must, by name."""
    result = await session.exec(
        select(Person, ReadReceipt.read_at).join(ReadReceipt,
                                                 col(ReadReceipt.person_id) == Person.id)
        .where(ReadReceipt.document_id == document_id, ReadReceipt.unit_id == unit_id,
               _counts()).order_by(col(Person.name)))
    read: list[Person] = []
    unread: list[Person] = []
    for person, read_at in result.all():
        (read if read_at is not None else unread).append(person)
    return read, unread


async def unread_names(session: AsyncSession, document_id: int) -> dict[int, list[str]]:
    """Per team, by name: who still must read a document version (one query for all)."""
    result = await session.exec(
        select(ReadReceipt.unit_id, Person.name).join(Person,
                                                      col(ReadReceipt.person_id) == Person.id)
        .where(ReadReceipt.document_id == document_id, col(ReadReceipt.read_at).is_(None),
               _counts()).order_by(col(Person.name)))
    names: dict[int, list[str]] = {}
    for unit_id, name in result.all():
        names.setdefault(unit_id, []).append(name)
    return names


async def team_counts(session: AsyncSession,
                      document_id: int) -> dict[int, tuple[int, int]]:
    """Per team: (read, required) for one document version."""
    result = await session.exec(
        select(ReadReceipt.unit_id, func.count(col(ReadReceipt.read_at)), func.count())
        .where(ReadReceipt.document_id == document_id, _counts())
        .group_by(col(ReadReceipt.unit_id)))
    return {unit_id: (int(read), int(total)) for unit_id, read, total in result.all()}


async def unread_in_team(session: AsyncSession,
                         unit_id: int) -> list[tuple[PublishedDocument, int]]:
    """Active documents a team has not finished reading, with how many still must."""
    result = await session.exec(
        select(PublishedDocument, func.count())
        .join(ReadReceipt, col(ReadReceipt.document_id) == PublishedDocument.id)
        .where(ReadReceipt.unit_id == unit_id, col(ReadReceipt.read_at).is_(None),
               col(PublishedDocument.superseded_at).is_(None), _still_member())
        .group_by(col(PublishedDocument.id)).order_by(col(PublishedDocument.id)))
    return [(document, int(count)) for document, count in result.all()]


async def unread_of_person(session: AsyncSession,
                           person_id: int) -> list[PublishedDocument]:
    """Active documents a person still has to acknowledge."""
    result = await session.exec(
        select(PublishedDocument).join(ReadReceipt,
                                       col(ReadReceipt.document_id) == PublishedDocument.id)
        .where(ReadReceipt.person_id == person_id, col(ReadReceipt.read_at).is_(None),
               col(PublishedDocument.superseded_at).is_(None))
        .distinct().order_by(col(PublishedDocument.id)))
    return list(result.all())


async def unread_with_due(session: AsyncSession,
                          person_id: int) -> list[tuple[PublishedDocument, datetime]]:
    """What a person still has to read and confirm (counting as the roll call does: only
    in teams they are still in), each document once with its earliest due date."""
    result = await session.exec(
        select(PublishedDocument, func.min(DocumentPost.due_at))
        .join(ReadReceipt, col(ReadReceipt.document_id) == PublishedDocument.id)
        .join(DocumentPost, and_(col(DocumentPost.document_id) == ReadReceipt.document_id,
                                 col(DocumentPost.unit_id) == ReadReceipt.unit_id))
        .where(ReadReceipt.person_id == person_id, col(ReadReceipt.read_at).is_(None),
               col(PublishedDocument.superseded_at).is_(None), _still_member())
        .group_by(col(PublishedDocument.id)).order_by(func.min(DocumentPost.due_at)))
    return [(document, due) for document, due in result.all()]


async def members_without_receipt(
        session: AsyncSession) -> list[tuple[int, DocumentPost]]:
    """(person id, post) for members of a team's group who have no receipt yet for an
    active document posted there: people who joined, or were first seen, later."""
    result = await session.exec(
        select(Membership.person_id, DocumentPost)
        .join(GroupChat, col(GroupChat.id) == Membership.group_chat_id)
        .join(DocumentPost, col(DocumentPost.unit_id) == GroupChat.unit_id)
        .join(PublishedDocument, col(PublishedDocument.id) == DocumentPost.document_id)
        .outerjoin(ReadReceipt, and_(col(ReadReceipt.document_id) == DocumentPost.document_id,
                                     col(ReadReceipt.unit_id) == DocumentPost.unit_id,
                                     col(ReadReceipt.person_id) == Membership.person_id))
        .where(Membership.active == True, GroupChat.active == True,  # noqa: E712
               PublishedDocument.requires_ack == True,  # noqa: E712
               col(PublishedDocument.superseded_at).is_(None), col(ReadReceipt.id).is_(None))
        .order_by(col(DocumentPost.id), col(Membership.person_id)))
    return [(person_id, post) for person_id, post in result.all()]


async def posts_due(session: AsyncSession, now: datetime, limit: int = 500) -> list[DocumentPost]:
    """Posts whose next reminder or due date has come."""
    result = await session.exec(select(DocumentPost).where(
        col(DocumentPost.next_check_at) <= now).order_by(col(DocumentPost.next_check_at))
        .limit(limit))
    return list(result.all())


async def stale_roll_calls(session: AsyncSession, edited_before: datetime,
                           limit: int = 500) -> list[DocumentPost]:
    """Posts whose roll call changed and may be edited again (throttled)."""
    result = await session.exec(select(DocumentPost).where(
        DocumentPost.roll_call_dirty == True,  # noqa: E712
        or_(col(DocumentPost.last_edit_at).is_(None),
            col(DocumentPost.last_edit_at) <= edited_before)).limit(limit))
    return list(result.all())


async def posts_in_units(session: AsyncSession,
                         unit_ids: Iterable[int]) -> list[tuple[DocumentPost, PublishedDocument]]:
    """Posts of active documents in these teams, newest document first."""
    ids = list(unit_ids)
    if not ids:
        return []
    result = await session.exec(
        select(DocumentPost, PublishedDocument)
        .join(PublishedDocument, col(PublishedDocument.id) == DocumentPost.document_id)
        .where(col(DocumentPost.unit_id).in_(ids),
               col(PublishedDocument.superseded_at).is_(None))
        .order_by(col(PublishedDocument.id).desc(), col(DocumentPost.unit_id)))
    return [(post, document) for post, document in result.all()]
