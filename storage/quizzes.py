"""Quiz rows: the teams' daily quiz polls and the workers' private quiz sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import insert_skipping_duplicates
from storage.models import (
    EarlyPollAnswer,
    GroupChat,
    Membership,
    OutboxMessage,
    Person,
    QuizPoll,
    QuizSession,
    TrainingRecord,
)

ACTIVE = "active"


# ---------------------------------------------------------------- daily polls


async def teams_polled_on(session: AsyncSession, unit_ids: Sequence[int],
                          days: Sequence[str]) -> set[tuple[int, str]]:
    """Which (team, local day) pairs already have their daily poll."""
    if not unit_ids or not days:
        return set()
    result = await session.exec(select(QuizPoll.unit_id, QuizPoll.day).where(
        col(QuizPoll.unit_id).in_(unit_ids), col(QuizPoll.day).in_(days)))
    return {(unit_id, day) for unit_id, day in result.all()}


async def recent_poll_questions(session: AsyncSession, unit_id: int,
                                since: datetime) -> dict[str, datetime]:
    """The questions a team's daily polls asked since ``since``, with when (latest)."""
    result = await session.exec(select(QuizPoll.question_id, QuizPoll.posted_at).where(
        QuizPoll.unit_id == unit_id, col(QuizPoll.posted_at) >= since))
    asked: dict[str, datetime] = {}
    for question_id, posted_at in result.all():
        if question_id not in asked or asked[question_id] < posted_at:
            asked[question_id] = posted_at
    return asked


async def add_poll(session: AsyncSession, *, unit_id: int, chat_id: int, day: str,
                   question_id: str, correct_option: int, outbox_id: int | None,
                   posted_at: datetime) -> QuizPoll:
    """Keep a daily poll queued for a team."""
    poll = QuizPoll(unit_id=unit_id, chat_id=chat_id, day=day, question_id=question_id,
                    correct_option=correct_option, outbox_id=outbox_id, posted_at=posted_at)
    session.add(poll)
    await session.flush()
    return poll


async def poll_by_telegram_id(session: AsyncSession, poll_id: str) -> QuizPoll | None:
    """The daily poll Telegram knows as ``poll_id`` (recorded when the outbox sent it)."""
    result = await session.exec(
        select(QuizPoll).join(OutboxMessage, col(OutboxMessage.id) == QuizPoll.outbox_id)
        .where(OutboxMessage.poll_id == poll_id))
    return result.first()


async def is_active_member(session: AsyncSession, group_chat_id: int, person_id: int) -> bool:
    """Whether a person is currently a member of a group (by the group row's id)."""
    result = await session.exec(select(Membership.id).where(
        Membership.group_chat_id == group_chat_id, Membership.person_id == person_id,
        Membership.active == True))  # noqa: E712
    return result.first() is not None


# ---------------------------------------------------------------- private sessions


async def active_session(session: AsyncSession, person_id: int) -> QuizSession | None:
    """The person's quiz in progress, if any (the newest, should there be two)."""
    result = await session.exec(
        select(QuizSession).where(QuizSession.person_id == person_id,
                                  QuizSession.status == ACTIVE)
        .order_by(col(QuizSession.id).desc()))
    return result.first()


async def get_session(session: AsyncSession, session_id: int) -> QuizSession | None:
    """A quiz session by id."""
    return await session.get(QuizSession, session_id)


async def close_sessions(session: AsyncSession, person_id: int, *, status: str,
                         now: datetime) -> int:
    """End every quiz the person has in progress (cancelled, or replaced by a new one)."""
    result = await session.exec(select(QuizSession).where(
        QuizSession.person_id == person_id, QuizSession.status == ACTIVE))
    closed = 0
    for quiz in result.all():
        quiz.status, quiz.updated_at = status, now
        session.add(quiz)
        closed += 1
    return closed


async def quiz_entries_of_unit(session: AsyncSession, unit_id: int,
                               since: datetime) -> list[TrainingRecord]:
    """The quiz answers recorded for a team since ``since``."""
    result = await session.exec(select(TrainingRecord).where(
        TrainingRecord.unit_id == unit_id, TrainingRecord.kind == "quiz",
        col(TrainingRecord.at) >= since))
    return list(result.all())


# ---------------------------------------------------------------- poll answers in bulk


async def polls_by_telegram_ids(session: AsyncSession,
                                poll_ids: Sequence[str]) -> dict[str, QuizPoll]:
    """The daily polls behind many Telegram poll ids, in one query."""
    if not poll_ids:
        return {}
    result = await session.exec(
        select(OutboxMessage.poll_id, QuizPoll)
        .join(OutboxMessage, col(OutboxMessage.id) == QuizPoll.outbox_id)
        .where(col(OutboxMessage.poll_id).in_(poll_ids)))
    return {str(poll_id): poll for poll_id, poll in result.all()}


async def groups_of_units(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, GroupChat]:
    """The group bound to each of many units, in one query."""
    if not unit_ids:
        return {}
    result = await session.exec(select(GroupChat).where(col(GroupChat.unit_id).in_(unit_ids)))
    return {group.unit_id: group for group in result.all() if group.unit_id is not None}


async def person_ids_by_telegram_ids(session: AsyncSession,
                                     telegram_ids: Sequence[int]) -> dict[int, int]:
    """The person ids of the known people among many Telegram ids, in one query
    (ids only: a plant's votes need no more, and loading whole rows cost more)."""
    if not telegram_ids:
        return {}
    result = await session.exec(select(Person.telegram_id, Person.id)
                                .where(col(Person.telegram_id).in_(telegram_ids)))
    return {telegram_id: person_id for telegram_id, person_id in result.all()
            if person_id is not None}


async def active_memberships(session: AsyncSession, group_chat_ids: Sequence[int],
                             person_ids: Sequence[int]) -> set[tuple[int, int]]:
    """Which (group row id, person id) pairs among these are current memberships."""
    if not group_chat_ids or not person_ids:
        return set()
    result = await session.exec(select(Membership.group_chat_id, Membership.person_id).where(
        col(Membership.group_chat_id).in_(group_chat_ids),
        col(Membership.person_id).in_(person_ids), Membership.active == True))  # noqa: E712
    return {(group_id, person_id) for group_id, person_id in result.all()}


async def record_answers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Training-record rows of quiz answers in one statement; a dedupe key seen before
    (or twice in ``rows``) is skipped."""
    await insert_skipping_duplicates(session, TrainingRecord, ["dedupe_key"], list(rows))


# ---------------------------------------------------------------- votes before the poll's id


async def hold_early_answers(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Keep votes for polls whose id is not recorded yet; a redelivered vote is kept once."""
    await insert_skipping_duplicates(session, EarlyPollAnswer, ["poll_id", "telegram_id"],
                                     list(rows))


async def early_answers_now_known(session: AsyncSession,
                                  limit: int = 1000) -> list[EarlyPollAnswer]:
    """Held votes whose poll's id the outbox has recorded since (oldest first)."""
    known = select(OutboxMessage.poll_id).where(col(OutboxMessage.poll_id).is_not(None))
    result = await session.exec(select(EarlyPollAnswer)
                                .where(col(EarlyPollAnswer.poll_id).in_(known))
                                .order_by(col(EarlyPollAnswer.id)).limit(limit))
    return list(result.all())


async def drop_early_answers(session: AsyncSession, ids: Sequence[int]) -> None:
    """Forget held votes that were recorded (or turned out not to count)."""
    if ids:
        await session.exec(delete(EarlyPollAnswer)  # type: ignore[call-overload]
                           .where(col(EarlyPollAnswer.id).in_(ids)))


async def drop_early_answers_before(session: AsyncSession, before: datetime) -> int:
    """Forget held votes older than ``before``: their poll was never one of ours."""
    result = await session.exec(delete(EarlyPollAnswer)  # type: ignore[call-overload]
                                .where(col(EarlyPollAnswer.received_at) < before))
    return int(result.rowcount or 0)
