"""The training record's own rows: quiz answers, risk-card acknowledgements, drills."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.training import DOCUMENT, MEETING, TrainingRow
from storage.db import insert_skipping_duplicates
from storage.documents import texts_of
from storage.models import (
    Attendance,
    Person,
    PreShiftMeeting,
    PublishedDocument,
    ReadReceipt,
    TrainingRecord,
    Unit,
)


async def record(session: AsyncSession, *, person_id: int, unit_id: int | None, kind: str,
                 subject: str, result: str, at: datetime, dedupe_key: str,
                 detail: str | None = None) -> None:
    """Add an entry once: a second write with the same ``dedupe_key`` is skipped."""
    await insert_skipping_duplicates(session, TrainingRecord, ["dedupe_key"], [{
        "person_id": person_id, "unit_id": unit_id, "kind": kind, "subject": subject[:255],
        "result": result[:64], "detail": detail, "at": at, "dedupe_key": dedupe_key[:160]}])


async def entries_of(session: AsyncSession, person_id: int, *, since: datetime | None = None,
                     kinds: tuple[str, ...] = ()) -> list[TrainingRecord]:
    """A person's own entries, oldest first (optionally from ``since``, of ``kinds``)."""
    query = select(TrainingRecord).where(TrainingRecord.person_id == person_id)
    if since is not None:
        query = query.where(col(TrainingRecord.at) >= since)
    if kinds:
        query = query.where(col(TrainingRecord.kind).in_(kinds))
    result = await session.exec(query.order_by(col(TrainingRecord.at), col(TrainingRecord.id)))
    return list(result.all())


async def entries_of_units(session: AsyncSession, unit_ids: list[int], start: datetime,
                           end: datetime) -> list[TrainingRecord]:
    """Entries made in these units between ``start`` and ``end`` (for exports)."""
    if not unit_ids:
        return []
    result = await session.exec(select(TrainingRecord).where(
        col(TrainingRecord.unit_id).in_(unit_ids), col(TrainingRecord.at) >= start,
        col(TrainingRecord.at) < end).order_by(col(TrainingRecord.at)))
    return list(result.all())


async def record_rows(session: AsyncSession, *, person_id: int | None = None,
                      unit_ids: Sequence[int] | None = None, since: datetime | None = None,
                      until: datetime | None = None) -> list[TrainingRow]:
    """The whole training record of a person or of units, oldest first.

    Joins the record's own rows with meeting check-ins (``attendance``, by the
    meeting's team) and document acknowledgements (``read_receipt`` read, by team);
    ``since``/``until`` bound when it happened.
    """
    units = {u.id: u.name for u in (await session.exec(select(Unit))).all()}
    rows: list[TrainingRow] = []

    def within(column: Any) -> list[Any]:
        found = []
        if since is not None:
            found.append(column >= since)
        if until is not None:
            found.append(column < until)
        return found

    own = select(TrainingRecord, Person.name).join(
        Person, col(Person.id) == col(TrainingRecord.person_id)).where(
        *within(col(TrainingRecord.at)))
    checked = select(Attendance, PreShiftMeeting, Person.name).join(
        PreShiftMeeting, col(PreShiftMeeting.id) == col(Attendance.meeting_id)).join(
        Person, col(Person.id) == col(Attendance.person_id)).where(
        *within(col(Attendance.checked_in_at)))
    read = select(ReadReceipt, PublishedDocument, Person.name).join(
        PublishedDocument, col(PublishedDocument.id) == col(ReadReceipt.document_id)).join(
        Person, col(Person.id) == col(ReadReceipt.person_id)).where(
        col(ReadReceipt.read_at).is_not(None), *within(col(ReadReceipt.read_at)))
    if person_id is not None:
        own = own.where(TrainingRecord.person_id == person_id)
        checked = checked.where(Attendance.person_id == person_id)
        read = read.where(ReadReceipt.person_id == person_id)
    if unit_ids is not None:
        wanted = list(unit_ids)
        own = own.where(col(TrainingRecord.unit_id).in_(wanted))
        checked = checked.where(col(PreShiftMeeting.unit_id).in_(wanted))
        read = read.where(col(ReadReceipt.unit_id).in_(wanted))
    for entry, name in (await session.exec(own)).all():
        rows.append(TrainingRow(at=entry.at, person_id=entry.person_id, person=name,
                                team=units.get(entry.unit_id, "") if entry.unit_id else "",
                                kind=entry.kind, subject=entry.subject, result=entry.result,
                                detail=entry.detail or ""))
    for attendance, meeting, name in (await session.exec(checked)).all():
        rows.append(TrainingRow(at=attendance.checked_in_at, person_id=attendance.person_id,
                                person=name, team=units.get(meeting.unit_id, ""),
                                kind=MEETING, subject=meeting.shift_key,
                                result="checked_in", detail=meeting.shift_name))
    for receipt, document, name in (await session.exec(read)).all():
        assert receipt.read_at is not None
        rows.append(TrainingRow(at=receipt.read_at, person_id=receipt.person_id, person=name,
                                team=units.get(receipt.unit_id, ""), kind=DOCUMENT,
                                subject=f"{document.doc_key} v{document.version}",
                                result="late" if receipt.late else "read",
                                # {lang: title}: the reader picks their language.
                                detail=json.dumps({lang: text.get("title", "") for lang, text
                                                   in texts_of(document).items()},
                                                  ensure_ascii=False)))
    return sorted(rows, key=lambda row: (row.at, row.person))
