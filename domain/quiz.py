"""Safety quizzes: the question bank's rules, choosing questions, scoring.

Pure functions only: the bank files are read by ``content/quizzes.py``, the
sessions and daily polls are kept by ``storage/quizzes.py``.

Telegram's quiz polls bound the texts (question 300, option 100, explanation 200
characters) and allow 2–10 options here; a bank that breaks a bound fails when
it is loaded, naming the file and the question, never when a poll is sent.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

LANGUAGES = ("zh", "en")
MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_QUESTION, MAX_OPTION, MAX_EXPLANATION = 300, 100, 200
# A worker does not see a question again within this time (unless the bank runs short).
REST = timedelta(days=14)
# How much more likely a question is: one tagged with the worker's post, one they got wrong.
POST_WEIGHT = 3.0
MISTAKE_WEIGHT = 4.0


class QuestionBankError(ValueError):
    """A question bank file that cannot be used; the message names file and question."""


@dataclass(frozen=True)
class Wording:
    """A question in one language."""

    question: str
    options: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class Question:
    """One question of a bank: its topic, tags, correct option(s) and its wording per language."""

    id: str
    topic: str
    tags: frozenset[str]
    correct: frozenset[int]
    wordings: Mapping[str, Wording] = field(compare=False)

    def wording(self, lang: str) -> Wording:
        """The question in ``lang``, or in Chinese when that language is missing."""
        return self.wordings.get(lang) or self.wordings[LANGUAGES[0]]

    @property
    def option_count(self) -> int:
        """How many options the question offers (the same in every language)."""
        return len(self.wordings[LANGUAGES[0]].options)

    def is_correct(self, option: int) -> bool:
        """Whether choosing ``option`` answers the question correctly."""
        return option in self.correct

    def answers_correctly(self, options: Iterable[int]) -> bool:
        """Whether choosing exactly ``options`` is right: every correct one, nothing else."""
        return frozenset(options) == self.correct

    @property
    def single_answer(self) -> bool:
        """A Telegram quiz poll has exactly one correct option."""
        return len(self.correct) == 1


@dataclass(frozen=True)
class Topic:
    """A bank file: its topic key and its title per language."""

    key: str
    titles: Mapping[str, str] = field(compare=False)

    def title(self, lang: str) -> str:
        """The topic's title in ``lang`` (the key when the file gives none)."""
        return self.titles.get(lang) or self.titles.get(LANGUAGES[0]) or self.key


@dataclass(frozen=True)
class QuestionBank:
    """Every question, by id, and the topics they belong to."""

    questions: tuple[Question, ...]
    topics: tuple[Topic, ...]
    _by_id: dict[str, Question] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update({q.id: q for q in self.questions})

    def by_id(self, question_id: str) -> Question | None:
        """The question with this id, or None (a question removed from the bank)."""
        return self._by_id.get(question_id)

    def topic(self, key: str) -> Topic | None:
        """The topic with this key, or None."""
        return next((t for t in self.topics if t.key == key), None)

    def find_topic(self, text: str) -> Topic | None:
        """The topic a user typed: its key or its title in any language, any case."""
        wanted = text.strip().casefold()
        for topic in self.topics:
            names = {topic.key.casefold(), *(t.casefold() for t in topic.titles.values())}
            if wanted in names:
                return topic
        return None


# ---------------------------------------------------------------- parsing


def _text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QuestionBankError(f"{what} is missing or empty")
    text = value.strip()
    if len(text) > limit:
        raise QuestionBankError(f"{what} is {len(text)} characters, at most {limit}")
    return text


def _wording(raw: Any, lang: str) -> Wording:
    if not isinstance(raw, Mapping):
        raise QuestionBankError(f"language {lang!r} is missing")
    options = raw.get("options")
    if not isinstance(options, list):
        raise QuestionBankError(f"{lang}: options must be a list")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise QuestionBankError(
            f"{lang}: {len(options)} options, a question needs {MIN_OPTIONS} to {MAX_OPTIONS}")
    return Wording(
        question=_text(raw.get("question"), f"{lang}: the question", MAX_QUESTION),
        options=tuple(_text(o, f"{lang}: option {i}", MAX_OPTION)
                      for i, o in enumerate(options)),
        explanation=_text(raw.get("explanation"), f"{lang}: the explanation", MAX_EXPLANATION))


def _correct(raw: Any, option_count: int) -> frozenset[int]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise QuestionBankError("correct must be an option index (from 0) or a list of them")
    for value in values:
        if not 0 <= value < option_count:
            raise QuestionBankError(
                f"correct option {value} does not exist (options are 0 to {option_count - 1})")
    return frozenset(values)


def _tags(raw: Any) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise QuestionBankError("tags must be a list of words")
    return frozenset(raw)


def parse_question(raw: Any, topic: str, topic_tags: frozenset[str]) -> Question:
    """One question of a bank file.

    Raises:
        QuestionBankError: what is wrong, naming the question when it has an id.
    """
    if not isinstance(raw, Mapping):
        raise QuestionBankError("a question must be a mapping")
    qid = raw.get("id")
    if not isinstance(qid, str) or not qid.strip() or ":" in qid or len(qid) > 40:
        raise QuestionBankError(f"question id {qid!r} must be a word of at most 40 characters")
    try:
        wordings = {lang: _wording(raw.get(lang), lang) for lang in LANGUAGES}
        counts = {len(w.options) for w in wordings.values()}
        if len(counts) != 1:
            raise QuestionBankError("the languages have different numbers of options")
        return Question(id=qid, topic=topic, tags=topic_tags | _tags(raw.get("tags")),
                        correct=_correct(raw.get("correct"), counts.pop()), wordings=wordings)
    except QuestionBankError as exc:
        raise QuestionBankError(f"question {qid}: {exc}") from exc


def parse_bank_file(data: Any) -> tuple[Topic, list[Question]]:
    """A bank file's topic and questions (without the file name in errors; the loader adds it)."""
    if not isinstance(data, Mapping):
        raise QuestionBankError("a bank file must be a mapping with topic and questions")
    topic = data.get("topic")
    if not isinstance(topic, str) or not topic.strip():
        raise QuestionBankError("topic is missing")
    titles = data.get("title") or {}
    if not isinstance(titles, Mapping):
        raise QuestionBankError("title must map languages to titles")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise QuestionBankError("questions are missing")
    tags = _tags(data.get("tags"))
    questions = [parse_question(q, topic, tags) for q in raw_questions]
    return Topic(topic, {str(k): str(v) for k, v in titles.items()}), questions


def build_bank(files: Iterable[tuple[str, Any]]) -> QuestionBank:
    """A bank from (file name, parsed YAML) pairs; errors name the file and the question.

    Raises:
        QuestionBankError: a file is invalid, or two questions share an id.
    """
    questions: list[Question] = []
    topics: list[Topic] = []
    seen: dict[str, str] = {}
    for name, data in files:
        try:
            topic, found = parse_bank_file(data)
        except QuestionBankError as exc:
            raise QuestionBankError(f"{name}: {exc}") from exc
        for question in found:
            if question.id in seen:
                raise QuestionBankError(
                    f"{name}: question {question.id}: the id is used in {seen[question.id]} too")
            seen[question.id] = name
        topics.append(topic)
        questions.extend(found)
    return QuestionBank(tuple(questions), tuple(topics))


# ---------------------------------------------------------------- choosing


@dataclass(frozen=True)
class Seen:
    """What one worker (or team) did with one question before."""

    last_seen: datetime
    last_wrong: bool = False


def choose_questions(bank: Sequence[Question], *, count: int, now: datetime,
                     history: Mapping[str, Seen], post: str | None = None,
                     rng: random.Random, rest: timedelta = REST) -> list[Question]:
    """``count`` different questions for one worker, drawn at random with weights.

    A question seen within ``rest`` is left out while others remain (the oldest seen
    fill in when the bank runs short); a question tagged with the worker's ``post``
    weighs ``POST_WEIGHT`` times more, one they last got wrong ``MISTAKE_WEIGHT``
    times more (both: the product). No post means no preference.
    """
    if count <= 0 or not bank:
        return []
    fresh = [q for q in bank if q.id not in history or now - history[q.id].last_seen >= rest]
    chosen = _weighted_sample(fresh, min(count, len(fresh)), history, post, rng)
    if len(chosen) < count:
        # Not enough rested questions: the longest unseen come back first.
        recent = sorted((q for q in bank if q not in chosen and q not in fresh),
                        key=lambda q: (history[q.id].last_seen, q.id))
        chosen.extend(recent[:count - len(chosen)])
    return chosen


def weight(question: Question, history: Mapping[str, Seen], post: str | None) -> float:
    """How likely a question is to be drawn, relative to a plain one (1.0)."""
    value = 1.0
    if post and post in question.tags:
        value *= POST_WEIGHT
    seen = history.get(question.id)
    if seen is not None and seen.last_wrong:
        value *= MISTAKE_WEIGHT
    return value


def _weighted_sample(pool: Sequence[Question], count: int, history: Mapping[str, Seen],
                     post: str | None, rng: random.Random) -> list[Question]:
    """Draw without replacement: each draw picks in proportion to the weights left."""
    left = list(pool)
    weights = [weight(q, history, post) for q in left]
    chosen: list[Question] = []
    for _ in range(count):
        point = rng.random() * sum(weights)
        index = 0
        while index < len(left) - 1 and point >= weights[index]:
            point -= weights[index]
            index += 1
        chosen.append(left.pop(index))
        weights.pop(index)
    return chosen


# ---------------------------------------------------------------- scoring


def percent(correct: int, total: int) -> int:
    """A score in whole percent (0 when nothing was answered)."""
    return round(100 * correct / total) if total else 0


@dataclass(frozen=True)
class TopicResult:
    """How a team did on one topic."""

    topic: str
    answers: int
    correct: int

    @property
    def score(self) -> int:
        """Correct answers in whole percent."""
        return percent(self.correct, self.answers)


def weakest_topics(answers: Iterable[tuple[str, bool]], *, limit: int = 3) -> list[TopicResult]:
    """The topics answered worst, from (topic, correct) pairs: lowest score first.

    Ties go to the topic with more answers (a surer sign), then by name.
    """
    totals: dict[str, list[int]] = {}
    for topic, correct in answers:
        entry = totals.setdefault(topic, [0, 0])
        entry[0] += 1
        entry[1] += int(correct)
    results = [TopicResult(t, n, c) for t, (n, c) in totals.items()]
    results.sort(key=lambda r: (r.score, -r.answers, r.topic))
    return [r for r in results if r.correct < r.answers][:limit]
