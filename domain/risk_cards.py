"""Risk notification cards (岗位风险告知卡): the main risks of a post, per unit.

A card names a post, its hazard factors, the accidents they lead to, the risk
level, the prevention and emergency measures, and how to report. Cards apply
to units by key; a card for a workshop applies to every team below it. The
pre-shift briefing shows the cards of its team, the highest level first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.language import SUPPORTED_LANGUAGES


class RiskCardError(ValueError):
    """A risk card file that cannot be used; the message says where and why."""


class RiskLevel(StrEnum):
    """The four-colour risk levels (红橙黄蓝), highest first."""

    MAJOR = "major"              # 重大风险, red
    SIGNIFICANT = "significant"  # 较大风险, orange
    GENERAL = "general"          # 一般风险, yellow
    LOW = "low"                  # 低风险, blue

    @property
    def rank(self) -> int:
        """0 for the highest level."""
        return list(RiskLevel).index(self)


@dataclass(frozen=True)
class RiskCard:
    """One post's risk notification card, in every language it was written in."""

    id: str
    units: tuple[str, ...]
    level: RiskLevel
    post: Mapping[str, str]
    factors: Mapping[str, tuple[str, ...]]
    accidents: Mapping[str, tuple[str, ...]]
    measures: Mapping[str, tuple[str, ...]]
    report: Mapping[str, str]

    def text(self, field: str, lang: str) -> Any:
        """A field in ``lang``, else in Chinese (every card has Chinese)."""
        values: Mapping[str, Any] = getattr(self, field)
        return values.get(lang) or values["zh"]


def _texts(card_id: str, name: str, value: Any, *, many: bool) -> dict[str, Any]:
    if not isinstance(value, dict) or "zh" not in value:
        raise RiskCardError(f"card {card_id}: {name} needs at least a zh text")
    texts: dict[str, Any] = {}
    for lang, text in value.items():
        if lang not in SUPPORTED_LANGUAGES:
            raise RiskCardError(f"card {card_id}: {name} has unknown language {lang!r}")
        if many:
            items = [text] if isinstance(text, str) else text
            if not isinstance(items, list) or not items or \
                    not all(isinstance(i, str) and i.strip() for i in items):
                raise RiskCardError(f"card {card_id}: {name}.{lang} must list texts")
            texts[lang] = tuple(i.strip() for i in items)
        else:
            if not isinstance(text, str) or not text.strip():
                raise RiskCardError(f"card {card_id}: {name}.{lang} must be a text")
            texts[lang] = text.strip()
    return texts


def parse_risk_cards(data: Any) -> list[RiskCard]:
    """The cards of a risk card file (already YAML-decoded).

    Raises:
        RiskCardError: a missing field, an unknown level, a duplicate id.
    """
    if data is None:
        return []
    items = data.get("cards") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RiskCardError("the file needs a list under 'cards'")
    cards: list[RiskCard] = []
    seen: set[str] = set()
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise RiskCardError(f"card {number}: needs an id")
        card_id = item["id"]
        if card_id in seen:
            raise RiskCardError(f"card {card_id}: the id is used twice")
        seen.add(card_id)
        units = item.get("units")
        if not isinstance(units, list) or not units or \
                not all(isinstance(u, str) for u in units):
            raise RiskCardError(f"card {card_id}: units must list unit keys")
        try:
            level = RiskLevel(str(item.get("level")))
        except ValueError:
            raise RiskCardError(f"card {card_id}: level must be one of "
                                f"{', '.join(level.value for level in RiskLevel)}") from None
        cards.append(RiskCard(
            id=card_id, units=tuple(units), level=level,
            post=_texts(card_id, "post", item.get("post"), many=False),
            factors=_texts(card_id, "factors", item.get("factors"), many=True),
            accidents=_texts(card_id, "accidents", item.get("accidents"), many=True),
            measures=_texts(card_id, "measures", item.get("measures"), many=True),
            report=_texts(card_id, "report", item.get("report"), many=False)))
    return cards


def cards_for(cards: Iterable[RiskCard], unit_keys: Iterable[str]) -> list[RiskCard]:
    """The cards that apply to a unit, given the keys of the unit and its ancestors.

    Highest level first; within a level, in file order.
    """
    keys = set(unit_keys)
    found = [card for card in cards if keys.intersection(card.units)]
    return sorted(found, key=lambda card: card.level.rank)


def unknown_units(cards: Iterable[RiskCard], known_keys: Iterable[str]) -> list[str]:
    """Unit keys named by cards that the organisation does not have (for a warning)."""
    known = set(known_keys)
    return sorted({key for card in cards for key in card.units if key not in known})
