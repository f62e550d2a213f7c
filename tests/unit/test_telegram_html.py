"""Splitting long HTML texts the way Telegram needs them."""

from __future__ import annotations

import html as html_lib
import random
import re

import pytest

from domain.telegram_html import (
    MESSAGE_LIMIT,
    escape,
    split_message,
    strip_tags,
    visible_length,
)

# An independent reader of the HTML subset, so the tests don't trust the module's own.
_PIECE = re.compile(r"<(/?)([a-z-]+)[^<>]*>|&#?[A-Za-z0-9]+;|[^<&]", re.S)


def styled(html: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every visible character with the (raw) opening tags around it; fails if unbalanced."""
    stack: list[tuple[str, str]] = []
    out: list[tuple[str, tuple[str, ...]]] = []
    for match in _PIECE.finditer(html):
        piece = match.group(0)
        if match.group(2):
            if match.group(1):
                assert stack and stack[-1][0] == match.group(2), f"unbalanced: {html!r}"
                stack.pop()
            else:
                stack.append((match.group(2), piece))
            continue
        text = html_lib.unescape(piece) if piece.startswith("&") else piece
        out.extend((ch, tuple(raw for _, raw in stack)) for ch in text)
    assert not stack, f"unclosed tags in {html!r}"
    return out


def assert_invariants(html: str, parts: list[str], limit: int) -> None:
    """Limit, validity, and nothing lost but whitespace at the cuts (formatting included)."""
    original = styled(html)
    assert all(visible_length(p) <= limit for p in parts)
    assert all(strip_tags(p).strip() for p in parts), "empty part"
    position = 0
    for part in parts:
        chars = styled(part)  # also checks that the part is balanced
        run = position
        while run < len(original) and original[run][0].isspace():
            run += 1
        leading = len(chars) - len(strip_tags(part).lstrip())
        position = max(position, run - leading)  # a part may keep its own indentation
        assert original[position:position + len(chars)] == chars
        position += len(chars)
    assert all(ch.isspace() for ch, _ in original[position:])


def test_counting_is_visible_utf16() -> None:
    assert visible_length("<b>ab</b>&amp;") == 3
    assert visible_length('<a href="https://example.com/?a=1&amp;b=2">x</a>') == 1
    assert visible_length("😀") == 2
    assert visible_length("&#128512;&#x1F600;") == 4
    assert visible_length("安全") == 2
    assert strip_tags('<a href="x">A &lt;b&gt; &quot;q&quot;</a>') == 'A <b> "q"'


def test_escape_only_touches_what_telegram_needs() -> None:
    assert escape('<b>Tom & "Jerry"</b>') == '&lt;b&gt;Tom &amp; "Jerry"&lt;/b&gt;'
    assert strip_tags(escape("a<b>&c")) == "a<b>&c"


def test_short_text_is_one_part_and_empty_is_none() -> None:
    assert split_message("<b>hi</b>") == ["<b>hi</b>"]
    assert split_message("x" * MESSAGE_LIMIT) == ["x" * MESSAGE_LIMIT]
    assert split_message("") == []
    assert split_message("  \n\n ") == []
    assert split_message("<b> </b>") == []


def test_a_6000_character_chinese_document_splits_into_two_on_a_paragraph() -> None:
    paragraphs = [f"第{i}条：" + "作业前检查防护用品，确认危险源已隔离。" * 16 for i in range(20)]
    text = "\n\n".join(paragraphs)
    assert 6000 <= len(text) <= 6500
    parts = split_message(text)
    assert len(parts) == 2
    assert all(visible_length(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text
    cut = parts[0].count("\n\n") + 1  # whole paragraphs on each side
    assert parts == ["\n\n".join(paragraphs[:cut]), "\n\n".join(paragraphs[cut:])]


def test_as_many_paragraphs_as_fit_go_together() -> None:
    text = "\n\n".join(["甲" * 40, "乙" * 40, "丙" * 40, "丁" * 40])
    assert split_message(text, limit=90) == ["甲" * 40 + "\n\n" + "乙" * 40,
                                             "丙" * 40 + "\n\n" + "丁" * 40]


def test_one_huge_paragraph_is_cut_at_sentences() -> None:
    text = "检查完毕。" * 2000  # 10,000 characters, no newline, no space
    parts = split_message(text)
    assert len(parts) == 3
    assert all(visible_length(p) <= 4096 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_a_long_paragraph_prefers_lines_then_sentences_then_spaces() -> None:
    lines = "line one. more words\nline two. more words"
    assert split_message(lines, limit=30) == ["line one. more words", "line two. more words"]
    sentences = "First sentence here. Second one is here"
    assert split_message(sentences, limit=30) == ["First sentence here.", "Second one is here"]
    words = "alpha beta gamma delta epsilon"
    assert split_message(words, limit=12) == ["alpha beta", "gamma delta", "epsilon"]


def test_what_is_not_a_sentence_end() -> None:
    # A decimal point, and a full stop followed by a closing quote, are not cut at.
    assert split_message("pi 3.14159265", limit=10) == ["pi", "3.14159265"]
    assert split_message("他说：“走。”然后走了很远", limit=8) == ["他说：“走。”然", "后走了很远"]


def test_without_any_break_the_cut_is_hard_and_full() -> None:
    text = "危" * 250
    assert split_message(text, limit=100) == ["危" * 100, "危" * 100, "危" * 50]


def test_tags_are_closed_and_reopened_with_their_attributes() -> None:
    link = '<a href="https://example.com/x?a=1&amp;b=2">'
    text = "<b>加粗" + link + "字" * 150 + "</a></b>结束"
    parts = split_message(text, limit=100)
    assert len(parts) == 2
    assert parts[0].endswith("</a></b>")
    assert parts[1].startswith("<b>" + link)
    assert_invariants(text, parts, 100)


def test_spoilers_quotes_and_code_reopen_as_written() -> None:
    text = ('<blockquote expandable><span class="tg-spoiler">' + "密 " * 60
            + '</span></blockquote><pre><code class="language-python">'
            + "x = 1\n" * 30 + "</code></pre>")
    parts = split_message(text, limit=50)
    assert parts[1].startswith('<blockquote expandable><span class="tg-spoiler">')
    assert any(p.startswith('<pre><code class="language-python">x = 1') for p in parts)
    assert_invariants(text, parts, 50)


def test_indentation_in_preformatted_text_is_kept() -> None:
    text = "<pre>def f():\n    return 1\n</pre>"
    assert split_message(text, limit=12) == ["<pre>def f():</pre>", "<pre>    return 1</pre>"]


def test_a_cut_right_after_a_closing_tag_leaves_no_empty_tags() -> None:
    parts = split_message("<b>注意。</b><i>下一句很长很长</i>", limit=5)
    assert parts == ["<b>注意。</b>", "<i>下一句很长</i>", "<i>很长</i>"]


def test_entities_are_never_cut() -> None:
    text = ("&amp;" + "&lt;" + "&#128512;") * 50  # 200 visible units
    parts = split_message(text, limit=31)
    entity_or_nothing = re.compile(r"&(?!(?:amp|lt|#128512);)")
    assert all(not entity_or_nothing.search(p) for p in parts)
    assert_invariants(text, parts, 31)


def test_surrogate_pairs_count_two_and_are_never_cut() -> None:
    parts = split_message("😀" * 10, limit=5)
    assert parts == ["😀😀", "😀😀", "😀😀", "😀😀", "😀😀"]
    assert visible_length(parts[0]) == 4
    # A composed emoji (family, flag, skin tone) stays whole too.
    family, flag, thumb = "👨\u200d👩\u200d👧", "🇨🇳", "👍🏽"
    parts = split_message((family + flag + thumb) * 4, limit=16)
    assert all(p.count(family) * len(family) + p.count(flag) * 2 + p.count(thumb) * 2 == len(p)
               for p in parts)
    # Under a tiny limit a long composition falls apart into code points, never halves.
    assert split_message(family, limit=2) == ["👨", "\u200d👩", "\u200d👧"] or all(
        visible_length(p) <= 2 for p in split_message(family, limit=2))


def test_escaped_user_names_stay_intact() -> None:
    name = escape("<b>&")
    assert name == "&lt;b&gt;&amp;"
    assert visible_length(name) == 4  # "<", "b", ">", "&": one each, entities included
    text = " ".join(f"{name}{i}" for i in range(40))
    parts = split_message(text, limit=20)
    assert all(re.fullmatch(r"(&lt;b&gt;&amp;\d+ ?)+", p) for p in parts)
    assert all("<b>" not in p for p in parts)  # the name never turns into markup
    assert_invariants(text, parts, 20)


def test_a_limit_below_one_surrogate_pair_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message("abc", limit=1)


_PIECES = ["安全", "检查", "word", "long-word-without-spaces", " ", " ", "\n", "\n\n",
           "\n\n\n", "。", ". ", "!", "&amp;", "&lt;", "&gt;", "&quot;", "&#128512;", "😀",
           "👨\u200d🔧", "é", "e\u0301", "\u00a0"]
_TAGS = [("b", "<b>"), ("i", "<i>"), ("u", "<u>"), ("s", "<s>"),
         ("a", '<a href="https://example.com/?q=1&amp;r=2">'),
         ("span", '<span class="tg-spoiler">'), ("tg-spoiler", "<tg-spoiler>"),
         ("blockquote", "<blockquote expandable>"), ("code", "<code>"), ("pre", "<pre>")]


def random_html(rng: random.Random) -> str:
    out: list[str] = []
    open_tags: list[str] = []
    for _ in range(rng.randint(20, 400)):
        roll = rng.random()
        if roll < 0.12 and len(open_tags) < 4:
            name, raw = rng.choice(_TAGS)
            if name not in open_tags:
                open_tags.append(name)
                out.append(raw)
        elif roll < 0.22 and open_tags:
            out.append(f"</{open_tags.pop()}>")
        else:
            out.append(rng.choice(_PIECES) * rng.choice([1, 1, 1, 3, 20]))
    out += [f"</{name}>" for name in reversed(open_tags)]
    return "".join(out)


@pytest.mark.parametrize("seed", range(120))
def test_random_texts_keep_every_invariant(seed: int) -> None:
    rng = random.Random(seed)
    html = random_html(rng)
    limit = rng.choice([2, 3, 5, 8, 13, 40, 100, 400])
    parts = split_message(html, limit=limit)
    if not strip_tags(html).strip():
        assert parts == []
        return
    assert parts
    if visible_length(html) <= limit:
        assert parts == [html]
    assert_invariants(html, parts, limit)
