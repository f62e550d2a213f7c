"""Quiz services on SQLite and PostgreSQL: the daily poll once per team and day, its
answers by poll id, a private quiz's stale presses and its second round."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from sqlmodel import select

from content.quizzes import shipped_bank
from content.render import Renderer
from domain.clock import ManualClock
from domain.org import UnitKind
from services import quizzes as quiz_service
from services.base import Actor, Runtime
from services.membership import Member
from services.quizzes import PollVoteIn, QuizAnswer
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import OutboxMessage, QuizPoll, QuizSession, TrainingRecord

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _team(db: Database) -> tuple[int, int, int]:
    """A team bound to group -100, and a worker in it: (unit id, person id, telegram id)."""
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="t1", kind=UnitKind.TEAM, name="甲班",
                                          parent=None, now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=-100, title="甲班",
                                                 chat_type="group", now=T0)
        await org_repo.bind_chat(s, group, team, now=T0)
        worker = await people_repo.upsert_person(s, telegram_id=501, name="王工",
                                                 username=None, language_code="zh", now=T0)
        await org_repo.record_membership(s, chat=group, person=worker, active=True, now=T0)
        return team.id or 0, worker.id or 0, 501


async def test_the_daily_poll_is_queued_once_and_its_answers_found_by_poll_id(
        db: Database) -> None:
    unit_id, person_id, telegram_id = await _team(db)
    rt = Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0))
    async with db.session() as s:
        teams = await org_repo.teams_with_groups(s)
    window = timedelta(hours=2)
    assert await quiz_service.post_daily_polls(rt, teams, at=time(10, 0), window=window) == 1
    assert await quiz_service.post_daily_polls(rt, teams, at=time(10, 0), window=window) == 0
    async with db.transaction() as s:
        [poll] = (await s.exec(select(QuizPoll))).all()
        [row] = (await s.exec(select(OutboxMessage))).all()
        params = outbox_repo.params_of(row)
        assert row.method == "sendPoll" and params["type"] == "quiz"
        assert params["is_anonymous"] is False and params["explanation"]
        assert poll.outbox_id == row.id and poll.day == "2026-11-23"
        await outbox_repo.record_poll_ids(s, {row.id or 0: "P-1"})  # what the sender does
    voter = Member(telegram_id=telegram_id, name="王工")
    stranger = Member(telegram_id=999, name="路人")
    votes = [PollVoteIn(voter, "P-1", (poll.correct_option,)),
             PollVoteIn(voter, "P-1", (poll.correct_option + 1,)),  # again: counted once
             PollVoteIn(stranger, "P-1", (0,)),
             PollVoteIn(voter, "P-2", (0,)),  # not a poll of ours
             PollVoteIn(voter, "P-1", ())]  # taken back
    results = await quiz_service.record_poll_answers(rt, votes)
    assert [(r.recorded, r.ask_chat_id) for r in results] == [
        (True, None), (True, None), (False, -100), (False, None), (False, None)]
    async with db.session() as s:
        records = (await s.exec(select(TrainingRecord))).all()
    assert [(r.person_id, r.subject, r.result, r.unit_id) for r in records] == [
        (person_id, poll.question_id, "correct", unit_id)]
    # Telegram said the stranger is in the group after all: learned and recorded.
    [vote] = await quiz_service.record_poll_answers(rt, [PollVoteIn(stranger, "P-1", (0,),
                                                                     confirmed=True)])
    assert vote.recorded
    # Outside the window (the bot was down all morning): no poll that day.
    rt_late = Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0 + timedelta(days=1,
                                                                                   hours=3)))
    assert await quiz_service.post_daily_polls(rt_late, teams, at=time(10, 0),
                                               window=window) == 0


async def test_a_private_quiz_refuses_stale_presses_and_repeats_the_missed(
        db: Database) -> None:
    _, person_id, telegram_id = await _team(db)
    clock = ManualClock(T0)
    rt = Runtime(db=db, renderer=Renderer(), clock=clock)
    actor = Actor(person_id=person_id, telegram_id=telegram_id, name="王工", language="zh")
    started = await quiz_service.start_session(rt, actor, 501, "fire", count=2)
    assert started.key is None and len(started.screens) == 2
    async with db.session() as s:
        [quiz] = (await s.exec(select(QuizSession))).all()
    other = Actor(person_id=person_id + 1, telegram_id=1, name="x", language="zh")
    assert (await quiz_service.answer(rt, other, QuizAnswer(quiz.id or 0, 1, 0, 0))).key \
        == "quiz.stale"
    assert (await quiz_service.answer(rt, actor, QuizAnswer(quiz.id or 0, 1, 0, 9))).key \
        == "quiz.stale"  # no such option
    ids = json.loads(quiz.question_ids)
    bank = shipped_bank()
    wrong = [next(i for i in range(q.option_count) if not q.is_correct(i))
             for q in (bank.by_id(i) for i in ids) if q is not None]
    first = await quiz_service.answer(rt, actor, QuizAnswer(quiz.id or 0, 1, 0, wrong[0]))
    assert first.feedback is not None and "❌" in first.feedback.html
    assert (await quiz_service.answer(rt, actor, QuizAnswer(quiz.id or 0, 1, 0, 0))).key \
        == "quiz.stale"  # answered already
    second = await quiz_service.answer(rt, actor, QuizAnswer(quiz.id or 0, 1, 1, wrong[1]))
    assert "第二轮" in second.screens[0].html and len(second.screens) == 2
    async with db.session() as s:
        again = await s.get(QuizSession, quiz.id)
        assert again is not None and again.round == 2 and json.loads(again.question_ids) == ids
    assert await quiz_service.cancel_session(rt, actor)
    assert not await quiz_service.cancel_session(rt, actor)
    assert (await quiz_service.answer(rt, actor, QuizAnswer(quiz.id or 0, 2, 0, 0))).key \
        == "quiz.stale"
