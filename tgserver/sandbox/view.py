"""What the sandbox page shows: messages and chats as plain JSON, text as safe HTML."""

from __future__ import annotations

import html
from typing import Any

from tgserver.world import PRESENT, BotState, Chat, Message, User

_TAGS = {"bold": ("<b>", "</b>"), "italic": ("<i>", "</i>"),
         "underline": ("<u>", "</u>"), "strikethrough": ("<s>", "</s>"),
         "spoiler": ('<span class="spoiler">', "</span>"), "code": ("<code>", "</code>"),
         "pre": ("<pre>", "</pre>"), "blockquote": ("<blockquote>", "</blockquote>"),
         "expandable_blockquote": ("<blockquote>", "</blockquote>")}


def entities_to_html(text: str, entities: list[dict[str, Any]]) -> str:
    """The text with its entities as HTML; everything the sender wrote is escaped.

    Offsets are in UTF-16 code units, as Telegram counts them.
    """
    units = text.encode("utf-16-le")
    opens: dict[int, list[str]] = {}
    closes: dict[int, list[str]] = {}
    for entity in entities:
        start = int(entity.get("offset", 0))
        end = start + int(entity.get("length", 0))
        kind = entity.get("type")
        if kind == "text_link":
            url = str(entity.get("url", ""))
            safe = url if url.startswith(("http://", "https://", "tg://")) else "#"
            tag = (f'<a href="{html.escape(safe)}" target="_blank" rel="noopener">', "</a>")
        elif kind == "text_mention":
            user_id = int((entity.get("user") or {}).get("id", 0))
            tag = (f'<span class="mention" data-user="{user_id}">', "</span>")
        elif kind in ("mention", "bot_command", "hashtag"):
            tag = (f'<span class="{kind}">', "</span>")
        elif kind in _TAGS:
            tag = _TAGS[str(kind)]
        else:
            continue
        opens.setdefault(start, []).append(tag[0])
        closes.setdefault(end, []).insert(0, tag[1])
    out: list[str] = []
    for index in range(0, len(units) // 2 + 1):
        out.extend(closes.get(index, []))
        out.extend(opens.get(index, []))
        if index * 2 < len(units):
            unit = units[index * 2:index * 2 + 2]
            code = int.from_bytes(unit, "little")
            if 0xD800 <= code < 0xDC00:  # a surrogate pair is one character
                continue
            if 0xDC00 <= code < 0xE000:
                out.append(html.escape(units[index * 2 - 2:index * 2 + 2].decode("utf-16-le")))
            else:
                out.append(html.escape(unit.decode("utf-16-le")))
    return "".join(out)


def sender_name(sender: dict[str, Any]) -> str:
    """How a sender is shown: first and last name."""
    return " ".join(str(p) for p in (sender.get("first_name"), sender.get("last_name")) if p)


def message_view(message: Message, bot: BotState, persona: User) -> dict[str, Any]:
    """One message as the page draws it."""
    data: dict[str, Any] = {
        "id": message.message_id, "date": message.date,
        "from": sender_name(message.sender), "from_id": message.sender.get("id"),
        "is_bot": message.by_bot_id is not None, "mine": message.sender.get("id") == persona.id,
        "edited": message.edits > 0, "deleted": message.deleted,
    }
    if message.text is not None:
        data["html"] = entities_to_html(message.text, message.entities)
    if message.caption is not None:
        data["html"] = entities_to_html(message.caption, message.caption_entities)
    markup = message.reply_markup or {}
    if "inline_keyboard" in markup:
        data["buttons"] = [[{"text": str(b.get("text", "")),
                             **({"data": str(b["callback_data"])} if "callback_data" in b
                                else {}),
                             **({"url": str(b["url"])} if "url" in b else {})}
                            for b in row] for row in markup["inline_keyboard"]]
    if markup.get("force_reply"):
        data["force_reply"] = True
    if message.reply_to is not None:
        target = message.reply_to
        data["reply_to"] = {"id": target.message_id, "from": sender_name(target.sender),
                            "text": ((target.text or target.caption or "")[:80]
                                     if not target.deleted else "")}
    extra = message.extra
    photo = extra.get("photo")
    if isinstance(photo, list) and photo:
        data["photo"] = f"/files/{photo[-1]['file_id']}"
    document = extra.get("document")
    if isinstance(document, dict):
        data["document"] = {"name": document.get("file_name") or "file",
                            "url": f"/files/{document['file_id']}",
                            "size": document.get("file_size")}
    location = extra.get("location")
    if isinstance(location, dict):
        data["location"] = location
    poll = extra.get("poll")
    if isinstance(poll, dict):
        data["poll"] = {"question": poll.get("question"), "type": poll.get("type"),
                        "closed": poll.get("is_closed", False),
                        "options": [o.get("text") for o in poll.get("options", [])],
                        "votes": [o.get("voter_count", 0) for o in poll.get("options", [])]}
    service = _service_text(extra)
    if service:
        data["service"] = service
    return data


def _service_text(extra: dict[str, Any]) -> dict[str, str] | None:
    """A line for a service message (someone joined or left), in both languages."""
    joined = extra.get("new_chat_members")
    if isinstance(joined, list):
        names = "、".join(sender_name(u) for u in joined)
        return {"zh": f"{names} 加入了群组", "en": f"{names} joined the group"}
    left = extra.get("left_chat_member")
    if isinstance(left, dict):
        return {"zh": f"{sender_name(left)} 离开了群组", "en": f"{sender_name(left)} left"}
    return None


def may_open(chat: Chat, persona: User) -> bool:
    """Whether the persona sees this chat: a member of the group, or their own private chat."""
    if chat.type == "private":
        return chat.id == persona.id
    return chat.migrated_to is None and chat.status(persona.id) in PRESENT


def is_admin(chat: Chat, persona: User) -> bool:
    """Whether the persona administers the group (the admin command menu applies)."""
    return chat.status(persona.id) in ("creator", "administrator")


def commands_for(bot: BotState, chat: Chat, persona: User) -> list[dict[str, Any]]:
    """The command menu the bot registered for this chat, as the persona's client shows it.

    Telegram picks the narrowest scope that has commands, then the user's language
    over the scope's default.
    """
    if chat.type == "private":
        scopes = ["all_private_chats", "default"]
    elif is_admin(chat, persona):
        scopes = ["all_chat_administrators", "all_group_chats", "default"]
    else:
        scopes = ["all_group_chats", "default"]
    for scope in scopes:
        for lang in (persona.language_code, None):
            commands = bot.commands.get((scope, lang))
            if commands:
                return [{"command": str(c.get("command")),
                         "description": str(c.get("description"))} for c in commands]
    return []


def reply_suggestion(messages: list[Message], persona: User) -> int | None:
    """The bot prompt a Telegram client would open a reply to, for this persona.

    A ForceReply prompt that is the bot's latest message opens a reply for everyone,
    or, when selective, for those it mentions and the sender of the message it answers.
    """
    for message in reversed(messages):
        if message.deleted:
            continue
        if message.by_bot_id is None:
            if message.sender.get("id") == persona.id:
                return None  # they spoke since
            continue
        markup = message.reply_markup or {}
        if not markup.get("force_reply"):
            return None
        if not markup.get("selective"):
            return message.message_id
        mentioned = {int((e.get("user") or {}).get("id", 0)) for e in message.entities
                     if e.get("type") == "text_mention"}
        answered = message.reply_to.sender.get("id") if message.reply_to else None
        if persona.id in mentioned or answered == persona.id:
            return message.message_id
    return None
