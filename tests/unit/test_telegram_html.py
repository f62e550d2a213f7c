"""Splitting long HTML texts the way Telegram needs them."""

from __future__ import annotations

import random
import re

import pytest

from domain.telegram_html import escape, split_message, strip_tags, visible_length

_TAG = re.compile(r"<\s*(/?)\s*([a-z-]+)[^>]*>")


def balanced(html: str) -> bool:
    stack: list[str] = []
    for closing, name in _TAG.findall(html):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def test_counting_is_visible_utf16() -> None:
    assert visible_length("<b>ab</b>&amp;") == 3
    assert visible_length(escape("<b>&")) == 4
    assert visible_length("😀") == 2
    assert strip_tags('<a href="x">A &lt;b&gt;</a>') == "A <b>"


def test_6000_characters_split_into_two_on_a_paragraph() -> None:
    paragraphs = [f"第{i}段。" + "安全生产，人人有责。" * 30 for i in range(20)]
    text = "\n\n".join(paragraphs)
    assert 6000 <= len(text) <= 6500
    parts = split_message(text)
    assert len(parts) == 2
    assert all(visible_length(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text


def test_short_text_is_one_part_and_empty_is_none() -> None:
    assert split_message("<b>hi</b>") == ["<b>hi</b>"]
    assert split_message("") == []
    assert split_message("  \n\n ") == []


def test_one_huge_paragraph_is_cut_at_sentences() -> None:
    text = "检查完毕。" * 2000  # 10,000 characters, no newline
    parts = split_message(text)
    assert len(parts) == 3
    assert all(visible_length(p) <= 4096 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_tags_are_closed_and_reopened_at_a_cut() -> None:
    text = '<b>加粗<a href="https://example.com/x">' + "字" * 150 + "</a></b>结束"
    parts = split_message(text, limit=100)
    assert len(parts) == 2
    assert all(balanced(p) for p in parts)
    assert parts[1].startswith('<b><a href="https://example.com/x">')
    assert "".join(strip_tags(p) for p in parts) == strip_tags(text)


def test_entities_and_surrogate_pairs_are_never_cut() -> None:
    text = ("&amp;" + "😀") * 100  # 300 visible units
    parts = split_message(text, limit=31)
    assert all(visible_length(p) <= 31 for p in parts)
    assert all(not p.startswith(("amp;", "mp;")) for p in parts)
    assert "".join(strip_tags(p) for p in parts) == strip_tags(text)


def test_escaped_user_names_stay_intact() -> None:
    name = escape("<b>Tom & Jerry</b>")
    parts = split_message(f"Hello {name}")
    assert parts == [f"Hello {name}"]
    assert strip_tags(parts[0]) == "Hello <b>Tom & Jerry</b>"


@pytest.mark.parametrize("seed", range(30))
def test_random_texts_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["安全", "word", " ", "\n", "\n\n", "。", "&amp;", "&lt;", "😀", "<b>", "</b>",
              "<i>", "</i>"]
    out: list[str] = []
    open_tags: list[str] = []
    for _ in range(rng.randint(50, 400)):
        piece = rng.choice(pieces)
        if piece in ("<b>", "<i>"):
            if piece[1] in open_tags:
                continue
            open_tags.append(piece[1])
        elif piece in ("</b>", "</i>"):
            if not open_tags or open_tags[-1] != piece[2]:
                continue
            open_tags.pop()
        out.append(piece)
    out += [f"</{t}>" for t in reversed(open_tags)]
    html = "".join(out)
    limit = rng.randint(5, 60)
    parts = split_message(html, limit=limit)
    assert all(visible_length(p) <= limit for p in parts)
    assert all(balanced(p) for p in parts)
    # Nothing but separators is lost: compare with whitespace removed.
    joined = "".join(strip_tags(p) for p in parts)
    assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", strip_tags(html))
