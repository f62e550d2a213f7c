"""The cards of a post (两单两卡): what every worker of the post must know.

One file per post (``content/post_cards/<post>.yaml``; the file name is the post key
of the org file). It holds four cards, each acknowledged by the worker:

- ``risk``: the risk notification card (风险告知卡): hazard factors, accident types,
  the risk level, prevention measures, emergency measures and how to report;
- ``duty``: the duty list (岗位职责清单);
- ``operation``: the operation card (岗位操作卡), the steps in order;
- ``emergency``: the emergency card (应急处置卡);

plus a short ``mnemonic`` (口诀) and two or more check ``questions`` (each with 2 to 6
options, the correct ``answer`` counted from 0, and an explanation). Every text is
given in Chinese (``zh``) and may be given in English (``en``); the options of a
question must be as many in every language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from domain.language import SUPPORTED_LANGUAGES
from domain.risk_cards import RiskLevel

CardKind = Literal["risk", "duty", "operation", "emergency"]
CARD_KINDS: tuple[CardKind, ...] = ("risk", "duty", "operation", "emergency")
RISK_FIELDS = ("factors", "accidents", "measures", "emergency", "report")
MIN_QUESTIONS, MAX_OPTIONS = 2, 6


class PostCardError(ValueError):
    """A post card file that cannot be used; the message names the field and why."""


Texts = Mapping[str, str]
Lists = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class CheckQuestion:
    """A check question on one card: options per language, the correct one's index."""

    card: CardKind
    question: Texts
    options: Lists
    answer: int
    explanation: Texts


@dataclass(frozen=True)
class PostCards:
    """All cards of one post, in every language they were written in."""

    post: str
    name: Texts
    level: RiskLevel
    risk: Mapping[str, Any]  # field -> texts (lists, except ``report``)
    duty: Lists
    operation: Lists
    emergency: Lists
    mnemonic: Texts
    questions: tuple[CheckQuestion, ...]

    def text(self, values: Mapping[str, Any], lang: str) -> Any:
        """A text (or list) in ``lang``, else in Chinese (every text has Chinese)."""
        return values.get(lang) or values["zh"]

    def name_in(self, lang: str) -> str:
        """The post's name in ``lang``."""
        return str(self.text(self.name, lang))


def _texts(where: str, value: Any, *, many: bool) -> dict[str, Any]:
    if not isinstance(value, dict) or "zh" not in value:
        raise PostCardError(f"{where}: needs at least a zh text")
    texts: dict[str, Any] = {}
    for lang, text in value.items():
        if lang not in SUPPORTED_LANGUAGES:
            raise PostCardError(f"{where}: unknown language {lang!r}")
        if many:
            if not isinstance(text, list) or not text or \
                    not all(isinstance(i, str) and i.strip() for i in text):
                raise PostCardError(f"{where}.{lang}: must list texts")
            texts[lang] = tuple(i.strip() for i in text)
        else:
            if not isinstance(text, str) or not text.strip():
                raise PostCardError(f"{where}.{lang}: must be a text")
            texts[lang] = text.strip()
    return texts


def _question(number: int, item: Any) -> CheckQuestion:
    where = f"questions[{number}]"
    if not isinstance(item, dict):
        raise PostCardError(f"{where}: must be a mapping")
    unknown = set(item) - {"card", "question", "options", "answer", "explanation"}
    if unknown:
        raise PostCardError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    card = item.get("card")
    if card not in CARD_KINDS:
        raise PostCardError(f"{where}.card: must be one of {', '.join(CARD_KINDS)}")
    options = _texts(f"{where}.options", item.get("options"), many=True)
    counts = {len(texts) for texts in options.values()}
    if len(counts) != 1:
        raise PostCardError(f"{where}.options: every language needs as many options")
    count = counts.pop()
    if not 2 <= count <= MAX_OPTIONS:
        raise PostCardError(f"{where}.options: 2 to {MAX_OPTIONS} options")
    answer = item.get("answer")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < count:
        raise PostCardError(f"{where}.answer: must be an option's index, 0 to {count - 1}")
    return CheckQuestion(card=card, question=_texts(f"{where}.question", item.get("question"),
                                                    many=False),
                         options=options, answer=answer,
                         explanation=_texts(f"{where}.explanation", item.get("explanation"),
                                            many=False))


def parse_post_cards(post: str, data: Any) -> PostCards:
    """The cards of one post's file (already YAML-decoded).

    Raises:
        PostCardError: a missing or malformed field, named by its path.
    """
    if not isinstance(data, dict):
        raise PostCardError("the file must be a mapping")
    unknown = set(data) - {"post", "level", "risk", *CARD_KINDS[1:], "mnemonic", "questions"}
    if unknown:
        raise PostCardError(f"unknown field {sorted(unknown)[0]!r}")
    try:
        level = RiskLevel(str(data.get("level")))
    except ValueError:
        raise PostCardError("level: must be one of "
                            f"{', '.join(item.value for item in RiskLevel)}") from None
    risk_data = data.get("risk")
    if not isinstance(risk_data, dict):
        raise PostCardError("risk: must be a mapping of " + ", ".join(RISK_FIELDS))
    risk = {name: _texts(f"risk.{name}", risk_data.get(name), many=name != "report")
            for name in RISK_FIELDS}
    items = data.get("questions")
    if not isinstance(items, list) or len(items) < MIN_QUESTIONS:
        raise PostCardError(f"questions: list at least {MIN_QUESTIONS} check questions")
    return PostCards(
        post=post, name=_texts("post", data.get("post"), many=False), level=level, risk=risk,
        duty=_texts("duty", data.get("duty"), many=True),
        operation=_texts("operation", data.get("operation"), many=True),
        emergency=_texts("emergency", data.get("emergency"), many=True),
        mnemonic=_texts("mnemonic", data.get("mnemonic"), many=False),
        questions=tuple(_question(number, item) for number, item in enumerate(items, 1)))


def find_post(cards: Mapping[str, PostCards], text: str) -> str | None:
    """The post key a leader typed: the key itself or the post's name in any language."""
    wanted = text.strip().lower()
    if wanted in cards:
        return wanted
    for key, post in cards.items():
        if wanted in (name.lower() for name in post.name.values()):
            return key
    return None
