"""Safety quizzes: the team's daily quiz poll, a worker's private quiz, the team's results.

Every answer is a row of the training record (kind ``quiz``, subject the question
id, result ``correct``/``wrong``, the team the worker belongs to); a second
delivery of the same answer writes nothing (the record's dedupe key).

The daily poll goes through the outbox like every notification; the outbox keeps
the id Telegram gives the sent poll, which is all a ``poll_answer`` names. A
private quiz lives in ``quiz_session``: a restart continues it where it stood.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from content.quizzes import shipped_bank
from content.render import Renderer
from domain.org import path_ids
from domain.quiz import Question, QuestionBank, Seen, choose_questions, percent, weakest_topics
from domain.quiz_time import BRIEFING, QuizTime, quiz_starts_at, quiz_time_of
from domain.shifts import ShiftSchedule
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from services.membership import Member
from services.shifts import team_schedule
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import quizzes as quiz_repo
from storage import training
from storage import units as units_repo
from storage.models import EarlyPollAnswer, GroupChat, Person, QuizPoll, QuizSession, Unit

# Questions in a private quiz's first round.
SESSION_QUESTIONS = 5
# How far back a worker's (or team's) answers count when choosing questions.
HISTORY = timedelta(days=90)
# What /quizstats looks at.
STATS_PERIOD = timedelta(days=30)
LETTERS = "ABCDEFGHIJ"
KIND = "quiz"


@dataclass(frozen=True)
class QuizAnswer(Button, prefix="qz"):
    """An answer button of a private quiz: ``qz:SESSION:ROUND:POSITION:OPTION``.

    Round and position make a press of an earlier question's button stale.
    """

    session_id: int
    round: int
    position: int
    option: int


@dataclass(frozen=True)
class Screen:
    """One message to show: HTML and, for a question, its answer buttons."""

    html: str
    reply_markup: dict[str, Any] | None = None


@dataclass
class QuizReply:
    """What a quiz action shows: the answered question's feedback, then new messages.

    ``key`` is set instead when the action was refused (a sentence to say).
    """

    feedback: Screen | None = None
    screens: list[Screen] = field(default_factory=list)
    key: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


def _bank(bank: QuestionBank | None) -> QuestionBank:
    return bank if bank is not None else shipped_bank()


def _ids(text: str) -> list[str]:
    value = json.loads(text or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


async def _team_of(session: AsyncSession, person_id: int) -> int | None:
    """The team a person belongs to: the unit of their oldest bound group, if any."""
    for group in await org_repo.groups_of_person(session, person_id):
        if group.unit_id is not None:
            return group.unit_id
    return None


# ---------------------------------------------------------------- the daily poll


def local_day(now: datetime, zone: str) -> tuple[str, time]:
    """The local date ("2026-11-23") and time of day at ``now`` in ``zone``."""
    local = now.astimezone(ZoneInfo(zone))
    return local.date().isoformat(), local.time()


def poll_due(now: datetime, zone: str, at: QuizTime, window: timedelta,
             schedule: ShiftSchedule | None = None) -> str | None:
    """The local day whose poll falls due at ``now`` (from its start for ``window``), or
    None. ``at`` is a clock time, or "briefing": the day's first pre-shift briefing.

    The window lets a poll the bot missed while it was down still go out, not hours late.
    """
    day = now.astimezone(ZoneInfo(zone)).date()
    start = quiz_starts_at(day, zone, at, schedule)
    if start is not None and start <= now < start + window:
        return day.isoformat()
    return None


async def post_daily_polls(rt: Runtime, teams: Sequence[tuple[Unit, GroupChat]], *,
                           at: QuizTime, window: timedelta,
                           bank: QuestionBank | None = None) -> int:
    """Queue today's quiz poll in every team group whose quiz time has come.

    A team's quiz time is the nearest ``quiz_time`` up its chain (a clock time, or
    "briefing"), else ``at``. Once per team and local day (the ``quiz_poll`` row and
    the outbox key both say so); the question is one the team's polls did not ask
    within the rest period. Returns how many polls were queued.
    """
    questions = list(_bank(bank).questions)
    if not questions:
        return 0
    now = rt.clock.now()
    async with rt.db.session() as session:
        above = await units_repo.by_ids(session, sorted(
            {i for unit, _ in teams for i in path_ids(unit.path)}))
    due: list[tuple[Unit, GroupChat, str]] = []
    for unit, group in teams:
        zone = unit.timezone or rt.default_timezone
        chain = [above[i] for i in path_ids(unit.path) if i in above] or [unit]
        team_at = quiz_time_of(chain, at)
        schedule = None
        if team_at == BRIEFING:
            decoded = team_schedule(unit, rt.default_timezone)
            schedule = decoded if isinstance(decoded, ShiftSchedule) else None
        day = poll_due(now, zone, team_at, window, schedule)
        if day is not None:
            due.append((unit, group, day))
    if not due:
        return 0
    queued = 0
    async with rt.db.transaction() as session:
        done = await quiz_repo.teams_polled_on(session, [u.id or 0 for u, _, _ in due],
                                               sorted({d for _, _, d in due}))
        for unit, group, day in due:
            if (unit.id or 0, day) in done:
                continue
            asked = await quiz_repo.recent_poll_questions(session, unit.id or 0, now - HISTORY)
            history = {qid: Seen(last_seen=at_) for qid, at_ in asked.items()}
            [question] = choose_questions(questions, count=1, now=now, history=history,
                                          rng=random.Random(f"{unit.id}:{day}"))
            lang = org_repo.unit_language(unit, group, rt.default_language)
            row = await outbox_repo.enqueue(
                session, chat_id=group.chat_id, method="sendPoll", purpose="quiz_poll",
                params=poll_params(rt.renderer, question, lang), now=now,
                dedupe_key=f"quiz:daily:{unit.id}:{day}")
            await quiz_repo.add_poll(
                session, unit_id=unit.id or 0, chat_id=group.chat_id, day=day,
                question_id=question.id, correct_option=min(question.correct),
                outbox_id=row.id if row is not None else None, posted_at=now)
            queued += 1
    if queued:
        rt.wake()
    return queued


def poll_params(renderer: Renderer, question: Question, lang: str) -> dict[str, Any]:
    """The sendPoll parameters of a daily question: a quiz, not anonymous, explained.

    A question with several right options lets a voter tick several (Bot API 9.6
    quizzes take a list of correct options); it counts as right only with all of them.
    """
    wording = question.wording(lang)
    title = renderer.plain("quiz.daily_prefix", lang)
    return {"question": f"{title}{wording.question}"[:300],
            "options": [{"text": o} for o in wording.options],
            "type": "quiz", "is_anonymous": False,
            "allows_multiple_answers": not question.single_answer,
            "correct_option_ids": sorted(question.correct),
            "explanation": wording.explanation}


@dataclass(frozen=True)
class PollVote:
    """What became of a poll answer: recorded, or whom to ask Telegram about first.

    ``ask_chat_id``: the voter is not known as a member of the poll's group (the bot
    may never have seen them speak); if Telegram says they are in it, answer again
    with ``confirmed``.
    """

    recorded: bool
    ask_chat_id: int | None = None
    held: bool = False  # its poll's id is not known yet: kept until it is


@dataclass(frozen=True)
class PollVoteIn:
    """A ``poll_answer`` as the chat edge parsed it."""

    voter: Member
    poll_id: str
    option_ids: tuple[int, ...]
    confirmed: bool = False  # Telegram said the voter is in the poll's group


async def record_poll_answer(rt: Runtime, voter: Member, *, poll_id: str,
                             option_ids: Sequence[int], confirmed: bool = False,
                             bank: QuestionBank | None = None) -> PollVote:
    """Record a team member's answer to a daily poll (in a transaction of its own).

    Not recorded: a poll that is not a daily quiz, an answer taken back (no options),
    someone not in the team's group. A voter the bot has not seen in the group is
    recorded once Telegram confirmed they are a member (``confirmed``; they are
    learned as one then). A repeated delivery records nothing new.
    """
    [vote] = await record_poll_answers(rt, [PollVoteIn(voter, poll_id, tuple(option_ids),
                                                       confirmed)], bank=bank)
    return vote


async def record_poll_answers(rt: Runtime, votes: Sequence[PollVoteIn], *,
                              bank: QuestionBank | None = None) -> list[PollVote]:
    """:func:`record_poll_answer` for many votes in one transaction, a result each.

    A handful of statements per batch, not per vote: a whole plant answering the
    morning's question arrives within minutes. A vote for a poll whose id the outbox
    has not recorded yet (the voter was faster than the sendPoll's answer) is held,
    and recorded by :func:`record_early_answers` once the id is known.
    """
    async with rt.db.transaction() as session:
        return await _record_votes(session, votes, rt.clock.now(), _bank(bank), hold=True)


async def _record_votes(session: AsyncSession, votes: Sequence[PollVoteIn], now: datetime,
                        bank: QuestionBank, *, hold: bool) -> list[PollVote]:
    """Record the votes that count, in ``session``; hold those for unknown polls."""
    polls = await quiz_repo.polls_by_telegram_ids(
        session, sorted({v.poll_id for v in votes if v.option_ids}))
    groups = await quiz_repo.groups_of_units(session, sorted({p.unit_id
                                                              for p in polls.values()}))
    people = await quiz_repo.person_ids_by_telegram_ids(
        session, sorted({v.voter.telegram_id for v in votes}))
    members = await quiz_repo.active_memberships(
        session, sorted({g.id or 0 for g in groups.values()}), sorted(set(people.values())))
    results: list[PollVote] = []
    rows: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for vote in votes:
        poll = polls.get(vote.poll_id) if vote.option_ids else None
        if poll is None and vote.option_ids and hold:
            held.append(_held_row(vote, now))
            results.append(PollVote(False, held=True))
            continue
        # The team's group now (its id changes when it becomes a supergroup).
        group = groups.get(poll.unit_id) if poll is not None else None
        if poll is None or group is None or not group.active:
            results.append(PollVote(False))
            continue
        person_id = people.get(vote.voter.telegram_id)
        if person_id is None or (group.id, person_id) not in members:
            if not vote.confirmed:
                results.append(PollVote(False, ask_chat_id=group.chat_id))
                continue
            person_id = (await _learn_member(session, vote.voter, group, now)).id or 0
            people[vote.voter.telegram_id] = person_id
            members.add((group.id or 0, person_id))
        rows.append(_answer_row(poll, person_id, vote.option_ids, bank, now))
        results.append(PollVote(True))
    await quiz_repo.record_answers(session, rows)
    await quiz_repo.hold_early_answers(session, held)
    return results


def _held_row(vote: PollVoteIn, now: datetime) -> dict[str, Any]:
    """The row that keeps a vote until its poll's id is known."""
    return {"poll_id": vote.poll_id, "telegram_id": vote.voter.telegram_id,
            "name": vote.voter.name[:200], "username": vote.voter.username,
            "language_code": vote.voter.language_code,
            "option_ids": ",".join(str(o) for o in vote.option_ids),
            "confirmed": vote.confirmed, "received_at": now}


IsGroupMember = Callable[[int, int], Awaitable[bool]]


async def record_early_answers(rt: Runtime, is_member: IsGroupMember, *,
                               bank: QuestionBank | None = None) -> int:
    """Record the held votes whose poll's id is now known; returns how many counted.

    ``is_member(chat_id, telegram_id)`` asks Telegram about a voter the bot has not
    seen in the group (as the chat edge does for a vote on time). A held vote is
    dropped only in the transaction that records it or finds it does not count, so a
    crash in between leaves it held, never lost.
    """
    the_bank = _bank(bank)
    async with rt.db.transaction() as session:
        early = await quiz_repo.early_answers_now_known(session)
        votes = [_held_vote(row) for row in early]
        results = await _record_votes(session, votes, rt.clock.now(), the_bank, hold=False)
        asking = [(row, vote, result.ask_chat_id) for row, vote, result
                  in zip(early, votes, results, strict=True) if result.ask_chat_id is not None]
        await quiz_repo.drop_early_answers(
            session, [row.id or 0 for row, result in zip(early, results, strict=True)
                      if result.ask_chat_id is None])
    counted = sum(result.recorded for result in results)
    if not asking:
        return counted
    confirmed = [replace(vote, confirmed=True) for _, vote, chat_id in asking
                 if chat_id is not None and await is_member(chat_id, vote.voter.telegram_id)]
    async with rt.db.transaction() as session:
        again = await _record_votes(session, confirmed, rt.clock.now(), the_bank, hold=False)
        await quiz_repo.drop_early_answers(session, [row.id or 0 for row, _, _ in asking])
    return counted + sum(result.recorded for result in again)


def _held_vote(row: EarlyPollAnswer) -> PollVoteIn:
    """A held vote as the chat edge first parsed it."""
    voter = Member(telegram_id=row.telegram_id, name=row.name, username=row.username,
                   language_code=row.language_code)
    options = tuple(int(o) for o in row.option_ids.split(",") if o.strip().isdigit())
    return PollVoteIn(voter, row.poll_id, options, row.confirmed)


async def forget_unclaimed_early_answers(rt: Runtime, older_than: timedelta) -> int:
    """Drop held votes whose poll never became known: it was not a daily quiz of ours."""
    async with rt.db.transaction() as session:
        return await quiz_repo.drop_early_answers_before(session, rt.clock.now() - older_than)


async def _learn_member(session: AsyncSession, voter: Member, group: GroupChat,
                        now: datetime) -> Person:
    """A voter Telegram confirmed is in the group: known from now on, as a member."""
    person = await people_repo.upsert_person(
        session, telegram_id=voter.telegram_id, name=voter.name, username=voter.username,
        language_code=voter.language_code, now=now)
    await org_repo.record_membership(session, chat=group, person=person, active=True, now=now)
    return person


def _answer_row(poll: QuizPoll, person_id: int, options: Sequence[int], bank: QuestionBank,
                now: datetime) -> dict[str, Any]:
    """The training-record row of one daily poll answer (one per person and poll).

    Right means exactly the correct options: all of them where a question has several.
    """
    question = bank.by_id(poll.question_id)
    correct = question.answers_correctly(options) if question is not None else \
        set(options) == {poll.correct_option}
    return {"person_id": person_id, "unit_id": poll.unit_id, "kind": KIND,
            "subject": poll.question_id, "result": "correct" if correct else "wrong",
            "detail": f"daily poll {poll.day}", "at": now,
            "dedupe_key": f"quiz:poll:{poll.id}:{person_id}"}


# ---------------------------------------------------------------- a private quiz


async def _history(session: AsyncSession, person_id: int, now: datetime) -> dict[str, Seen]:
    """What the worker answered lately: when each question was last seen, and how."""
    history: dict[str, Seen] = {}
    for entry in await training.entries_of(session, person_id, since=now - HISTORY,
                                           kinds=(KIND,)):
        history[entry.subject] = Seen(last_seen=entry.at, last_wrong=entry.result == "wrong")
    return history


async def start_session(rt: Runtime, actor: Actor, chat_id: int, topic_text: str = "", *,
                        bank: QuestionBank | None = None,
                        count: int = SESSION_QUESTIONS) -> QuizReply:
    """Begin a private quiz (optionally on one topic); a quiz in progress is replaced."""
    the_bank = _bank(bank)
    topic = None
    if topic_text.strip():
        topic = the_bank.find_topic(topic_text)
        if topic is None:
            return QuizReply(key="quiz.unknown_topic", values={"topics": ", ".join(
                f"{t.key} ({t.title(actor.language)})" for t in the_bank.topics)})
    # One button press answers a question here: questions with several right options
    # are asked in the daily poll, where a voter ticks all of them.
    pool = [q for q in the_bank.questions
            if q.single_answer and (topic is None or q.topic == topic.key)]
    if not pool:
        return QuizReply(key="quiz.empty")
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        current = await quiz_repo.active_session(session, actor.person_id)
        if current is not None and topic is None and current.chat_id == chat_id:
            # /quiz with a quiz in progress (its message scrolled away, the bot was
            # restarted): the question it stands at, again.
            return QuizReply(screens=[
                Screen(rt.renderer.html("quiz.resumed", current.language)),
                question_screen(rt.renderer, current, the_bank)])
        person = await people_repo.get_person(session, actor.telegram_id)
        # Person has no post yet in every deployment: then no post is preferred.
        post = getattr(person, "post", None)
        chosen = choose_questions(pool, count=count, now=now,
                                  history=await _history(session, actor.person_id, now),
                                  post=post if isinstance(post, str) else None,
                                  rng=random.Random(f"{actor.person_id}:{now.isoformat()}"))
        await quiz_repo.close_sessions(session, actor.person_id, status="replaced", now=now)
        quiz = QuizSession(person_id=actor.person_id, chat_id=chat_id,
                           unit_id=await _team_of(session, actor.person_id),
                           topic=topic.key if topic else None, language=actor.language,
                           question_ids=json.dumps([q.id for q in chosen]),
                           started_at=now, updated_at=now)
        session.add(quiz)
        await session.flush()
    intro = rt.renderer.html("quiz.started", actor.language, total=len(chosen),
                             topic=topic.title(actor.language) if topic else "")
    return QuizReply(screens=[Screen(intro), question_screen(rt.renderer, quiz, the_bank)])


def question_screen(renderer: Renderer, quiz: QuizSession, bank: QuestionBank) -> Screen:
    """The question a quiz stands at, with a button per option (A, B, C…)."""
    ids = _ids(quiz.question_ids)
    question = bank.by_id(ids[quiz.position])
    lang = quiz.language
    if question is None:  # removed from the bank since the quiz began
        return Screen(renderer.html("quiz.question_gone", lang), keyboard([[(
            renderer.plain("button.quiz_skip", lang),
            QuizAnswer(quiz.id or 0, quiz.round, quiz.position, 0))]]))
    wording = question.wording(lang)
    topic = bank.topic(question.topic)
    html = renderer.html(
        "quiz.question", lang, number=quiz.position + 1, total=len(ids), round=quiz.round,
        topic=topic.title(lang) if topic else question.topic, question=wording.question,
        options=[f"{LETTERS[i]}. {o}" for i, o in enumerate(wording.options)])
    buttons = [(LETTERS[i], QuizAnswer(quiz.id or 0, quiz.round, quiz.position, i))
               for i in range(len(wording.options))]
    rows = [buttons[i:i + 5] for i in range(0, len(buttons), 5)]
    return Screen(html, keyboard([list(r) for r in rows]))


async def answer(rt: Runtime, actor: Actor, press: QuizAnswer, *,
                 bank: QuestionBank | None = None) -> QuizReply:
    """Take an answer: record it, explain it, and show the next question or the score.

    Refused as stale: someone else's quiz, a quiz that ended, a question answered
    already (a second press, an old message's buttons), an option that does not exist.
    """
    the_bank = _bank(bank)
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        quiz = await quiz_repo.get_session(session, press.session_id)
        if quiz is None or quiz.person_id != actor.person_id or quiz.status != "active" \
                or (quiz.round, quiz.position) != (press.round, press.position):
            return QuizReply(key="quiz.stale")
        ids = _ids(quiz.question_ids)
        question = the_bank.by_id(ids[quiz.position]) if quiz.position < len(ids) else None
        lang = quiz.language
        feedback: Screen
        if question is None:
            feedback = Screen(rt.renderer.html("quiz.question_gone", lang))
        else:
            wording = question.wording(lang)
            if not 0 <= press.option < len(wording.options):
                return QuizReply(key="quiz.stale")
            correct = question.is_correct(press.option)
            await training.record(
                session, person_id=actor.person_id, unit_id=quiz.unit_id, kind=KIND,
                subject=question.id, result="correct" if correct else "wrong", at=now,
                dedupe_key=f"quiz:s:{quiz.id}:{quiz.round}:{quiz.position}",
                detail=f"quiz {quiz.id} round {quiz.round}")
            if correct:
                quiz.correct += 1
            else:
                quiz.wrong_ids = json.dumps([*_ids(quiz.wrong_ids), question.id])
            feedback = Screen(rt.renderer.html(
                "quiz.feedback", lang, number=quiz.position + 1, total=len(ids),
                question=wording.question,
                options=[f"{LETTERS[i]}. {o}" for i, o in enumerate(wording.options)],
                chosen=LETTERS[press.option], correct=correct,
                right=", ".join(LETTERS[i] for i in sorted(question.correct)),
                explanation=wording.explanation))
        quiz.position += 1
        quiz.updated_at = now
        screens = _after_answer(rt.renderer, quiz, the_bank, len(ids))
        session.add(quiz)
    return QuizReply(feedback=feedback, screens=screens)


def _after_answer(renderer: Renderer, quiz: QuizSession, bank: QuestionBank,
                  total: int) -> list[Screen]:
    """Move the quiz on: the next question, round 2 of the wrong ones, or the end."""
    lang = quiz.language
    if quiz.position < total:
        return [question_screen(renderer, quiz, bank)]
    wrong = _ids(quiz.wrong_ids)
    if quiz.round == 1 and wrong:
        quiz.first_correct, quiz.first_total = quiz.correct, total
        text = renderer.html("quiz.round_two", lang, correct=quiz.correct, total=total,
                             percent=percent(quiz.correct, total), wrong=len(wrong))
        quiz.round, quiz.position, quiz.correct = 2, 0, 0
        quiz.question_ids, quiz.wrong_ids = json.dumps(wrong), "[]"
        return [Screen(text), question_screen(renderer, quiz, bank)]
    quiz.status = "finished"
    if quiz.round == 1:
        return [Screen(renderer.html("quiz.finished", lang, correct=quiz.correct, total=total,
                                     percent=percent(quiz.correct, total)))]
    return [Screen(renderer.html(
        "quiz.finished_second", lang, correct=quiz.first_correct, total=quiz.first_total,
        percent=percent(quiz.first_correct, quiz.first_total), second=quiz.correct,
        retried=total))]


async def cancel_session(rt: Runtime, actor: Actor) -> bool:
    """/cancel: end the worker's quiz in progress. False when there was none."""
    async with rt.db.transaction() as session:
        return bool(await quiz_repo.close_sessions(session, actor.person_id,
                                                   status="cancelled", now=rt.clock.now()))


# ---------------------------------------------------------------- team results


async def team_stats(rt: Runtime, unit: Unit, group: GroupChat, lang: str, *,
                     bank: QuestionBank | None = None) -> Outcome:
    """/quizstats: the team's last 30 days — who took part, the average, the weakest topics."""
    the_bank = _bank(bank)
    now = rt.clock.now()
    async with rt.db.session() as session:
        entries = await quiz_repo.quiz_entries_of_unit(session, unit.id or 0,
                                                       now - STATS_PERIOD)
        members = await org_repo.active_members(session, group.id or 0)
    if not entries:
        return Outcome.done("quiz.stats_none", team=unit.name)
    people = {e.person_id for e in entries}
    right = sum(e.result == "correct" for e in entries)
    topics: list[tuple[str, bool]] = []
    for entry in entries:
        question = the_bank.by_id(entry.subject)
        if question is not None:
            topics.append((question.topic, entry.result == "correct"))
    weakest = []
    for result in weakest_topics(topics):
        topic = the_bank.topic(result.topic)
        weakest.append(f"{topic.title(lang) if topic else result.topic} {result.score}%")
    member_ids = {m.id for m in members}
    return Outcome.done("quiz.stats", team=unit.name, days=STATS_PERIOD.days,
                        participants=len(people), members=len(member_ids | people),
                        answers=len(entries), average=percent(right, len(entries)),
                        weakest=weakest)
