"""Risk notification cards: the file format, which cards a team gets, the shipped file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from content.risk_cards import SHIPPED_RISK_CARDS, load_risk_cards
from domain.risk_cards import RiskCardError, RiskLevel, cards_for, parse_risk_cards, unknown_units
from services.orgfile import iter_units, parse_org

EXAMPLE_ORG = Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml"


def card(card_id: str, units: list[str], level: str = "general", **extra: object) -> dict:
    base: dict[str, object] = {
        "id": card_id, "units": units, "level": level, "post": {"zh": "焊工", "en": "Welder"},
        "factors": {"zh": ["明火"]}, "accidents": {"zh": ["火灾"], "en": ["Fire"]},
        "measures": {"zh": ["办票", "清理可燃物", "配灭火器"]}, "report": {"zh": "报告班组长"}}
    base.update(extra)
    return base


def test_cards_of_a_team_come_from_its_own_key_and_every_unit_above() -> None:
    cards = parse_risk_cards({"cards": [
        card("low-one", ["team-a"], "low"), card("ws-wide", ["ws"], "major"),
        card("other", ["team-b"], "significant")]})
    found = cards_for(cards, ["acme", "ws", "team-a"])
    assert [c.id for c in found] == ["ws-wide", "low-one"]  # highest level first
    assert cards_for(cards, ["acme", "ws2", "team-c"]) == []
    assert found[0].level is RiskLevel.MAJOR


def test_a_text_falls_back_to_chinese() -> None:
    [only] = parse_risk_cards({"cards": [card("w", ["t"])]})
    assert only.text("post", "en") == "Welder"
    assert only.text("measures", "en") == ("办票", "清理可燃物", "配灭火器")
    assert only.text("accidents", "en") == ("Fire",)


@pytest.mark.parametrize(("data", "message"), [
    ({"cards": "no"}, "needs a list under 'cards'"),
    ({"cards": [{"units": ["t"]}]}, "card 1: needs an id"),
    ({"cards": [card("a", ["t"]), card("a", ["t"])]}, "card a: the id is used twice"),
    ({"cards": [card("a", [])]}, "card a: units must list unit keys"),
    ({"cards": [card("a", ["t"], "extreme")]}, "card a: level must be one of major"),
    ({"cards": [card("a", ["t"], post={"en": "Welder"})]}, "card a: post needs at least a zh"),
    ({"cards": [card("a", ["t"], post={"zh": "焊工", "fr": "Soudeur"})]},
     "card a: post has unknown language 'fr'"),
    ({"cards": [card("a", ["t"], measures={"zh": []})]}, "card a: measures.zh must list texts"),
    ({"cards": [card("a", ["t"], report={"zh": "  "})]}, "card a: report.zh must be a text"),
])
def test_bad_card_files_say_where_and_why(data: object, message: str) -> None:
    with pytest.raises(RiskCardError, match=message):
        parse_risk_cards(data)


def test_a_missing_file_means_no_cards_and_bad_yaml_names_the_file(tmp_path: Path) -> None:
    assert load_risk_cards(tmp_path / "none.yaml") == []
    bad = tmp_path / "cards.yaml"
    bad.write_text("cards: [\n", encoding="utf-8")
    with pytest.raises(RiskCardError, match=r"cards\.yaml: not valid YAML"):
        load_risk_cards(bad)


def test_the_shipped_cards_fit_the_example_organisation() -> None:
    cards = load_risk_cards(SHIPPED_RISK_CARDS)
    assert len(cards) >= 3
    org = parse_org(EXAMPLE_ORG.read_text(encoding="utf-8"), "org.yaml")
    assert unknown_units(cards, [u.key for u, _ in iter_units(org)]) == []
    for one in cards:  # every card is written in both languages
        for field in ("post", "factors", "accidents", "measures", "report"):
            assert set(getattr(one, field)) == {"zh", "en"}, (one.id, field)
    assert yaml.safe_load(SHIPPED_RISK_CARDS.read_text(encoding="utf-8"))["cards"]


def test_a_bad_card_file_stops_the_bot_at_configuration(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from bot.settings import Settings

    bad = tmp_path / "cards.yaml"
    bad.write_text("cards:\n  - id: x\n    units: [t]\n    level: extreme\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"cards\.yaml: card x: level must be one of"):
        Settings(risk_cards_file=bad, _env_file=None)
