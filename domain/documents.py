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
    due: 3d                   # time to acknowledge before the workshop hears: 3d, 8h, 1d12h
    ---                       # (whole hours; the older "due_days: 3" still reads)
    Markdown body: ## headings, - lists, **bold**, paragraphs.

Anything that looks like HTML in the body is shown as written, never obeyed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import yaml

from domain.durations import DurationError, format_duration, parse_duration
from domain.language import SUPPORTED_LANGUAGES
from domain.telegram_html import escape

_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_DUE = timedelta(days=365)  # a document unread for a year is a matter for the workshop
MAX_VERSION = 1_000_000  # versions are counted by people; the database keeps 32-bit numbers
DEFAULT_DUE_HOURS = 72


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
    due_hours: int  # from posting to the due date


def parse_due(value: object) -> int:
    """A read deadline (``3d``, ``8h``, ``1d12h``) as whole hours, 1 h to ``MAX_DUE``.

    Raises:
        DurationError: not a duration, not whole hours, or longer than ``MAX_DUE``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DurationError(f"not a duration: {value!r} (write e.g. 8h or 3d)", "format",
                            value=str(value)[:32])
    if isinstance(value, int):  # a bare number in YAML: hours would surprise; refuse it
        raise DurationError(f"write the unit: {value}h or {value}d", "format", value=str(value))
    seconds = int(parse_duration(value, maximum=MAX_DUE).total_seconds())
    if seconds % 3600:
        raise DurationError(f"{value!r}: a deadline is whole hours (e.g. 8h, 3d)", "format",
                            value=str(value)[:32])
    return seconds // 3600


def due_text(hours: int) -> str:
    """A read deadline in the front matter's notation: ``3d``, ``8h``, ``1d12h``."""
    return format_duration(timedelta(hours=hours))


def _due_hours(meta: dict[object, object]) -> int:
    if "due" in meta and "due_days" in meta:
        raise DurationError("give either due or due_days, not both", "format", value="")
    if "due_days" in meta:  # the older field: whole days
        days = meta["due_days"]
        if isinstance(days, bool) or not isinstance(days, int):
            raise DurationError(f"due_days is a whole number, not {days!r}", "format",
                                value=str(days)[:32])
        if not 0 < days <= MAX_DUE.days:
            raise DurationError(f"due_days must be 1 to {MAX_DUE.days}, not {days}",
                                "too_long" if days > 0 else "not_positive", value=str(days)[:32])
        return days * 24
    return parse_due(meta.get("due", f"{DEFAULT_DUE_HOURS}h"))


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
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of 5,000 digits
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
        requires_ack = bool(meta.get("requires_ack", True))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise DocumentError(f"{filename}: missing or malformed field {exc}") from exc
    try:
        due_hours = _due_hours(meta)
    except DurationError as exc:
        raise DocumentError(f"{filename}: due: {exc} (at most {MAX_DUE.days}d)") from exc
    if not _ID.match(doc_id):
        raise DocumentError(f"{filename}: id must be lower-case letters, digits and '-'")
    if not 1 <= version <= MAX_VERSION or not title or len(title) > 200:
        raise DocumentError(f"{filename}: version must be 1 to {MAX_VERSION} and the "
                            "title 1–200 characters")
    return PolicyDocument(doc_id, version, lang, title, summary, body, audience, requires_ack,
                          due_hours)


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


# ---------------------------------------------------------------- uploads

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # bots cannot download larger files
MAX_TEXT_CHARS = 60_000  # about fifteen messages; longer texts belong in a PDF
TEXT_KINDS = {".md": "markdown", ".markdown": "markdown", ".txt": "text"}
FILE_KINDS = {".pdf": "pdf", ".docx": "docx"}


class UploadProblem(ValueError):
    """Why an uploaded file cannot be published; ``code`` names the user's message."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


@dataclass(frozen=True)
class UploadedDocument:
    """What an uploaded file gives: its key, title, summary and (for texts) the HTML."""

    doc_key: str
    title: str
    summary: str
    html: str | None  # None: post the original file
    version: int | None = None  # from front matter, when there is one
    requires_ack: bool = True
    due_hours: int | None = None


def upload_kind(file_name: str | None, size: int | None) -> str:
    """``markdown``, ``text``, ``pdf`` or ``docx`` for an acceptable upload.

    Raises:
        UploadProblem: ``type`` (anything else), ``empty`` or ``too_big``.
    """
    suffix = "." + (file_name or "").rsplit(".", 1)[-1].lower() if "." in (file_name or "") \
        else ""
    kind = TEXT_KINDS.get(suffix) or FILE_KINDS.get(suffix)
    if kind is None:
        raise UploadProblem("type", suffix or "no extension")
    if size is not None and size == 0:
        raise UploadProblem("empty")
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise UploadProblem("too_big", f"{size} bytes")
    return kind


def key_from_file_name(file_name: str) -> str:
    """A document key from a file name: the same name later means a new version.

    Only a plain ASCII name becomes its slug. Any other name keeps a digest of the
    whole name: "2024年动火作业….pdf" and "2024年受限空间….pdf" share the slug
    "2024", and one must never replace the other as its "new version".
    """
    stem = file_name.rsplit(".", 1)[0].strip().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:40]
    if stem.isascii() and len(slug) >= 3:
        return slug
    digest = hashlib.sha1(stem.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}" if len(slug) >= 3 else f"doc-{digest}"


def parse_upload(kind: str, file_name: str, data: bytes, caption: str | None,
                 lang: str) -> UploadedDocument:
    """Read an uploaded file into what a team will see.

    Markdown may carry the library's front matter (title, summary, version…);
    without it the title is the first heading, else the file name, and the
    caption is the summary. Plain text is shown as written. HTML in either is
    escaped, never obeyed. PDF and Word files are posted as files.

    Raises:
        UploadProblem: ``empty``, ``encoding``, ``too_long`` or ``front_matter``.
    """
    summary = (caption or "").strip()[:500]
    stem = file_name.rsplit(".", 1)[0].strip()[:200] or file_name[:200]
    if kind in FILE_KINDS.values():
        if not data:
            raise UploadProblem("empty")
        return UploadedDocument(key_from_file_name(file_name), stem, summary, None)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadProblem("encoding", str(exc)) from exc
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise UploadProblem("empty")
    if len(text) > MAX_TEXT_CHARS:
        raise UploadProblem("too_long", f"{len(text)} characters")
    if kind == "markdown" and text.startswith("---"):
        try:
            found = parse_document(text, file_name, lang)
        except DocumentError as exc:
            raise UploadProblem("front_matter", str(exc)) from exc
        return UploadedDocument(found.id, found.title, summary or found.summary,
                                markdown_to_html(found.body), found.version,
                                found.requires_ack, found.due_hours)
    if kind == "markdown":
        heading = re.search(r"^#{1,6}\s+(.+)$", text, re.M)
        title = heading.group(1).strip()[:200] if heading else stem
        return UploadedDocument(key_from_file_name(file_name), title, summary,
                                markdown_to_html(text))
    paragraphs = [escape(block.strip()) for block in re.split(r"\n\s*\n", text) if block.strip()]
    return UploadedDocument(key_from_file_name(file_name), stem, summary,
                            "\n\n".join(paragraphs))


# ---------------------------------------------------------------- read rates


@dataclass(frozen=True)
class ReadRate:
    """Acknowledgements of one unit (its teams summed), for ``/readstatus``."""

    unit_id: int
    depth: int
    read: int
    required: int

    @property
    def percent(self) -> int:
        """Whole percent read (100 when nobody is required)."""
        return 100 if self.required == 0 else self.read * 100 // self.required


def roll_up(units: list[tuple[int, str]], team_counts: dict[int, tuple[int, int]],
            top_path: str) -> list[ReadRate]:
    """Sum team counts up the tree, in tree order, for the units under ``top_path``.

    Args:
        units: (unit id, materialised path) of every unit to show.
        team_counts: unit id -> (read, required) of each team that got the document.
        top_path: the path the listing starts at (its depth is 0).
    """
    base = top_path.count("/")
    # Each team's counts go to every prefix of its path ("/1/", "/1/4/", "/1/4/9/"):
    # units × depth, not units², so an enterprise of thousands of teams stays quick.
    sums: dict[str, tuple[int, int]] = {}
    for unit_id, path in units:
        if unit_id not in team_counts:
            continue
        read, required = team_counts[unit_id]
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/" + "/".join(parts[:depth]) + "/"
            done, due = sums.get(prefix, (0, 0))
            sums[prefix] = (done + read, due + required)
    rates = []
    for unit_id, path in sorted(units, key=lambda item: item[1]):
        read, required = sums.get(path, (0, 0))
        if path.startswith(top_path) and required:
            rates.append(ReadRate(unit_id, path.count("/") - base, read, required))
    return rates


# ---------------------------------------------------------------- reminders


def next_check(posted_at: datetime, due_at: datetime, reminders: tuple[timedelta, ...],
               done: int) -> datetime:
    """When a post is looked at next: the next reminder round before the due date, else it."""
    for offset in reminders[done:]:
        at = posted_at + offset
        if at < due_at:
            return at
    return due_at


def reminder_rounds_due(posted_at: datetime, due_at: datetime,
                        reminders: tuple[timedelta, ...], done: int, now: datetime,
                        grace: timedelta) -> tuple[list[int], list[int]]:
    """Reminder rounds that fell due since ``done``: (to send, skipped as too old).

    A round whose time passed more than ``grace`` ago (the bot was down) is
    skipped, never sent late; the due-date report is not a reminder and always goes.
    """
    due = [index for index, offset in enumerate(reminders)
           if index >= done and posted_at + offset <= now and posted_at + offset < due_at]
    send = [index for index in due if now - (posted_at + reminders[index]) <= grace]
    skipped = [index for index in due if index not in send]
    return send, skipped
