"""Safety quizzes: the daily quiz poll in the team group, a private /quiz, /quizstats."""

from __future__ import annotations

import asyncio
import json
from datetime import time, timedelta
from typing import Any

from sqlmodel import col, select

from content.quizzes import shipped_bank
from domain.quiz import Question, QuestionBank
from services.membership import Member
from services.quizzes import PollVoteIn, post_daily_polls, record_poll_answers
from storage import org as org_repo
from storage.models import EarlyPollAnswer, Person, QuizPoll, QuizSession, TrainingRecord
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import setup_plant
from tests.integration.test_meetings import DAY_SHIFT, briefings

LETTERS = "ABCDEFGHIJ"


def polls(group: Any) -> list[Any]:
    return [m for m in group.bot_messages() if "poll" in m.extra]


async def quiz_records(bot: BotUnderTest) -> list[TrainingRecord]:
    async with bot.services.db.session() as s:
        return list((await s.exec(select(TrainingRecord).where(TrainingRecord.kind == "quiz")
                                   .order_by(col(TrainingRecord.id)))).all())


def asked(message: Any) -> Question:
    """The bank question a private quiz message shows (found by its wording)."""
    for question in shipped_bank().questions:
        if any(w.question in (message.text or "") for w in question.wordings.values()):
            return question
    raise AssertionError(f"no question of the bank in {message.text!r}")


def pick(question: Question, right: bool) -> str:
    """The letter of a correct or a wrong option."""
    options = range(question.option_count)
    return LETTERS[next(i for i in options if question.is_correct(i) == right)]


async def test_daily_poll_answered_by_members_and_not_by_outsiders(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    welder = d.user("Welder Wang")
    group.add_member(welder, by=leader)
    outsider = d.user("Outsider Ou")
    outsider.start_bot()  # known to the bot, but not in the team's group
    await bot.settle()
    # Worker Wu never spoke in the group: the bot asks Telegram when he votes.

    bot.clock.advance(timedelta(minutes=89))  # 09:59
    await bot.run_sweeps()
    assert polls(group) == []
    bot.clock.advance(timedelta(minutes=1))  # 10:00, the quiz time
    await bot.run_sweeps()
    await bot.run_sweeps()  # once a day
    [message] = polls(group)
    poll = message.extra["poll"]
    assert poll["type"] == "quiz" and poll["is_anonymous"] is False
    assert poll["question"].startswith("📝 每日一题：") and poll["explanation"]
    question = next(q for q in shipped_bank().questions
                    if poll["question"].endswith(q.wording("zh").question))
    right = poll["correct_option_ids"]  # every right option (some questions have several)
    assert question.answers_correctly(right)
    wrong = next(i for i in range(question.option_count) if not question.is_correct(i))

    async with bot.services.db.session() as s:
        assert (await s.exec(select(Person).where(Person.telegram_id == worker.id))).first() \
            is None
    worker.answer_poll(message, right)
    leader.answer_poll(message, [wrong])
    welder.answer_poll(message, right)
    outsider.answer_poll(message, right)  # not a member: ignored
    await bot.settle()
    worker.answer_poll(message, [wrong])  # the same person again: nothing new
    await bot.settle()

    records = await quiz_records(bot)
    async with bot.services.db.session() as s:
        people_ids = {p.telegram_id: p.id for p in (await s.exec(select(Person))).all()}
    got = {(r.person_id, r.subject, r.result, r.unit_id) for r in records}
    assert got == {(people_ids[worker.id], question.id, "correct", ids["a"]),
                   (people_ids[leader.id], question.id, "wrong", ids["a"]),
                   (people_ids[welder.id], question.id, "correct", ids["a"])}

    # The leader sees the team's results; a worker is told who may.
    worker.send(group, "/quizstats")
    await bot.settle()
    assert last_text(group) == "只有本班组的班组长和上级可以查看测验成绩。"
    leader.send(group, "/quizstats")
    await bot.settle()
    stats = last_text(group)
    assert "参与：3/3 人，共答 3 题" in stats and "平均正确率：67%" in stats
    topic = shipped_bank().topic(question.topic)
    assert topic is not None and f"薄弱主题：{topic.title('zh')} 67%" in stats

    # The next day brings another question.
    bot.clock.advance(timedelta(days=1))
    await bot.run_sweeps()
    assert len(polls(group)) == 2
    async with bot.services.db.session() as s:
        days = (await s.exec(select(QuizPoll).order_by(col(QuizPoll.id)))).all()
    assert [p.day for p in days] == ["2026-11-23", "2026-11-24"]
    assert days[0].question_id != days[1].question_id


async def test_private_quiz_survives_a_restart_and_asks_the_missed_ones_again(
        bot: BotUnderTest) -> None:
    d = bot.driver
    worker = d.user("Worker Wu")
    worker.start_bot()
    chat = d.private_chat(worker)
    await bot.settle()
    worker.send(chat, "/quiz")
    await bot.settle()
    intro, first = d.private_messages(worker)[-2:]
    assert "共 5 题" in intro.text and first.buttons[0][:2] == ["A", "B"]

    answered: list[Question] = []
    message = first
    for number in range(5):
        if number == 2:  # the bot restarts in the middle of the quiz
            await bot.restart()
        question = asked(message)
        right = number not in (1, 3)  # two answered wrong
        worker.click(message, pick(question, right))
        await bot.settle()
        assert ("✅ 正确" if right else "❌ 错误") in message.text  # feedback in place
        assert question.wording("zh").explanation in message.text and message.buttons == []
        answered.append(question)
        message = d.private_messages(worker)[-1]
    assert len({q.id for q in answered}) == 5  # never the same question twice

    # Round 2: the two missed ones again.
    round_two = d.private_messages(worker)[-2]
    assert "第一轮得分：3/5（60%）" in round_two.text and "2 题" in round_two.text
    assert "第二轮" in message.text and asked(message).id == answered[1].id
    worker.click(message, pick(asked(message), True))
    await bot.settle()
    message = d.private_messages(worker)[-1]
    assert asked(message).id == answered[3].id
    worker.click(message, pick(asked(message), False))
    await bot.settle()
    assert d.private_messages(worker)[-1].text == \
        "🏁 测验结束：第一轮 3/5（60%），第二轮答对 1/2。"
    records = await quiz_records(bot)
    assert [r.result for r in records] == ["correct", "wrong", "correct", "wrong", "correct",
                                           "correct", "wrong"]
    assert all(r.unit_id is None for r in records)  # in no team yet

    # The finished quiz's buttons (an old message, a forged press) are refused politely.
    async with bot.services.db.session() as s:
        [quiz] = (await s.exec(select(QuizSession))).all()
    assert quiz.status == "finished"
    for data in (f"qz:{quiz.id}:2:1:0", f"qz:{quiz.id}:1:0:0", "qz:99999:1:0:0", "qz:x",
                 f"qz:{quiz.id}:1:0:99999999999"):
        cq = worker.click_data(first, data)
        await bot.settle()
        assert d.callback_answer(cq) == {
            "text": "这道题已经答过，或测验已经结束。发送 /quiz 开始新的测验。", "show_alert": True}
    assert len(await quiz_records(bot)) == 7


async def test_quiz_cancel_topics_and_someone_elses_buttons(bot: BotUnderTest) -> None:
    d = bot.driver
    worker, other = d.user("Worker Wu"), d.user("Other Ou")
    for person in (worker, other):
        person.start_bot()
    chat = d.private_chat(worker)
    worker.send(chat, "/quiz 没有的主题")
    await bot.settle()
    assert d.private_messages(worker)[-1].text.startswith("没有这个主题。可选：")
    worker.send(chat, "/quiz 消防安全")  # a topic by its title
    await bot.settle()
    question_message = d.private_messages(worker)[-1]
    assert "消防安全" in d.private_messages(worker)[-2].text
    assert asked(question_message).topic == "fire"

    # Someone else pressing this worker's button (forwarded, or forged) changes nothing.
    data = question_message.reply_markup["inline_keyboard"][0][0]["callback_data"]
    cq = other.click_data(question_message, data)
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert") is True
    assert question_message.buttons  # still waiting for its own worker

    # /quiz again resumes the quiz in progress; /cancel ends it (not a hazard report).
    worker.send(chat, "/quiz")
    await bot.settle()
    assert d.private_messages(worker)[-2].text == "继续你未完成的测验："
    resumed = d.private_messages(worker)[-1]
    assert asked(resumed).id == asked(question_message).id
    worker.send(chat, "/cancel")
    await bot.settle()
    assert last_text(chat) == "已结束本次测验，已答的题目已记入培训档案。"
    worker.send(chat, "/cancel")  # nothing left: the report's /cancel answers
    await bot.settle()
    assert "已结束本次测验" not in last_text(chat)
    cq = worker.click(resumed, "A")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text", "").startswith("这道题已经答过")

    # In a group, /quiz points to the private chat.
    group = d.group("Team", members=[worker], admins=[worker])
    group.add_bot(by=worker)
    worker.send(group, "/quiz")
    await bot.settle()
    assert last_text(group) == "请在与我的私聊中发送 /quiz 开始测验。"


async def test_votes_before_the_polls_id_is_recorded_are_held_then_counted(
        bot: BotUnderTest) -> None:
    """A fast voter's poll_answer can arrive while the sendPoll's answer is still on its
    way back: the vote waits for the poll's id, and counts once it is recorded."""
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    worker, leader = people["Worker Wu"], people["Leader Li"]  # Wu never spoke there
    bot.clock.advance(timedelta(minutes=90))  # 10:00, the quiz time
    held = bot.server.faults.add("sendPoll", hold=True)
    await bot.services.timetable.run_due()  # queued; the outbox sends it at once
    assert held.reached is not None and held.release is not None
    async with asyncio.timeout(10):
        await held.reached.wait()  # the poll is in the group; the bot has not heard back
    [message] = polls(group)
    right = message.extra["poll"]["correct_option_ids"]
    worker.answer_poll(message, right)
    leader.answer_poll(message, right)
    leader.answer_poll(message, right)  # delivered again: kept once
    await bot.until_handled()  # the outbox is still waiting for the poll's answer
    assert await quiz_records(bot) == []
    async with bot.services.db.session() as s:
        waiting = (await s.exec(select(EarlyPollAnswer))).all()
    assert sorted(w.telegram_id for w in waiting) == sorted([worker.id, leader.id])

    held.release.set()  # the sendPoll's answer arrives: the poll's id is recorded
    await bot.drain_outbox()  # after the pass that sent the poll has finished
    records = await quiz_records(bot)
    async with bot.services.db.session() as s:
        people_ids = {p.telegram_id: p.id for p in (await s.exec(select(Person))).all()}
        assert (await s.exec(select(EarlyPollAnswer))).all() == []
    assert sorted((r.person_id, r.result) for r in records) == sorted(
        [(people_ids[worker.id], "correct"), (people_ids[leader.id], "correct")])


async def test_a_held_vote_for_a_poll_never_known_is_dropped_after_two_days(
        bot: BotUnderTest) -> None:
    _, people, _ = await setup_plant(bot)
    worker = people["Worker Wu"]
    rt = bot.services.runtime()
    [vote] = await record_poll_answers(rt, [PollVoteIn(
        Member(worker.id, "Worker Wu"), "poll-of-someone-else", (0,))])
    assert vote.held and not vote.recorded
    await bot.run_sweeps()
    async with bot.services.db.session() as s:
        assert len((await s.exec(select(EarlyPollAnswer))).all()) == 1
    bot.clock.advance(timedelta(days=2, minutes=1))
    await bot.run_sweeps()
    async with bot.services.db.session() as s:
        assert (await s.exec(select(EarlyPollAnswer))).all() == []
    assert await quiz_records(bot) == []


async def test_a_team_set_to_quiz_with_the_briefing_gets_its_question_then(
        bot: BotUnderTest) -> None:
    """quiz_time "briefing" on a team: the question comes with the first briefing of the
    day (08:45 for a 09:00 shift), not at QUIZ_TIME; a workshop's clock time holds for
    its other teams."""
    _, _, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    async with bot.services.db.transaction() as s:
        team = await org_repo.get_unit_by_key(s, "team-a")
        workshop = await org_repo.get_unit_by_key(s, "ws")
        assert team is not None and workshop is not None
        team.extra_json = json.dumps({"shifts": DAY_SHIFT, "quiz_time": "briefing"},
                                     ensure_ascii=False)
        workshop.extra_json = json.dumps({"quiz_time": "15:00"})
        s.add_all([team, workshop])
    bot.clock.advance(timedelta(minutes=14))  # 08:44
    await bot.run_sweeps()
    assert polls(group) == []
    bot.clock.advance(timedelta(minutes=1))  # 08:45: the briefing, and the question
    await bot.run_sweeps()
    assert len(polls(group)) == 1 and len(briefings(group)) == 1
    bot.clock.advance(timedelta(hours=2))  # 10:45: QUIZ_TIME has passed; nothing more
    await bot.run_sweeps()
    assert len(polls(group)) == 1

    # Without its own setting the team follows the workshop: 15:00, not 10:00.
    async with bot.services.db.transaction() as s:
        team = await org_repo.get_unit_by_key(s, "team-a")
        assert team is not None
        team.extra_json = json.dumps({"shifts": DAY_SHIFT}, ensure_ascii=False)
        s.add(team)
    bot.clock.advance(timedelta(days=1) - timedelta(minutes=45))  # Tuesday 10:00
    await bot.run_sweeps()
    assert len(polls(group)) == 1
    bot.clock.advance(timedelta(hours=5))  # 15:00
    await bot.run_sweeps()
    assert len(polls(group)) == 2


async def test_a_question_with_several_right_options_is_right_only_with_all_of_them(
        bot: BotUnderTest) -> None:
    """A daily question with several right options: the poll lets a voter tick several,
    and the training record says right only for exactly the right ones."""
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    shipped = shipped_bank()
    fire = shipped.by_id("fi-07")
    assert fire is not None and sorted(fire.correct) == [0, 1, 3]
    only_fire = QuestionBank(questions=(fire,), topics=shipped.topics)
    async with bot.services.db.session() as s:
        teams = await org_repo.teams_with_groups(s)
    bot.clock.advance(timedelta(minutes=90))  # 10:00
    assert await post_daily_polls(bot.services.runtime(), teams, at=time(10),
                                  window=timedelta(hours=2), bank=only_fire) == 1
    await bot.drain_outbox()
    [message] = polls(group)
    poll = message.extra["poll"]
    assert poll["type"] == "quiz" and poll["allows_multiple_answers"] is True
    assert poll["correct_option_ids"] == [0, 1, 3]
    worker.answer_poll(message, [0, 1, 3])  # all of them
    leader.answer_poll(message, [0, 1])  # one missing: not right
    await bot.settle()
    async with bot.services.db.session() as s:
        ids = {p.telegram_id: p.id for p in (await s.exec(select(Person))).all()}
    results = {(r.person_id, r.result) for r in await quiz_records(bot)}
    assert results == {(ids[worker.id], "correct"), (ids[leader.id], "wrong")}


async def test_the_private_quiz_asks_only_one_answer_questions(bot: BotUnderTest) -> None:
    shipped = shipped_bank()
    several = {q.id for q in shipped.questions if not q.single_answer}
    assert several  # the shipped bank has some, for the daily poll
    await setup_plant(bot)
    d = bot.driver
    welder = d.user("Welder Wang")
    welder.start_bot()
    chat = d.private_chat(welder)
    for _ in range(3):  # the fire topic has six one-answer questions and one of several
        welder.send(chat, "/quiz fire")
        await bot.settle()
        welder.send(chat, "/cancel")
        await bot.settle()
    async with bot.services.db.session() as s:
        asked = {qid for q in (await s.exec(select(QuizSession))).all()
                 for qid in json.loads(q.question_ids)}
    assert asked and not asked & several
