"""The driver: tests (and the sandbox) play the humans around one bot.

Example::

    d = server.driver(bot)
    alice = d.user("Alice", language_code="zh")
    team = d.group("甲班", members=[alice], admins=[alice])
    team.add_bot(by=alice)
    alice.send(team, "/setup")
    await d.until_delivered()
    alice.click(team.bot_messages()[-1], "合成甲班")
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tgserver.api import member_dict
from tgserver.world import (
    ANONYMOUS_ADMIN,
    PRESENT,
    BotState,
    Chat,
    ErrorRecord,
    Message,
    QueuedUpdate,
    User,
    command_entities,
)

if TYPE_CHECKING:
    from tgserver.server import TelegramTestServer


class ChatHandle:
    """A chat as the driver sees it."""

    def __init__(self, driver: Driver, chat: Chat) -> None:
        self.driver = driver
        self.chat = chat

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def title(self) -> str | None:
        return self.chat.title

    def bot_messages(self) -> list[Message]:
        """What the bot posted here, in order, as it looks now (deleted ones included)."""
        bot_id = self.driver.bot.user.id
        return [m for m in self.driver.world.messages.get(self.id, []) if m.by_bot_id == bot_id]

    def add_bot(self, by: UserHandle, *, as_admin: bool = False) -> None:
        """A member adds the bot: ``my_chat_member`` and a ``new_chat_members`` message."""
        bot = self.driver.bot
        old = self.chat.status(bot.user.id)
        new = "administrator" if as_admin else "member"
        self.chat.statuses[bot.user.id] = new
        self.driver._chat_member_update("my_chat_member", self.chat, by.user, bot.user, old, new)
        self.driver._post(self.chat, by.user,
                          extra={"new_chat_members": [bot.user.to_dict()]})

    def promote_bot(self, by: UserHandle, *, can_delete_messages: bool = True) -> None:
        """An admin makes the bot an administrator (``my_chat_member``), with or without
        the right to delete messages."""
        bot = self.driver.bot
        old = self.chat.status(bot.user.id)
        self.chat.statuses[bot.user.id] = "administrator"
        self.chat.rights[bot.user.id] = {"can_delete_messages": can_delete_messages}
        self.driver._chat_member_update("my_chat_member", self.chat, by.user, bot.user, old,
                                        "administrator")

    def visible_messages(self) -> list[Message]:
        """Every message in this chat that is not deleted, from anyone."""
        return [m for m in self.driver.world.messages.get(self.id, []) if not m.deleted]

    def add_bot_via_link(self, by: UserHandle, start_parameter: str) -> Message:
        """A member adds the bot through ``t.me/<bot>?startgroup=PARAM``: the bot is added,
        then the client sends ``/start@<bot> PARAM`` in the group from that member."""
        self.add_bot(by)
        text = f"/start@{self.driver.bot.user.username} {start_parameter}"
        return self.driver._post(self.chat, by.user, text=text)

    def kick_bot(self, by: UserHandle) -> None:
        """An admin removes the bot: it gets ``my_chat_member`` (kicked), then silence."""
        bot = self.driver.bot
        old = self.chat.status(bot.user.id)
        self.driver._chat_member_update("my_chat_member", self.chat, by.user, bot.user, old,
                                        "kicked")
        self.chat.statuses[bot.user.id] = "kicked"

    def add_member(self, user: UserHandle, by: UserHandle | None = None) -> Message:
        """Someone joins (or is added)."""
        old = self.chat.status(user.id)
        self.chat.statuses[user.id] = "member"
        actor = (by or user).user
        self.driver._chat_member_update("chat_member", self.chat, actor, user.user, old,
                                        "member")
        return self.driver._post(self.chat, actor,
                                 extra={"new_chat_members": [user.user.to_dict()]})

    def remove_member(self, user: UserHandle) -> Message:
        """Someone leaves."""
        old = self.chat.status(user.id)
        self.chat.statuses[user.id] = "left"
        self.driver._chat_member_update("chat_member", self.chat, user.user, user.user, old,
                                        "left")
        return self.driver._post(self.chat, user.user,
                                 extra={"left_chat_member": user.user.to_dict()})

    def migrate_to_supergroup(self) -> int:
        """Upgrade a basic group; returns the new chat id (this handle keeps the old one)."""
        world = self.driver.world
        new = world.new_group(self.chat.title or "", supergroup=True)
        new.statuses = dict(self.chat.statuses)
        owner = next((uid for uid, s in self.chat.statuses.items() if s == "creator"), None)
        actor = world.users[owner] if owner else self.driver.bot.user
        self.driver._post(self.chat, actor.to_dict(), extra={"migrate_to_chat_id": new.id})
        self.chat.migrated_to = new.id
        self.driver._post(new, actor.to_dict(), extra={"migrate_from_chat_id": self.chat.id})
        return new.id

    def send_as_anonymous_admin(self, text: str) -> Message:
        """An admin posting "as the group": Telegram hides who they are."""
        return self.driver._post(self.chat, dict(ANONYMOUS_ADMIN), text=text,
                                 sender_chat=self.chat.to_dict())


class UserHandle:
    """A simulated person."""

    def __init__(self, driver: Driver, user: User) -> None:
        self.driver = driver
        self.user = user

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    def _chat(self, chat: ChatHandle | int) -> Chat:
        return chat.chat if isinstance(chat, ChatHandle) else self.driver.world.chats[chat]

    def start_bot(self) -> Message:
        """Open the private chat with /start, so the bot may write first from now on."""
        return self.send(self.driver.private_chat(self), "/start")

    def block_bot(self) -> None:
        """The person blocks the bot: sends to them answer 403."""
        self.driver.bot.blocked.add(self.id)

    def unblock_bot(self) -> None:
        """The person unblocks the bot."""
        self.driver.bot.blocked.discard(self.id)

    def send(self, chat: ChatHandle | int, text: str, *, reply_to: Message | None = None,
             thread_id: int | None = None) -> Message:
        """Send a text (commands and @mentions get their entities)."""
        target = self._chat(chat)
        return self.driver._post(target, self.user, text=text, entities=command_entities(text),
                                 reply_to=reply_to, thread_id=thread_id)

    def edit(self, message: Message, text: str) -> Message:
        """Edit one's own text message: bots that may see it get ``edited_message``."""
        if message.sender.get("id") != self.id:
            raise AssertionError(f"{self.name} cannot edit {message!r}")
        message.text, message.entities = text, command_entities(text)
        message.edits += 1
        world = self.driver.world
        for bot in world.bots.values():
            chat = message.chat
            if (chat.type == "private" and bot is self.driver.bot) or (
                    chat.type != "private" and chat.status(bot.user.id) in PRESENT
                    and world._bot_sees(bot, message)):
                world.push(bot, "edited_message", message.to_dict())
        self.driver._remember_last()
        return message

    def send_photo(self, chat: ChatHandle | int, caption: str | None = None, *,
                   sizes: int = 3, reply_to: Message | None = None,
                   same_as: Message | None = None) -> Message:
        """A compressed photo, in several sizes like Telegram makes them.

        ``same_as`` forwards the photo of an earlier message (same ``file_unique_id``).
        """
        photo = same_as.photo if same_as is not None and same_as.photo else \
            self.driver.photo_sizes(sizes)
        return self.driver._post(self._chat(chat), self.user, caption=caption,
                                 caption_entities=command_entities(caption or ""),
                                 reply_to=reply_to, extra={"photo": photo})

    def send_document(self, chat: ChatHandle | int, filename: str = "file.bin",
                      content: bytes = b"", mime_type: str = "application/octet-stream",
                      caption: str | None = None, *, reply_to: Message | None = None,
                      file_size: int | None = None) -> Message:
        """A file as a document (uncompressed images come this way too).

        ``file_size`` claims a size without making the bytes (e.g. a 30 MB file).
        """
        stored = self.driver.server.api.new_file(content, "documents", filename)
        document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_name": filename, "mime_type": mime_type,
                    "file_size": file_size if file_size is not None else len(content)}
        return self.driver._post(self._chat(chat), self.user, caption=caption,
                                 reply_to=reply_to, extra={"document": document})

    def send_photo_file(self, chat: ChatHandle | int, content: bytes, filename: str = "photo.jpg",
                        caption: str | None = None, *,
                        reply_to: Message | None = None) -> Message:
        """A real picture as a compressed photo (the sandbox page's uploads): two sizes,
        both showing these bytes."""
        sizes = []
        for width in (320, 1280):
            stored = self.driver.server.api.new_file(content, "photos", filename)
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "width": width, "height": width * 3 // 4,
                          "file_size": len(content)})
        return self.driver._post(self._chat(chat), self.user, caption=caption,
                                 caption_entities=command_entities(caption or ""),
                                 reply_to=reply_to, extra={"photo": sizes})

    def send_location(self, chat: ChatHandle | int, latitude: float,
                      longitude: float, *, reply_to: Message | None = None) -> Message:
        """A location pin."""
        return self.driver._post(self._chat(chat), self.user, reply_to=reply_to,
                                 extra={"location": {"latitude": latitude,
                                                     "longitude": longitude}})

    def send_sticker(self, chat: ChatHandle | int, *, reply_to: Message | None = None) -> Message:
        """A sticker."""
        file_id, unique = self.driver.world.file_ids()
        sticker = {"file_id": file_id, "file_unique_id": unique, "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False}
        return self.driver._post(self._chat(chat), self.user, reply_to=reply_to,
                                 extra={"sticker": sticker})

    def send_video(self, chat: ChatHandle | int, *, reply_to: Message | None = None) -> Message:
        """A short video."""
        file_id, unique = self.driver.world.file_ids()
        video = {"file_id": file_id, "file_unique_id": unique, "width": 640, "height": 480,
                 "duration": 3}
        return self.driver._post(self._chat(chat), self.user, reply_to=reply_to,
                                 extra={"video": video})

    def send_media_group(self, chat: ChatHandle | int, photos: int = 3,
                         caption: str | None = None) -> list[Message]:
        """An album: several messages sharing a ``media_group_id``."""
        group_id = f"album{time.monotonic_ns()}"
        return [self.driver._post(self._chat(chat), self.user,
                                  caption=caption if index == 0 else None,
                                  extra={"photo": self.driver.photo_sizes(3),
                                         "media_group_id": group_id})
                for index in range(photos)]

    def click(self, message: Message, label: str) -> str:
        """Press the inline button with this label; returns the callback query id."""
        for row in (message.reply_markup or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("text") == label and "callback_data" in button:
                    return self.click_data(message, str(button["callback_data"]))
        raise AssertionError(f"no button {label!r} under {message!r}; "
                             f"buttons are {message.buttons}")

    def click_data(self, message: Message, data: str) -> str:
        """Send a callback query with any data, as a forged client could."""
        bot = self.driver.bot
        query_id = self.driver.world.callback_id()
        query = {"id": query_id, "from": self.user.to_dict(),
                 "chat_instance": str(abs(message.chat.id) * 7919 % 10**12),
                 "message": message.to_dict(), "data": data}
        bot.callback_queries[query_id] = query
        bot.callback_pressed_at[query_id] = time.monotonic()
        self.driver.world.push(bot, "callback_query", query)
        return query_id

    def click_late(self, message: Message, data: str) -> str:
        """A press that reaches the bot after Telegram's answer window closed.

        The query's id is forgotten at once, so answering it fails as Telegram's
        "query is too old" does (a bot with a backlog meets this under load).
        """
        query_id = self.click_data(message, data)
        self.driver.bot.callback_queries.pop(query_id, None)
        return query_id

    def answer_poll(self, message: Message, option_ids: list[int]) -> None:
        """Vote in a (non-anonymous) poll: the bot gets ``poll_answer``."""
        poll = message.extra.get("poll")
        if not isinstance(poll, dict):
            raise AssertionError(f"{message!r} has no poll")
        if len(option_ids) > 1 and not poll.get("allows_multiple_answers"):
            raise AssertionError("this poll takes one answer")
        for index in option_ids:
            poll["options"][index]["voter_count"] += 1
        poll["total_voter_count"] += 1
        self.driver.world.push(self.driver.bot, "poll_answer",
                               {"poll_id": poll["id"], "user": self.user.to_dict(),
                                "option_ids": option_ids,
                                # Required since Bot API 9.6 (PTB refuses an answer without).
                                "option_persistent_ids": [str(i) for i in option_ids]})


class Driver:
    """Plays the humans around one bot and reads what the bot did."""

    def __init__(self, server: TelegramTestServer, bot: BotState) -> None:
        self.server = server
        self.world = server.world
        self.bot = bot

    # ---- people and chats

    def user(self, name: str, *, username: str | None = None, language_code: str | None = "zh",
             last_name: str | None = None) -> UserHandle:
        """A new person."""
        user = self.world.new_user(name, last_name=last_name, username=username,
                                   language_code=language_code)
        return UserHandle(self, user)

    def group(self, title: str, members: Sequence[UserHandle] = (),
              admins: Sequence[UserHandle] = ()) -> ChatHandle:
        """A basic group; the first admin is its creator; the bot is not in it yet."""
        return self._group(title, list(members), list(admins), supergroup=False, forum=False)

    def supergroup(self, title: str, members: Sequence[UserHandle] = (),
                   admins: Sequence[UserHandle] = (), forum: bool = False) -> ChatHandle:
        """A supergroup (optionally a forum with topics)."""
        return self._group(title, list(members), list(admins), supergroup=True, forum=forum)

    def _group(self, title: str, members: list[UserHandle], admins: list[UserHandle], *,
               supergroup: bool, forum: bool) -> ChatHandle:
        chat = self.world.new_group(title, supergroup=supergroup, forum=forum)
        for member in members:
            chat.statuses[member.id] = "member"
        for index, admin in enumerate(admins):
            chat.statuses[admin.id] = "creator" if index == 0 else "administrator"
        return ChatHandle(self, chat)

    def chat(self, chat_id: int) -> ChatHandle:
        """The chat with this id."""
        return ChatHandle(self, self.world.chats[chat_id])

    def private_chat(self, user: UserHandle) -> ChatHandle:
        """The private chat between ``user`` and the bot."""
        return ChatHandle(self, self.world.private_chat(user.user))

    def private_messages(self, user: UserHandle) -> list[Message]:
        """What the bot wrote to ``user`` privately."""
        return self.private_chat(user).bot_messages()

    # ---- reading

    @property
    def errors(self) -> list[ErrorRecord]:
        """Every error the server returned to the bot."""
        return self.bot.errors

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """How the bot answered a callback query (None: not answered)."""
        return self.bot.callback_answers.get(query_id)

    def commands(self, scope_type: str = "default",
                 language_code: str | None = None) -> list[dict[str, Any]]:
        """The command menu the bot set for a scope and language."""
        return self.bot.commands.get((scope_type, language_code), [])

    def delivered_update_ids(self) -> list[int]:
        """Ids of every update queued for the bot so far."""
        return list(self.bot.queued_ids)

    def redeliver_last_update(self) -> None:
        """Queue the last update again with the same id, as Telegram does after a crash."""
        last = self.bot.queued_ids[-1]
        original = next((q.update for q in self.bot.queue if q.update_id == last), None)
        if original is None:
            original = self._sent_updates.get(last)
        if original is None:
            raise AssertionError("the last update is no longer known")
        self.bot.queue.append(QueuedUpdate(original))
        self.bot.arrived.set()
        self.world.touch()

    # ---- waiting (on events, never on timers)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds, re-checking after every server request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; bot errors: "
                                   f"{self.errors[-3:]}")
            self.world.changed.clear()
            if predicate():
                return
            try:
                await asyncio.wait_for(self.world.changed.wait(), remaining)
            except TimeoutError:
                continue

    async def until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until every queued update was fetched and confirmed by the bot."""
        await self.wait_for(lambda: not self.bot.queue, timeout)

    # ---- internals

    @property
    def _sent_updates(self) -> dict[int, dict[str, Any]]:
        return self.world.sent_updates.setdefault(self.bot.token, {})

    def photo_sizes(self, count: int) -> list[dict[str, Any]]:
        sizes = []
        for index in range(count):
            width = 90 * (4 ** index)
            content = os.urandom(64) + bytes(index)
            stored = self.server.api.new_file(content, "photos", f"{width}.jpg")
            sizes.append({"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "width": width, "height": width * 3 // 4,
                          "file_size": len(content)})
        return sizes

    def _post(self, chat: Chat, sender: User | dict[str, Any], **fields: Any) -> Message:
        sender_dict = sender.to_dict() if isinstance(sender, User) else sender
        if chat.type == "private":
            self.bot.started.add(chat.id)  # anything a user sends opens the chat
        if fields.get("text") is None:
            fields.pop("entities", None)
        elif "entities" not in fields:
            fields["entities"] = command_entities(fields["text"])
        if fields.get("caption") is None:
            fields.pop("caption_entities", None)
        message = self.world.add_message(chat, sender_dict, **fields)
        self.world.deliver_message(message, to=self.bot)
        self._remember_last()
        return message

    def _chat_member_update(self, kind: str, chat: Chat, actor: User, subject: User,
                            old: str, new: str) -> None:
        if kind == "chat_member" and chat.status(self.bot.user.id) not in (
                "administrator", "creator"):
            return  # Telegram tells only admin bots about other people's membership
        payload = {"chat": chat.to_dict(), "from": actor.to_dict(), "date": self.world.now(),
                   "old_chat_member": member_dict(subject.to_dict(), old),
                   "new_chat_member": member_dict(subject.to_dict(), new,
                                                  chat.rights.get(subject.id))}
        self.world.push(self.bot, kind, payload)
        self._remember_last()

    def _remember_last(self) -> None:
        for queued in self.bot.queue:
            self._sent_updates[queued.update_id] = queued.update

