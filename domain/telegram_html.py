"""Telegram's HTML subset: counting what a reader sees, and splitting long texts.

Telegram limits a message to 4096 characters of *visible* text (after tags and
entities are parsed, counted in UTF-16 code units). A long text is split on
paragraph boundaries first, then lines, sentences, spaces, and only then
anywhere — never inside a tag or an entity, and tags open at a cut are closed
and reopened so every part is valid on its own.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

_TOKEN = re.compile(r"<[^<>]+>|&#?[A-Za-z0-9]+;|.", re.S)
_TAG_NAME = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")
_SENTENCE_END = frozenset("。！？!?.;；")
_TAGS = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class _Atom:
    raw: str
    text: str  # visible text ("" for tags)
    tag: str | None = None  # tag name for tags
    closing: bool = False


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _atoms(html: str) -> list[_Atom]:
    atoms: list[_Atom] = []
    for match in _TOKEN.finditer(html):
        raw = match.group(0)
        if raw.startswith("<") and len(raw) > 1:
            name = _TAG_NAME.match(raw)
            if name is not None:
                closing = raw[1:].lstrip().startswith("/")
                atoms.append(_Atom(raw, "", name.group(1).lower(), closing))
                continue
        text = _html.unescape(raw) if raw.startswith("&") else raw
        atoms.append(_Atom(raw, text))
    return atoms


def escape(text: str) -> str:
    """Escape the three characters Telegram's HTML needs escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_tags(html: str) -> str:
    """The visible text of ``html``: tags removed, entities decoded."""
    return "".join(atom.text for atom in _atoms(html))


def visible_length(html: str) -> int:
    """Length of the visible text in UTF-16 code units, as Telegram counts it."""
    return _utf16(strip_tags(html))


def _cut_rank(atoms: list[_Atom], index: int) -> tuple[int, int]:
    """How good a cut before ``atoms[index]`` is, and how many separator atoms to drop.

    Ranks: 5 paragraph break, 4 line break, 3 sentence end, 2 space, 1 anywhere.
    """
    text = atoms[index].text if index < len(atoms) else ""
    before = atoms[index - 1].text if index > 0 else ""
    after = atoms[index + 1].text if index + 1 < len(atoms) else ""
    if text == "\n" and after == "\n":
        return 5, 2
    if text == "\n":
        return 4, 1
    if before and before in _SENTENCE_END:
        return 3, 1 if text == " " else 0
    if text == " ":
        return 2, 1
    return 1, 0


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``html`` into parts of at most ``limit`` visible UTF-16 units each.

    Args:
        html: Telegram HTML (already escaped where needed).
        limit: The visible length allowed per part.

    Returns:
        The parts, in order; an empty or blank input gives ``[]``.
    """
    if limit < 2:
        raise ValueError("limit must allow at least two characters")
    if _utf16(html) <= limit:  # tags and entities only shrink what is visible
        return [html] if _TAGS.sub("", html).strip() else []
    atoms = _atoms(html)
    parts: list[str] = []
    open_tags: list[_Atom] = []
    start = 0
    while start < len(atoms):
        # The furthest end that fits.
        used, end = 0, start
        while end < len(atoms):
            size = _utf16(atoms[end].text)
            if used + size > limit:
                break
            used += size
            end += 1
        if end < len(atoms):
            best_rank, cut, drop = 0, end, 0
            for index in range(end, start, -1):
                rank, skip = _cut_rank(atoms, index)
                if rank > best_rank:
                    best_rank, cut, drop = rank, index, skip
                    if rank == 5:
                        break
            # Opening tags right before the cut belong to the next part.
            while cut > start + 1 and atoms[cut - 1].tag and not atoms[cut - 1].closing:
                cut -= 1
                drop = 0
        else:
            cut, drop = end, 0
        # Closing tags right after the cut belong to this part.
        while cut < len(atoms) and atoms[cut].tag and atoms[cut].closing and drop == 0:
            cut += 1
        body = atoms[start:cut]
        reopened = "".join(tag.raw for tag in open_tags)
        for atom in body:
            if atom.tag and atom.closing:
                for i in range(len(open_tags) - 1, -1, -1):
                    if open_tags[i].tag == atom.tag:
                        del open_tags[i]
                        break
            elif atom.tag:
                open_tags.append(atom)
        closing = "".join(f"</{tag.tag}>" for tag in reversed(open_tags))
        if "".join(a.text for a in body).strip():
            parts.append(reopened + "".join(a.raw for a in body) + closing)
        start = cut + drop if cut + drop > start else start + 1
    return parts
