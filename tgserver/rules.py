"""Telegram's rules for what a bot may send: HTML, lengths, buttons."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

_TOKEN = re.compile(r"<[^<>]*>|&[^&;<>\s]*;|<|[^<&]+|&", re.S)
_TAG = re.compile(r"^<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)\s*(.*?)\s*>$", re.S)
_ATTR = re.compile(r"""([A-Za-z][\w-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
           "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
           "del": "strikethrough", "tg-spoiler": "spoiler", "code": "code", "pre": "pre",
           "blockquote": "blockquote", "a": "text_link", "span": "spoiler",
           "tg-emoji": "custom_emoji"}


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str,
                 parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad_request(text: str, **parameters: Any) -> ApiError:
    """A 400 answer with Telegram's "Bad Request: …" prefix."""
    return ApiError(400, f"Bad Request: {text}", parameters or None)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    name: str
    entity: dict[str, Any]
    start: int  # UTF-16 offset in the plain text


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and entities, or raise Telegram's 400."""
    plain: list[str] = []
    length = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    byte_offset = 0
    for match in _TOKEN.finditer(source):
        token = match.group(0)
        where = byte_offset
        byte_offset += len(token.encode("utf-8"))
        if token.startswith("<"):
            tag = _TAG.match(token)
            if tag is None:
                raise _cant_parse(f'Unsupported start tag "{token[1:20]}"', where)
            closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
            if closing:
                if not stack:
                    raise _cant_parse(f'Unexpected end tag "{name}"', where)
                if stack[-1].name != name:
                    raise _cant_parse(f'Can\'t find end tag corresponding to start tag '
                                      f'"{stack[-1].name}"', where)
                opened = stack.pop()
                opened.entity["offset"] = opened.start
                opened.entity["length"] = length - opened.start
                if opened.entity["length"] > 0:
                    entities.append(opened.entity)
                continue
            stack.append(_Open(name, _entity_for(name, attrs, where, stack), length))
            continue
        if token.startswith("&") and token.endswith(";") and len(token) > 2:
            text = _entity_text(token, where)
        else:
            text = token
        plain.append(text)
        length += utf16_len(text)
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"',
                          byte_offset)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _cant_parse(reason: str, offset: int) -> ApiError:
    return bad_request(f"can't parse entities: {reason} at byte offset {offset}")


def _entity_for(name: str, attrs: str, where: int, stack: list[_Open]) -> dict[str, Any]:
    if name not in _SIMPLE:
        raise _cant_parse(f'Unsupported start tag "{name}"', where)
    values = {m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or "")
              for m in _ATTR.finditer(attrs)}
    entity: dict[str, Any] = {"type": _SIMPLE[name]}
    if name == "span" and values.get("class") != "tg-spoiler":
        raise _cant_parse('Tag "span" must have class "tg-spoiler"', where)
    if name == "a":
        href = values.get("href", "")
        if href.startswith("tg://user?id="):
            entity = {"type": "text_mention",
                      "user": {"id": int(href.split("=", 1)[1] or 0), "is_bot": False,
                               "first_name": "?"}}
        elif not href:
            entity = {"type": "bold"}  # Telegram drops links without href; keep the text
        else:
            entity["url"] = href
    if name == "code" and stack and stack[-1].name == "pre" and "class" in values:
        stack[-1].entity["language"] = values["class"].removeprefix("language-")
        entity = {"type": "code"}
    if name == "blockquote" and "expandable" in values:
        entity["type"] = "expandable_blockquote"
    if name == "tg-emoji":
        entity["custom_emoji_id"] = values.get("emoji-id", "")
    return entity


def _entity_text(token: str, where: int) -> str:
    body = token[1:-1]
    if body.startswith("#"):
        try:
            code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
            return chr(code)
        except (ValueError, OverflowError) as exc:
            raise _cant_parse(f'Unsupported HTML entity "{token}"', where) from exc
    if body in _NAMED:
        return _NAMED[body]
    raise _cant_parse(f'Unsupported HTML entity "{token}"', where)


def check_text(plain: str, *, caption: bool = False) -> None:
    """Telegram's length rules for a text or a caption (after parsing)."""
    size = utf16_len(plain.strip())
    if caption:
        if size > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        return
    if size == 0:
        raise bad_request("message text is empty")
    if size > TEXT_LIMIT:
        raise bad_request("message is too long")


def check_markup(markup: Any) -> None:
    """Inline keyboards: button texts non-empty, callback data 1..64 bytes."""
    if not isinstance(markup, dict):
        return
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text", "")).strip():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                size = len(str(button["callback_data"]).encode("utf-8"))
                if not 1 <= size <= CALLBACK_DATA_LIMIT:
                    raise bad_request("BUTTON_DATA_INVALID")
