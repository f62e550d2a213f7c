"""Telegram's HTML subset: counting what a reader sees, and splitting long texts.

Telegram limits a message to 4096 characters of *visible* text: tags don't
count, an entity such as ``&amp;`` counts as the one character it stands for,
and characters are counted in UTF-16 code units (an emoji outside the Basic
Multilingual Plane counts 2).

:func:`split_message` cuts a long text into as few parts as it can, preferring
(in this order) blank lines between paragraphs, line breaks, sentence ends
(``。！？.!?`` followed by a space or a CJK character), spaces, and only then
anywhere. It never cuts inside a tag, an entity, a UTF-16 surrogate pair or a
composed character (an emoji with modifiers or joiners, a letter with its
combining marks). Tags open at a cut are closed at the end of the part and
reopened, with the same attributes, at the start of the next one, so every part
is valid HTML on its own.

Nothing visible is lost: the visible texts of the parts, joined with the
whitespace that was cut at, give back the original visible text. Only the
whitespace at a cut (the separator) is dropped; Telegram would trim it from
the ends of a message anyway.
"""

from __future__ import annotations

import bisect
import html as _html
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024

# One token: a tag, an entity, or a run of plain text. A "<" or "&" that starts
# neither is taken as text, so that counting never fails on sloppy input.
_TOKEN = re.compile(
    r"(?P<tag><(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?P<rest>\s[^<>]*|/)?>)"
    r"|(?P<entity>&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});)"
    r"|(?P<text>[^<&]+|[<&])"
)
_SENTENCE_ENDS = frozenset("。！？.!?")
# Spaces that promise not to break a line: dropped at a cut, but never chosen for one.
_NON_BREAKING = frozenset("\u00a0\u2007\u202f\ufeff")
_ZWJ = "\u200d"
_PREFORMATTED = frozenset({"pre", "code"})

# Cut ranks, best first.
_PARAGRAPH, _LINE, _SENTENCE, _SPACE, _ANYWHERE = 5, 4, 3, 2, 1

_OPEN, _CLOSE, _VOID, _TEXT = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class _Atom:
    """The smallest piece a cut may not enter: a tag, an entity, or one character."""

    raw: str
    text: str  # visible text ("" for tags)
    kind: int
    name: str = ""  # tag name, lower case
    width: int = 0  # UTF-16 code units of ``text``
    separator: bool = False  # whitespace a cut may drop
    breaking: bool = False  # whitespace a line may break at (not a no-break space)


_NOT_TAG = re.compile(r"<[^<>]*>")

def _utf16(text: str) -> int:
    # Characters above U+FFFF take a surrogate pair, i.e. two UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _joins(cluster: str, ch: str) -> bool:
    """Tell whether ``ch`` belongs to the character being built in ``cluster``."""
    code = ord(ch)
    if cluster.endswith("\r") and ch == "\n":
        return True
    if ch == _ZWJ or (cluster.endswith(_ZWJ) and not ch.isspace()):
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, flag tags
        return True
    if _is_regional_indicator(ch):  # flags are pairs of regional indicators
        return len(cluster) % 2 == 1 and all(map(_is_regional_indicator, cluster))
    # Combining marks, including variation selectors and the keycap sign.
    return unicodedata.category(ch) in ("Mn", "Me", "Mc") and not cluster.isspace()


def _clusters(text: str) -> Iterator[str]:
    """Split text into user-perceived characters (a practical subset of UAX #29)."""
    cluster = ""
    for ch in text:
        if cluster and _joins(cluster, ch):
            cluster += ch
        else:
            if cluster:
                yield cluster
            cluster = ch
    if cluster:
        yield cluster


def _text_atom(raw: str, text: str) -> _Atom:
    separator = text.isspace()
    breaking = separator and not any(ch in _NON_BREAKING for ch in text)
    return _Atom(raw, text, _TEXT, width=_utf16(text), separator=separator, breaking=breaking)


def _tokens(html: str) -> Iterator[re.Match[str]]:
    return _TOKEN.finditer(html)


def _atoms(html: str, max_width: int | None = None) -> list[_Atom]:
    """Cut ``html`` into atoms; characters wider than ``max_width`` fall apart into code points."""
    atoms: list[_Atom] = []
    for match in _tokens(html):
        if match.group("tag"):
            raw = match.group("tag")
            rest = match.group("rest") or ""
            if match.group("close"):
                kind = _CLOSE
            elif rest.endswith("/"):
                kind = _VOID
            else:
                kind = _OPEN
            atoms.append(_Atom(raw, "", kind, name=match.group("name").lower()))
        elif match.group("entity"):
            raw = match.group("entity")
            atoms.append(_text_atom(raw, _html.unescape(raw)))
        else:
            for cluster in _clusters(match.group("text")):
                if max_width is not None and _utf16(cluster) > max_width:
                    # Wider than a whole part (a long emoji sequence under a tiny
                    # limit): code points are the last unit we refuse to cut.
                    atoms.extend(_text_atom(ch, ch) for ch in cluster)
                else:
                    atoms.append(_text_atom(cluster, cluster))
    return atoms


def escape(text: str) -> str:
    """Escape the three characters Telegram's HTML needs escaped.

    Args:
        text: Plain text, e.g. a user's name.

    Returns:
        The text with ``&``, ``<`` and ``>`` replaced by entities.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def strip_tags(html: str) -> str:
    """Return the visible text of ``html``: tags removed, entities decoded.

    Args:
        html: Telegram HTML.

    Returns:
        What the reader sees.
    """
    out: list[str] = []
    for match in _tokens(html):
        if match.group("entity"):
            out.append(_html.unescape(match.group("entity")))
        elif match.group("text"):
            out.append(match.group("text"))
    return "".join(out)


def visible_length(html: str) -> int:
    """Return the length of the visible text in UTF-16 code units, as Telegram counts it.

    Args:
        html: Telegram HTML.

    Returns:
        The number of UTF-16 code units of :func:`strip_tags` of ``html``.
    """
    return _utf16(strip_tags(html))


def _is_cjk(ch: str) -> bool:
    """Tell whether ``ch`` is a CJK letter or digit (punctuation such as 」 is not)."""
    code = ord(ch)
    in_range = (0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF
                or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF
                or 0x20000 <= code <= 0x3FFFF)
    return in_range and unicodedata.category(ch)[0] in "LN"


@dataclass(frozen=True, slots=True)
class _Gap:
    """What lies between a visible character and the next one: tags and separators."""

    next_content: int  # index of the next non-separator visible atom (or len(atoms))
    breaking: bool  # holds whitespace a line may break at
    newlines: int


def _gaps(atoms: list[_Atom]) -> list[_Gap]:
    """For every atom index ``i``, the gap that starts at ``i`` (computed right to left)."""
    gaps: list[_Gap] = [_Gap(len(atoms), False, 0)] * (len(atoms) + 1)
    for i in range(len(atoms) - 1, -1, -1):
        atom, after = atoms[i], gaps[i + 1]
        if atom.kind != _TEXT:
            gaps[i] = after
        elif atom.separator:
            gaps[i] = _Gap(after.next_content, after.breaking or atom.breaking,
                           after.newlines + atom.text.count("\n"))
        else:
            gaps[i] = _Gap(i, False, 0)
    return gaps


def _rank(atoms: list[_Atom], gaps: list[_Gap], k: int) -> int:
    """How good it is to end a part right after ``atoms[k - 1]`` (a visible character)."""
    gap = gaps[k]
    sentence_end = atoms[k - 1].text[-1] in _SENTENCE_ENDS
    if gap.breaking:
        if gap.newlines >= 2:
            return _PARAGRAPH
        if gap.newlines == 1:
            return _LINE
        return _SENTENCE if sentence_end else _SPACE
    if sentence_end and gap.next_content < len(atoms) \
            and _is_cjk(atoms[gap.next_content].text[0]):
        return _SENTENCE
    return _ANYWHERE


def _apply(stack: list[_Atom], atom: _Atom) -> None:
    """Track which tags are open after ``atom``."""
    if atom.kind == _OPEN:
        stack.append(atom)
    elif atom.kind == _CLOSE:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].name == atom.name:
                del stack[i]
                break


def split_message(html: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split ``html`` into parts of at most ``limit`` visible UTF-16 units each.

    A text that fits is returned unchanged as the only part. Otherwise parts are
    cut at paragraph breaks, then line breaks, sentence ends, spaces, and
    anywhere else only as a last resort; the whitespace cut at is dropped, and
    tags open across a cut are closed and reopened so each part stands alone.

    Args:
        html: Telegram HTML (already escaped where needed).
        limit: The visible length allowed per part, in UTF-16 code units.

    Returns:
        The parts, in order; an empty or blank input gives ``[]``.

    Raises:
        ValueError: ``limit`` is below 2, the width of a single surrogate pair.
    """
    if limit < 2:
        raise ValueError("limit must allow at least two UTF-16 code units")
    if _utf16(html) <= limit and _NOT_TAG.sub("", html).strip():
        # Fast path for the many short notifications: tags and entities only shrink the
        # visible text, so a raw text within the limit is one part as it is.
        return [html]
    visible = strip_tags(html)
    if not visible.strip():
        return []  # Telegram refuses an empty message
    if _utf16(visible) <= limit:
        return [html]

    atoms = _atoms(html, max_width=limit)
    gaps = _gaps(atoms)
    # widths_before[i]: visible UTF-16 units of atoms[:i], to find how far a part may reach.
    widths_before = [0]
    for atom in atoms:
        widths_before.append(widths_before[-1] + atom.width)
    # Every place a part may end (right after a visible character), by rank,
    # in ascending order so the latest one within reach is a bisection away.
    ends: dict[int, list[int]] = {rank: [] for rank in range(_ANYWHERE, _PARAGRAPH + 1)}
    for k in range(1, len(atoms) + 1):
        if atoms[k - 1].kind == _TEXT and not atoms[k - 1].separator:
            ends[_rank(atoms, gaps, k)].append(k)
    last = max(candidates[-1] for candidates in ends.values() if candidates)  # end of the text

    parts: list[str] = []
    stack: list[_Atom] = []
    position = 0
    while True:
        # Skip the separator (and note the tags) before the next visible character.
        start = gaps[position].next_content
        if start >= len(atoms):
            break
        # In preformatted text the spaces after the last line break are indentation,
        # not separator: they stay (unless absurdly wide).
        line_start = start
        while line_start > position and "\n" not in atoms[line_start - 1].text:
            line_start -= 1
        if line_start == position and position > 0:
            line_start = start  # no line break in the gap: nothing is indentation
        for atom in atoms[position:line_start]:
            _apply(stack, atom)
        at_start = list(stack)
        for atom in atoms[line_start:start]:
            _apply(at_start, atom)
        if any(atom.name in _PREFORMATTED for atom in at_start) \
                and widths_before[start] - widths_before[line_start] <= limit // 2 \
                and widths_before[start + 1] - widths_before[line_start] <= limit:
            start = line_start  # the tags in between are written out with the body
        else:
            stack = at_start
        reach = bisect.bisect_right(widths_before, widths_before[start] + limit) - 1
        if reach >= last:
            end = last
        else:
            end = start + 1  # unreachable fallback: every atom fits, so some end exists
            for rank in range(_PARAGRAPH, _ANYWHERE - 1, -1):
                candidates = ends[rank]
                index = bisect.bisect_right(candidates, reach) - 1
                if index >= 0 and candidates[index] > start:
                    end = candidates[index]
                    break
        body: list[str] = [atom.raw for atom in stack]  # reopen what is open
        for atom in atoms[start:end]:
            body.append(atom.raw)
            _apply(stack, atom)
        body.extend(f"</{atom.name}>" for atom in reversed(stack))
        parts.append("".join(body))
        position = end
        if end >= last:
            break
    return parts
