"""The simulated Telegram: users, chats, messages, and each bot's update queue."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tgserver.rules import utf16_len

ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                   "username": "GroupAnonymousBot"}
PRESENT = frozenset({"creator", "administrator", "member"})
# Telegram leaves these out unless a bot asks for them by name.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class User:
    """A Telegram account (a person or a bot)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot,
                                "first_name": self.first_name}
        for name in ("last_name", "username", "language_code"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        return data

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass
class Chat:
    """A private chat, group or supergroup."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    is_forum: bool = False
    statuses: dict[int, str] = field(default_factory=dict)  # user id → status
    rights: dict[int, dict[str, bool]] = field(default_factory=dict)  # admin rights taken away
    migrated_to: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title is not None:
            data["title"] = self.title
        if self.first_name is not None:
            data["first_name"] = self.first_name
        if self.is_forum:
            data["is_forum"] = True
        return data

    def status(self, user_id: int) -> str:
        return self.statuses.get(user_id, "left")


@dataclass
class Message:
    """A stored message, in the state it is now (after edits and deletions)."""

    chat: Chat
    message_id: int
    date: int
    sender: dict[str, Any]
    by_bot_id: int | None = None
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to: Message | None = None
    thread_id: int | None = None
    sender_chat: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # photo, document, service fields…
    deleted: bool = False
    edits: int = 0

    def to_dict(self, depth: int = 0) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": self.message_id, "date": self.date,
                                "chat": self.chat.to_dict(), "from": self.sender}
        if self.sender_chat is not None:
            data["sender_chat"] = self.sender_chat
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.reply_to is not None and depth == 0:
            data["reply_to_message"] = self.reply_to.to_dict(depth + 1)
        if self.thread_id is not None:
            data["message_thread_id"] = self.thread_id
            data["is_topic_message"] = True
        if self.edits:
            data["edit_date"] = self.date
        data.update(self.extra)
        return data

    # ---- what tests read

    @property
    def reply_to_message_id(self) -> int | None:
        return self.reply_to.message_id if self.reply_to else None

    @property
    def buttons(self) -> list[list[str]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[str(b.get("text", "")) for b in row] for row in rows]

    @property
    def photo(self) -> list[dict[str, Any]] | None:
        value = self.extra.get("photo")
        return value if isinstance(value, list) else None

    @property
    def document(self) -> dict[str, Any] | None:
        value = self.extra.get("document")
        return value if isinstance(value, dict) else None

    def __repr__(self) -> str:
        return f"<Message {self.chat.id}/{self.message_id} {(self.text or self.caption)!r}>"


@dataclass
class StoredFile:
    """An uploaded or generated file."""

    file_id: str
    file_unique_id: str
    path: str
    content: bytes


@dataclass
class ErrorRecord:
    """An error answer the server gave a bot."""

    method: str
    params: dict[str, Any]
    error_code: int
    description: str


@dataclass
class QueuedUpdate:
    """An update waiting in a bot's queue."""

    update: dict[str, Any]
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class BotState:
    """Everything the server keeps for one bot token."""

    def __init__(self, user: User, token: str, can_read_all_group_messages: bool) -> None:
        self.user = user
        self.token = token
        self.can_read_all_group_messages = can_read_all_group_messages
        self.queue: list[QueuedUpdate] = []
        self.queued_ids: list[int] = []
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        # When and why the last webhook delivery failed (getWebhookInfo tells it).
        self.webhook_error: tuple[int, str] | None = None
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        # When each press was made and answered (time.monotonic()): Telegram stops
        # waiting for an answer after about 15 s, and a benchmark measures the wait.
        self.callback_pressed_at: dict[str, float] = {}
        self.callback_answered_at: dict[str, float] = {}
        self.callback_answer_window = 15.0
        self.errors: list[ErrorRecord] = []
        self.arrived = asyncio.Event()

    def allows(self, kind: str) -> bool:
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in NOT_BY_DEFAULT


class World:
    """All users, chats and messages, shared by every bot on the server."""

    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, list[Message]] = {}
        self.bots: dict[str, BotState] = {}
        self.files: dict[str, StoredFile] = {}
        # Every update ever queued, per bot token, so a redelivery can be simulated.
        self.sent_updates: dict[str, dict[int, dict[str, Any]]] = {}
        self.changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._user_ids = itertools.count(100001)
        self._group_ids = itertools.count(4000001)
        self._supergroup_ids = itertools.count(1000000001)
        self._callback_ids = itertools.count(1)
        # Message dates come from here: the sandbox points it at the bot's clock.
        self.clock: Callable[[], float] = time.time
        # Called on every change (the sandbox page's live updates listen here).
        self.listeners: list[Callable[[], None]] = []

    def now(self) -> int:
        """The server's time as a Unix timestamp (message dates)."""
        return int(self.clock())

    # ---- making things

    def new_user(self, first_name: str, **fields: Any) -> User:
        user = User(next(self._user_ids), first_name, **fields)
        self.users[user.id] = user
        return user

    def new_group(self, title: str, *, supergroup: bool = False, forum: bool = False) -> Chat:
        if supergroup:
            chat = Chat(-(1000000000000 + next(self._supergroup_ids)), "supergroup", title=title,
                        is_forum=forum)
        else:
            chat = Chat(-next(self._group_ids), "group", title=title)
        self.chats[chat.id] = chat
        self.messages[chat.id] = []
        return chat

    def private_chat(self, user: User) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(user.id, "private", first_name=user.first_name)
            chat.statuses[user.id] = "member"
            self.chats[chat.id] = chat
            self.messages[chat.id] = []
        return chat

    def add_message(self, chat: Chat, sender: dict[str, Any], **fields: Any) -> Message:
        history = self.messages.setdefault(chat.id, [])
        message = Message(chat=chat, message_id=len(history) + 1, date=self.now(),
                          sender=sender, **fields)
        history.append(message)
        return message

    def find_message(self, chat_id: int, message_id: int) -> Message | None:
        for message in self.messages.get(chat_id, []):
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    # ---- kept between runs (the sandbox)

    def export_history(self) -> dict[str, list[dict[str, Any]]]:
        """Every chat's messages as JSON-ready records (see :meth:`import_history`)."""
        return {str(chat_id): [_record(m) for m in history]
                for chat_id, history in self.messages.items() if history}

    def import_history(self, data: dict[str, list[dict[str, Any]]]) -> None:
        """Put back the messages of chats that exist (by id), replies linked again."""
        for raw_id, records in data.items():
            chat = self.chats.get(int(raw_id))
            if chat is None:
                continue
            history: list[Message] = []
            by_id: dict[int, Message] = {}
            for record in records:
                fields = dict(record)
                reply_to = by_id.get(int(fields.pop("reply_to", 0) or 0))
                message = Message(chat=chat, reply_to=reply_to, **fields)
                history.append(message)
                by_id[message.message_id] = message
            self.messages[chat.id] = history

    @property
    def id_mark(self) -> int:
        """The next number file and callback ids are made from."""
        value = next(self._ids)
        self._ids = itertools.count(value)
        return value

    def skip_ids(self, mark: int) -> None:
        """Make new ids from ``mark`` on, so none repeats one from an earlier run."""
        self._ids = itertools.count(max(mark, self.id_mark))

    def callback_id(self) -> str:
        return f"{next(self._callback_ids)}{next(self._ids):06d}"

    def file_ids(self) -> tuple[str, str]:
        n = next(self._ids)
        return f"AgAC{n:010d}FILE", f"AQAD{n:06d}"

    def touch(self) -> None:
        """Wake everyone waiting for the world to change."""
        self.changed.set()
        for listener in list(self.listeners):
            listener()

    # ---- updates

    def push(self, bot: BotState, kind: str, payload: dict[str, Any]) -> None:
        """Queue an update for a bot, if Telegram would send it."""
        if not bot.allows(kind):
            return
        update_id = bot.next_update_id
        update: dict[str, Any] = {"update_id": update_id, kind: payload}
        bot.next_update_id += 1
        bot.queue.append(QueuedUpdate(update))
        bot.queued_ids.append(update_id)
        bot.arrived.set()
        self.touch()

    def deliver_message(self, message: Message, to: BotState | None = None) -> None:
        """Give a new message to every bot that may see it (privacy mode applies).

        A private message goes to the bot ``to`` the person is writing to (each bot
        has its own private chat with them, under the same chat id); without ``to``,
        to every bot.
        """
        for bot in self.bots.values():
            chat = message.chat
            if chat.type == "private":
                # Only the user can open a private chat with a bot, so it always arrives.
                if to is None or bot is to:
                    self.push(bot, "message", message.to_dict())
                continue
            if chat.status(bot.user.id) not in PRESENT:
                continue
            if self._bot_sees(bot, message):
                self.push(bot, "message", message.to_dict())

    def _bot_sees(self, bot: BotState, message: Message) -> bool:
        chat = message.chat
        if bot.can_read_all_group_messages or chat.status(bot.user.id) in ("administrator",
                                                                          "creator"):
            return True
        if any(key in message.extra for key in ("new_chat_members", "left_chat_member",
                                                "migrate_to_chat_id", "migrate_from_chat_id",
                                                "pinned_message", "group_chat_created")):
            return True
        if message.reply_to is not None and message.reply_to.by_bot_id == bot.user.id:
            return True
        text = message.text or message.caption or ""
        if text.startswith("/"):
            command = text.split()[0]
            return "@" not in command or command.split("@", 1)[1].lower() == \
                (bot.user.username or "").lower()
        return f"@{(bot.user.username or '').lower()}" in text.lower()


def _record(message: Message) -> dict[str, Any]:
    return {"message_id": message.message_id, "date": message.date, "sender": message.sender,
            "by_bot_id": message.by_bot_id, "text": message.text,
            "entities": message.entities, "caption": message.caption,
            "caption_entities": message.caption_entities,
            "reply_markup": message.reply_markup,
            "reply_to": message.reply_to.message_id if message.reply_to else None,
            "thread_id": message.thread_id, "sender_chat": message.sender_chat,
            "extra": message.extra, "deleted": message.deleted, "edits": message.edits}


def command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities, the way Telegram's clients mark them."""
    entities: list[dict[str, Any]] = []
    offset = 0
    for word in text.split(" "):
        bare = word.strip("\n")
        if bare.startswith("/") and len(bare) > 1:
            entities.append({"type": "bot_command", "offset": offset, "length": utf16_len(bare)})
        elif bare.startswith("@") and len(bare) > 1:
            entities.append({"type": "mention", "offset": offset, "length": utf16_len(bare)})
        offset += utf16_len(word) + 1
    return entities
