"""Quiz rules: the question bank's validation, choosing questions, scoring."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from content.quizzes import SHIPPED_QUIZZES, load_question_banks, shipped_bank
from domain.quiz import (
    LANGUAGES,
    Question,
    QuestionBankError,
    Seen,
    Wording,
    build_bank,
    choose_questions,
    percent,
    weakest_topics,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def good_question(qid: str = "q-1") -> dict[str, Any]:
    return {"id": qid, "tags": ["welder"], "correct": 1,
            "zh": {"question": "问题？", "options": ["甲", "乙", "丙"], "explanation": "因为"},
            "en": {"question": "Question?", "options": ["A", "B", "C"],
                   "explanation": "Because"}}


def bank_file(*questions: dict[str, Any]) -> dict[str, Any]:
    return {"topic": "fire", "title": {"zh": "消防", "en": "Fire"},
            "questions": list(questions) or [good_question()]}


def error_of(data: Any, name: str = "fire.yaml") -> str:
    with pytest.raises(QuestionBankError) as caught:
        build_bank([(name, data)])
    return str(caught.value)


def test_the_shipped_bank_is_valid_and_large_enough() -> None:
    bank = shipped_bank()
    assert len(bank.questions) >= 40
    assert {t.key for t in bank.topics} >= {"ppe", "hot_work", "confined_space", "electrical",
                                            "chemicals", "fire", "first_aid", "rights"}
    for question in bank.questions:
        assert set(question.wordings) == set(LANGUAGES)
    # Most are asked in private quizzes too (one button press); a few have several
    # right options, for the daily poll.
    several = [q for q in bank.questions if not q.single_answer]
    assert 0 < len(several) < len(bank.questions) // 4


def test_a_good_file_loads() -> None:
    bank = build_bank([("fire.yaml", bank_file())])
    [question] = bank.questions
    assert question.topic == "fire" and question.tags == {"welder"}
    assert question.correct == {1} and question.wording("en").options == ("A", "B", "C")
    assert question.wording("fr").question == "问题？"  # no such language: Chinese
    assert bank.find_topic("消防") == bank.find_topic("FIRE") == bank.topics[0]
    assert bank.find_topic("water") is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda q: q.update(correct=3), "fire.yaml: question q-1: correct option 3 does not exist"),
    (lambda q: q.update(correct=-1), "fire.yaml: question q-1: correct option -1"),
    (lambda q: q.update(correct="B"), "fire.yaml: question q-1: correct must be an option"),
    (lambda q: q.update(correct=[0, 7]), "fire.yaml: question q-1: correct option 7"),
    (lambda q: q.pop("en"), "fire.yaml: question q-1: language 'en' is missing"),
    (lambda q: q["zh"].pop("explanation"), "fire.yaml: question q-1: zh: the explanation"),
    (lambda q: q["en"].update(question=""), "fire.yaml: question q-1: en: the question is"),
    (lambda q: (q["zh"].update(options=["甲"]), q["en"].update(options=["A"])),
     "fire.yaml: question q-1: zh: 1 options, a question needs 2 to 10"),
    (lambda q: (q["zh"].update(options=[str(i) for i in range(11)]),
                q["en"].update(options=[str(i) for i in range(11)])),
     "fire.yaml: question q-1: zh: 11 options, a question needs 2 to 10"),
    (lambda q: q["en"].update(options=["A", "B"]),
     "fire.yaml: question q-1: the languages have different numbers of options"),
    (lambda q: q["en"].update(options=["A", "B", "x" * 101]),
     "fire.yaml: question q-1: en: option 2 is 101 characters, at most 100"),
    (lambda q: q["en"].update(explanation="x" * 201),
     "fire.yaml: question q-1: en: the explanation is 201 characters, at most 200"),
    (lambda q: q.update(tags="welder"), "fire.yaml: question q-1: tags must be a list"),
])
def test_each_mistake_names_the_file_and_the_question(change: Any, message: str) -> None:
    question = copy.deepcopy(good_question())
    change(question)
    assert error_of(bank_file(question)).startswith(message)


def test_mistakes_in_the_file_itself_are_named() -> None:
    assert error_of({"questions": [good_question()]}) == "fire.yaml: topic is missing"
    assert error_of({"topic": "fire"}) == "fire.yaml: questions are missing"
    assert error_of(["not", "a", "mapping"]).startswith("fire.yaml: a bank file must be")
    assert error_of(bank_file({**good_question(), "id": "a:b"})).startswith(
        "fire.yaml: question id 'a:b'")
    with pytest.raises(QuestionBankError, match=r"^other\.yaml: question q-1: the id is used "
                                                r"in fire\.yaml too$"):
        build_bank([("fire.yaml", bank_file()), ("other.yaml", bank_file())])


def test_the_loader_names_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "a_good.yaml").write_text(yaml.safe_dump(bank_file(), allow_unicode=True),
                                          encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("topic: [unclosed\n", encoding="utf-8")
    with pytest.raises(QuestionBankError, match=r"^broken.yaml: not valid YAML"):
        load_question_banks(tmp_path)
    (tmp_path / "broken.yaml").unlink()
    assert len(load_question_banks(tmp_path).questions) == 1
    assert load_question_banks(tmp_path / "missing").questions == ()
    assert SHIPPED_QUIZZES.is_dir()


# ---------------------------------------------------------------- choosing


def question(qid: str, tags: tuple[str, ...] = ()) -> Question:
    wording = Wording("Q?", ("A", "B"), "E")
    return Question(id=qid, topic="t", tags=frozenset(tags), correct=frozenset({0}),
                    wordings={"zh": wording, "en": wording})


POOL = [question(f"q{i}") for i in range(10)]


def test_a_question_seen_lately_is_not_asked_again_while_others_remain() -> None:
    history = {f"q{i}": Seen(last_seen=NOW - timedelta(days=1)) for i in range(7)}
    for seed in range(30):
        chosen = choose_questions(POOL, count=3, now=NOW, history=history,
                                  rng=random.Random(seed))
        assert {q.id for q in chosen} == {"q7", "q8", "q9"}


def test_when_the_bank_runs_short_the_longest_unseen_come_back() -> None:
    history = {f"q{i}": Seen(last_seen=NOW - timedelta(days=i)) for i in range(10)}
    chosen = choose_questions(POOL, count=3, now=NOW, history=history, rng=random.Random(1),
                              rest=timedelta(days=30))
    assert [q.id for q in chosen] == ["q9", "q8", "q7"]
    assert len(choose_questions(POOL, count=50, now=NOW, history={},
                                rng=random.Random(1))) == 10
    assert choose_questions(POOL, count=0, now=NOW, history={}, rng=random.Random(1)) == []


def test_a_rested_question_is_asked_again() -> None:
    history = {q.id: Seen(last_seen=NOW - timedelta(days=15)) for q in POOL}
    assert len(choose_questions(POOL, count=10, now=NOW, history=history,
                                rng=random.Random(3))) == 10


def _first_picks(history: dict[str, Seen], post: str | None, pool: list[Question]) -> float:
    hits = 0
    for seed in range(2000):
        [picked] = choose_questions(pool, count=1, now=NOW, history=history, post=post,
                                    rng=random.Random(seed))
        hits += picked.id == "q0"
    return hits / 2000


def test_the_workers_post_and_past_mistakes_weigh_more() -> None:
    pool = [question("q0", ("welder",)), *POOL[1:]]
    plain = _first_picks({}, None, pool)
    assert 0.05 < plain < 0.15  # one in ten without a preference
    welder = _first_picks({}, "welder", pool)
    assert 0.2 < welder < 0.35  # 3 / 12
    assert _first_picks({}, "electrician", pool) == pytest.approx(plain, abs=0.03)
    wrong_long_ago = {"q0": Seen(last_seen=NOW - timedelta(days=20), last_wrong=True)}
    mistakes = _first_picks(wrong_long_ago, None, pool)
    assert 0.25 < mistakes < 0.4  # 4 / 13
    right_long_ago = {"q0": Seen(last_seen=NOW - timedelta(days=20), last_wrong=False)}
    assert _first_picks(right_long_ago, None, pool) == pytest.approx(plain, abs=0.03)


def test_the_same_seed_chooses_the_same_questions() -> None:
    first = choose_questions(POOL, count=5, now=NOW, history={}, rng=random.Random("u1"))
    again = choose_questions(POOL, count=5, now=NOW, history={}, rng=random.Random("u1"))
    assert first == again and len({q.id for q in first}) == 5


# ---------------------------------------------------------------- scoring


def test_scores_and_weakest_topics() -> None:
    assert percent(2, 3) == 67 and percent(0, 0) == 0 and percent(5, 5) == 100
    answers = [("fire", True), ("fire", False), ("ppe", False), ("ppe", False),
               ("rights", True), ("hot", False)]
    weakest = weakest_topics(answers)
    assert [(r.topic, r.score, r.answers) for r in weakest] == [
        ("ppe", 0, 2), ("hot", 0, 1), ("fire", 50, 2)]
    assert weakest_topics([("rights", True)]) == []  # nothing answered wrong
    assert len(weakest_topics(answers, limit=1)) == 1
