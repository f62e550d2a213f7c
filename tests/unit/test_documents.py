"""The document library: front matter, both languages, Markdown to Telegram HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.documents import load_library
from domain.documents import DocumentError, markdown_to_html, parse_document
from domain.telegram_html import split_message, strip_tags


def test_the_shipped_samples_load_in_both_languages() -> None:
    documents = load_library()
    assert set(documents) == {"hot-work", "confined-space", "hazard-snapshot"}
    for versions in documents.values():
        assert set(versions) == {"zh", "en"}
    hot = documents["hot-work"]["zh"]
    assert hot.title == "动火作业安全管理规定" and hot.requires_ack and hot.due_days == 3
    html = markdown_to_html(hot.body)
    assert "<b>一、适用范围</b>" in html and "• 由作业班组长" in html
    assert "<b>合格后 30 分钟内</b>" in html
    assert split_message(html) == [html]


def test_html_inside_a_document_is_shown_not_obeyed() -> None:
    text = "---\nid: x\nversion: 1\ntitle: T\n---\n## <script>\n- a & b <i>c</i>\n"
    html = markdown_to_html(parse_document(text, "x.zh.md", "zh").body)
    assert html == "<b>&lt;script&gt;</b>\n• a &amp; b &lt;i&gt;c&lt;/i&gt;"
    assert strip_tags(html) == "<script>\n• a & b <i>c</i>"


@pytest.mark.parametrize(("text", "problem"), [
    ("no front matter", "missing front matter"),
    ("---\nid: x\nversion: 1\ntitle: T\n---\n", "empty"),
    ("---\nid: x\ntitle: T\n---\nbody", "version"),
    ("---\nid: X Y\nversion: 1\ntitle: T\n---\nbody", "id must be"),
    ("---\nid: x\nversion: [\n---\nbody", "not valid YAML"),
])
def test_bad_documents(text: str, problem: str) -> None:
    with pytest.raises(DocumentError, match=problem):
        parse_document(text, "x.zh.md", "zh")


def test_languages_must_agree(tmp_path: Path) -> None:
    (tmp_path / "x.zh.md").write_text("---\nid: x\nversion: 1\ntitle: 甲\n---\n正文",
                                      encoding="utf-8")
    (tmp_path / "x.en.md").write_text("---\nid: x\nversion: 2\ntitle: A\n---\nbody",
                                      encoding="utf-8")
    with pytest.raises(DocumentError, match="disagree"):
        load_library(tmp_path)
