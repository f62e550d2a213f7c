"""Policy documents (文件规定到班组): the library format and its Telegram rendering.

A document is a Markdown file per language, ``content/documents/<id>.<lang>.md``,
with front matter::

    ---
    id: hot-work              # the same in every language
    version: 1                # a new version asks everyone to acknowledge again
    title: 动火作业安全管理规定
    summary: 一两句话的摘要
    audience: [acme]          # unit keys; everything below them is included
    requires_ack: true        # members must tap "read and understood"
    due_days: 3               # days to acknowledge before the workshop hears
    ---
    Markdown body: ## headings, - lists, **bold**, paragraphs.

Anything that looks like HTML in the body is shown as written, never obeyed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from domain.language import SUPPORTED_LANGUAGES
from domain.telegram_html import escape

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class DocumentError(ValueError):
    """A problem in a document file."""


@dataclass(frozen=True)
class PolicyDocument:
    """One language of one version of a policy document."""

    id: str
    version: int
    lang: str
    title: str
    summary: str
    body: str
    audience: tuple[str, ...]
    requires_ack: bool
    due_days: int


def parse_document(text: str, filename: str, lang: str) -> PolicyDocument:
    """Read a document file.

    Raises:
        DocumentError: naming the file and the problem.
    """
    if lang not in SUPPORTED_LANGUAGES:
        raise DocumentError(f"{filename}: language {lang!r} is not one of "
                            f"{', '.join(SUPPORTED_LANGUAGES)}")
    match = _FRONT.match(text.replace("\r\n", "\n"))
    if match is None:
        raise DocumentError(f"{filename}: missing front matter between --- lines")
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise DocumentError(f"{filename}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise DocumentError(f"{filename}: front matter must be a mapping")
    body = match.group(2).strip()
    if not body:
        raise DocumentError(f"{filename}: the document is empty")
    try:
        doc_id, version = str(meta["id"]), int(meta["version"])
        title, summary = str(meta["title"]).strip(), str(meta.get("summary", "")).strip()
        audience = tuple(str(key) for key in meta.get("audience") or [])
        requires_ack, due_days = bool(meta.get("requires_ack", True)), int(meta.get("due_days", 3))
    except (KeyError, TypeError, ValueError) as exc:
        raise DocumentError(f"{filename}: missing or malformed field {exc}") from exc
    if not _ID.match(doc_id):
        raise DocumentError(f"{filename}: id must be lower-case letters, digits and '-'")
    if version < 1 or due_days < 1 or not title or len(title) > 200:
        raise DocumentError(f"{filename}: version and due_days must be positive and the "
                            "title 1–200 characters")
    return PolicyDocument(doc_id, version, lang, title, summary, body, audience, requires_ack,
                          due_days)


def markdown_to_html(body: str) -> str:
    """The little Markdown documents use, as Telegram HTML (everything else escaped)."""
    blocks = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = []
        for line in block.splitlines():
            stripped = line.strip()
            heading = re.match(r"^#{1,6}\s+(.*)$", stripped)
            if heading:
                lines.append(f"<b>{_inline(heading.group(1))}</b>")
            elif re.match(r"^[-*]\s+", stripped):
                lines.append("• " + _inline(re.sub(r"^[-*]\s+", "", stripped)))
            else:
                lines.append(_inline(stripped))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _inline(text: str) -> str:
    return _BOLD.sub(r"<b>\1</b>", escape(text))
