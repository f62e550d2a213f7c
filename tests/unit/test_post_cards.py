"""The post cards (两单两卡): the shipped files load; mistakes name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from content.post_cards import SHIPPED_POST_CARDS, load_post_cards
from domain.post_cards import CARD_KINDS, PostCardError, find_post, parse_post_cards

WELDER = SHIPPED_POST_CARDS / "welder.yaml"


def welder() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WELDER.read_text(encoding="utf-8"))
    return data


def test_the_shipped_posts_have_every_card_in_both_languages() -> None:
    cards = load_post_cards(SHIPPED_POST_CARDS)
    assert {"welder", "electrician", "forklift-driver", "chemical-operator"} <= set(cards)
    for post in cards.values():
        assert set(post.name) == {"zh", "en"}
        for kind in CARD_KINDS[1:]:
            texts = getattr(post, kind)
            assert set(texts) == {"zh", "en"} and len(texts["zh"]) >= 3
        assert all(set(texts) == {"zh", "en"} for texts in post.risk.values())
        assert 2 <= len(post.questions) <= 3
        for question in post.questions:
            assert len(question.options["zh"]) == len(question.options["en"])


def test_find_post_takes_the_key_or_a_name() -> None:
    cards = load_post_cards(SHIPPED_POST_CARDS)
    assert find_post(cards, "welder") == "welder"
    assert find_post(cards, "电工") == "electrician"
    assert find_post(cards, "Forklift driver") == "forklift-driver"
    assert find_post(cards, "astronaut") is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["questions"][1].update(answer=3), "questions[2].answer"),
    (lambda d: d["questions"][0]["options"]["en"].pop(), "questions[1].options"),
    (lambda d: d["questions"][0].update(card="tea"), "questions[1].card"),
    (lambda d: d["risk"].pop("report"), "risk.report"),
    (lambda d: d["duty"].pop("zh"), "duty: needs at least a zh text"),
    (lambda d: d.update(level="purple"), "level"),
    (lambda d: d.update(questions=d["questions"][:1]), "questions: list at least 2"),
    (lambda d: d["mnemonic"].update(fr="x"), "mnemonic: unknown language 'fr'"),
    (lambda d: d.update(colour="red"), "unknown field 'colour'"),
])
def test_a_broken_file_names_the_field(change: Any, message: str) -> None:
    data = welder()
    change(data)
    with pytest.raises(PostCardError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_post_cards("welder", data)


def test_the_loader_names_the_file(tmp_path: Path) -> None:
    data = welder()
    data["questions"][0]["answer"] = -1
    (tmp_path / "welder.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                          encoding="utf-8")
    with pytest.raises(PostCardError, match=r"^welder\.yaml: questions\[1\]\.answer"):
        load_post_cards(tmp_path)
    (tmp_path / "welder.yaml").write_text("post: [", encoding="utf-8")
    with pytest.raises(PostCardError, match=r"^welder\.yaml: not valid YAML"):
        load_post_cards(tmp_path)
