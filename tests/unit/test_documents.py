"""The document library: front matter, both languages, Markdown to Telegram HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from content.documents import load_library
from domain.documents import (
    MAX_UPLOAD_BYTES,
    DocumentError,
    UploadProblem,
    key_from_file_name,
    markdown_to_html,
    next_check,
    parse_document,
    parse_upload,
    reminder_rounds_due,
    roll_up,
    upload_kind,
)
from domain.telegram_html import split_message, strip_tags


def test_the_shipped_samples_load_in_both_languages() -> None:
    documents = load_library()
    assert set(documents) == {"hot-work", "confined-space", "hazard-snapshot"}
    for versions in documents.values():
        assert set(versions) == {"zh", "en"}
    hot = documents["hot-work"]["zh"]
    assert hot.title == "动火作业安全管理规定" and hot.requires_ack and hot.due_hours == 72
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


# ---------------------------------------------------------------- uploads



@pytest.mark.parametrize(("name", "size", "code"), [
    ("setup.exe", 10, "type"), ("noextension", 10, "type"), ("photo.jpg", 10, "type"),
    ("a.md", 0, "empty"), ("a.pdf", MAX_UPLOAD_BYTES + 1, "too_big"),
    ("a.docx", 30 * 1024 * 1024, "too_big")])
def test_uploads_that_are_refused(name: str, size: int, code: str) -> None:
    with pytest.raises(UploadProblem) as caught:
        upload_kind(name, size)
    assert caught.value.code == code


def test_upload_kinds_and_keys() -> None:
    assert upload_kind("Rules.MD", 10) == "markdown"
    assert upload_kind("a.txt", 10) == "text" and upload_kind("b.PDF", 10) == "pdf"
    assert upload_kind("c.docx", MAX_UPLOAD_BYTES) == "docx"
    assert key_from_file_name("Hot Work Permit v2.pdf") == "hot-work-permit-v2"
    # Chinese names: a stable key, so the same name next time is a new version of it.
    key = key_from_file_name("受限空间补充规定.md")
    assert key.startswith("doc-") and key == key_from_file_name("受限空间补充规定.md")
    assert key != key_from_file_name("动火规定.md")
    # Names that share their ASCII part are still different documents.
    name = "2024年动火作业安全管理规定.pdf"
    first = key_from_file_name(name)
    assert first != key_from_file_name("2024年受限空间作业安全管理规定.pdf")
    assert first.startswith("2024-") and first == key_from_file_name(name)
    assert key_from_file_name("GB30871-2022 动火.pdf") != key_from_file_name(
        "GB30871-2022 受限空间.pdf")


def test_uploaded_texts_are_escaped_and_titled() -> None:
    found = parse_upload("markdown", "x.md", "# 标题 <b>\n\n正文 & <script>\n".encode(),
                         "摘要", "zh")
    assert found.title == "标题 <b>" and found.summary == "摘要"
    assert found.html == "<b>标题 &lt;b&gt;</b>\n\n正文 &amp; &lt;script&gt;"
    plain = parse_upload("text", "通知.txt", "第一段 <i>\r\n\r\n第二段".encode(), None, "zh")
    assert plain.title == "通知" and plain.html == "第一段 &lt;i&gt;\n\n第二段"
    pdf = parse_upload("pdf", "Permit.pdf", b"%PDF", "c", "en")
    assert pdf.html is None and pdf.title == "Permit"
    front = parse_upload("markdown", "hw.md", (
        b"---\nid: hot-work\nversion: 2\ntitle: T\nsummary: S\ndue_days: 5\n---\nBody\n"),
        None, "en")
    assert (front.doc_key, front.version, front.summary, front.due_hours) == \
        ("hot-work", 2, "S", 5 * 24)  # the older due_days still reads


@pytest.mark.parametrize(("due", "hours"), [
    ("due: 8h", 8), ("due: 3d", 72), ("due: 1d12h", 36), ("due: 365d", 365 * 24),
    ("due_days: 2", 48), ("", 72)])
def test_a_read_deadline_in_hours_or_days(due: str, hours: int) -> None:
    text = f"---\nid: shift-notice\nversion: 1\ntitle: T\n{due}\n---\nBody\n"
    assert parse_document(text, "n.md", "zh").due_hours == hours


@pytest.mark.parametrize("due", [
    "due: 0h", "due: 90m", "due: 366d", "due: 99999999999d", "due: 8", "due: -1d",
    "due: soon", "due_days: 0", "due_days: 99999999999", "due_days: 1.5",
    "due: 8h\ndue_days: 1", "due: [8h]", "due: ''"])
def test_a_bad_read_deadline_names_the_file(due: str) -> None:
    text = f"---\nid: shift-notice\nversion: 1\ntitle: T\n{due}\n---\nBody\n"
    with pytest.raises(DocumentError, match=r"n\.md: due"):
        parse_document(text, "n.md", "zh")


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"), (b"  \n ", "empty"), (b"\xff\xfe\xfa", "encoding"),
    (("x" * 70_000).encode(), "too_long"), (b"---\nid: x\n---\nbody", "front_matter")])
def test_uploaded_texts_that_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(UploadProblem) as caught:
        parse_upload("markdown", "a.md", data, None, "zh")
    assert caught.value.code == code


# ---------------------------------------------------------------- rates and reminders


def test_read_rates_roll_up_the_tree() -> None:
    units = [(1, "/1/"), (2, "/1/2/"), (3, "/1/2/3/"), (4, "/1/2/4/"), (5, "/1/5/"),
             (6, "/1/5/6/")]
    rates = roll_up(units, {3: (7, 8), 4: (5, 7)}, "/1/")
    assert [(r.unit_id, r.depth, r.read, r.required, r.percent) for r in rates] == [
        (1, 0, 12, 15, 80), (2, 1, 12, 15, 80), (3, 2, 7, 8, 87), (4, 2, 5, 7, 71)]
    assert [r.unit_id for r in roll_up(units, {3: (1, 1)}, "/1/2/3/")] == [3]


T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
DAY = timedelta(days=1)


def test_reminder_rounds_before_the_due_date_only() -> None:
    due = T0 + 3 * DAY
    rounds = (DAY, 2 * DAY, 3 * DAY)  # the third falls on the due date: not a reminder
    assert next_check(T0, due, rounds, 0) == T0 + DAY
    assert next_check(T0, due, rounds, 2) == due
    assert reminder_rounds_due(T0, due, rounds, 0, T0 + DAY, timedelta(minutes=30)) == ([0], [])
    assert reminder_rounds_due(T0, due, rounds, 1, T0 + DAY, timedelta(minutes=30)) == ([], [])
    # Down from before the first round until just after the second: the first is skipped.
    late = T0 + 2 * DAY + timedelta(minutes=10)
    assert reminder_rounds_due(T0, due, rounds, 0, late, timedelta(minutes=30)) == ([1], [0])
    assert reminder_rounds_due(T0, due, rounds, 0, due + DAY, timedelta(minutes=30)) == \
        ([], [0, 1])
