"""The document library shipped in ``content/documents/``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from content.render import CONTENT_DIR
from domain.documents import DocumentError, PolicyDocument, parse_document

LIBRARY_DIR = CONTENT_DIR / "documents"


def load_library(folder: Path = LIBRARY_DIR) -> dict[str, dict[str, PolicyDocument]]:
    """Every document by id and language; the languages of one id must agree.

    Raises:
        DocumentError: a bad file, or languages that disagree on version or audience.
    """
    library: dict[str, dict[str, PolicyDocument]] = {}
    for path in sorted(folder.glob("*.md")):
        stem, _, lang = path.stem.rpartition(".")
        if not stem:
            raise DocumentError(f"{path.name}: name files <id>.<lang>.md")
        document = parse_document(path.read_text(encoding="utf-8"), path.name, lang)
        if document.id != stem:
            raise DocumentError(f"{path.name}: id {document.id!r} differs from the file name")
        library.setdefault(document.id, {})[lang] = document
    for doc_id, versions in library.items():
        facts = {(d.version, d.audience, d.requires_ack, d.due_hours) for d in versions.values()}
        if len(facts) > 1:
            raise DocumentError(f"{doc_id}: the languages disagree on version, audience, "
                                "acknowledgement or due days")
    return library


@cache
def library() -> dict[str, dict[str, PolicyDocument]]:
    """The shipped library (read once)."""
    return load_library()
