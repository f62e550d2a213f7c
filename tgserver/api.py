"""The Bot API methods, on the simulated world."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tgserver.rules import (
    ApiError,
    bad_request,
    check_markup,
    check_text,
    parse_html,
)
from tgserver.webhooks import check_secret, check_webhook_url, refuse_polling, webhook_info
from tgserver.world import PRESENT, BotState, Chat, Message, StoredFile, World

JSON_FIELDS = frozenset({"reply_markup", "entities", "caption_entities", "allowed_updates",
                         "scope", "media", "options", "reply_parameters",
                         "link_preview_options", "commands", "menu_button", "message_ids"})
Method = Callable[["Api", BotState, dict[str, Any]], Awaitable[Any]]


def decode_params(raw: dict[str, Any]) -> dict[str, Any]:
    """JSON-decode the fields Telegram accepts as JSON-serialised strings."""
    params = dict(raw)
    for name in JSON_FIELDS & params.keys():
        value = params[name]
        if isinstance(value, str):
            try:
                params[name] = json.loads(value)
            except json.JSONDecodeError as exc:
                raise bad_request(f"can't parse {name} JSON object") from exc
    return params


def member_dict(user: dict[str, Any], status: str,
                rights: dict[str, bool] | None = None) -> dict[str, Any]:
    """A ChatMember object complete enough for any client library.

    An administrator has every right unless ``rights`` takes some away.
    """
    data: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update({name: True for name in (
            "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
            "can_restrict_members", "can_promote_members", "can_change_info",
            "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories",
            "can_pin_messages")})
        data["can_be_edited"] = False
        data["is_anonymous"] = False
        data.update(rights or {})
    elif status == "kicked":
        data["until_date"] = 0
    return data


class Api:
    """Implements each method; raises :class:`ApiError` exactly where Telegram would."""

    def __init__(self, world: World, files_base: str) -> None:
        self.world = world
        self.files_base = files_base
        self.methods: dict[str, Method] = {}
        # Told when a bot sets or deletes its webhook (the server delivers to it).
        self.webhooks_changed: Callable[[BotState], None] = lambda bot: None
        for attr in dir(type(self)):
            if attr.startswith("m_"):
                self.methods[attr[2:].lower()] = getattr(type(self), attr)

    async def call(self, bot: BotState, method: str, params: dict[str, Any]) -> Any:
        """Run one method."""
        handler = self.methods.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        return await handler(self, bot, params)

    # ------------------------------------------------------------ helpers

    def chat_for_sending(self, bot: BotState, params: dict[str, Any]) -> Chat:
        raw = params.get("chat_id")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise bad_request("chat not found") from exc
        chat = self.world.chats.get(chat_id)
        if chat is None and chat_id in self.world.users and chat_id > 0:
            chat = self.world.private_chat(self.world.users[chat_id])  # exists, never opened
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request("group chat was upgraded to a supergroup chat",
                              migrate_to_chat_id=chat.migrated_to)
        if chat.type == "private":
            if chat.id in bot.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat.id not in bot.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat.status(bot.user.id) not in PRESENT:
            if chat.status(bot.user.id) == "kicked":
                kind = "supergroup chat" if chat.type == "supergroup" else "group chat"
                raise ApiError(403, f"Forbidden: bot was kicked from the {kind}")
            raise ApiError(403, "Forbidden: bot is not a member of the group chat")
        return chat

    def formatted(self, params: dict[str, Any], field: str, *, caption: bool
                  ) -> tuple[str | None, list[dict[str, Any]]]:
        raw = params.get(field)
        if raw is None:
            if caption:
                return None, []
            raise bad_request("message text is empty")
        text = str(raw)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            plain, entities = parse_html(text)
        elif mode in ("markdown", "markdownv2"):
            raise bad_request("this test server supports parse_mode HTML only")
        else:
            plain = text
            entities = list(params.get("entities" if field == "text" else "caption_entities")
                            or [])
        check_text(plain, caption=caption)
        return plain, entities

    def reply_target(self, chat: Chat, params: dict[str, Any]) -> Message | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        message_id = message_id or params.get("reply_to_message_id")
        if not message_id:
            return None
        target = self.world.find_message(chat.id, int(message_id))
        lenient = isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        if target is None and not lenient:
            raise bad_request("message to be replied not found")
        return target

    def store(self, bot: BotState, chat: Chat, params: dict[str, Any], **fields: Any) -> Message:
        markup = params.get("reply_markup")
        check_markup(markup)
        thread = params.get("message_thread_id")
        message = self.world.add_message(
            chat, bot.user.to_dict(), by_bot_id=bot.user.id,
            reply_markup=markup if isinstance(markup, dict) else None,
            reply_to=self.reply_target(chat, params),
            thread_id=int(thread) if thread else None, **fields)
        self.world.touch()
        return message

    def file_from(self, params: dict[str, Any], field: str, uploads: dict[str, StoredFile],
                  prefix: str) -> StoredFile:
        value = params.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = value.removeprefix("attach://")
        if isinstance(value, str) and value in uploads:
            return uploads[value]
        if field in uploads:
            return uploads[field]
        if isinstance(value, str) and value in self.world.files:
            return self.world.files[value]
        raise bad_request(f"wrong file identifier/HTTP URL specified for {field}")

    def new_file(self, content: bytes, prefix: str, name: str = "file") -> StoredFile:
        file_id, unique = self.world.file_ids()
        stored = StoredFile(file_id, unique, f"{prefix}/{unique}_{name}", content)
        self.world.files[file_id] = stored
        return stored

    def editable(self, bot: BotState, params: dict[str, Any]) -> Message:
        chat = self.chat_for_sending(bot, params)
        message = self.world.find_message(chat.id, int(params.get("message_id") or 0))
        if message is None or message.by_bot_id != bot.user.id:
            raise bad_request("message to edit not found")
        return message

    # ------------------------------------------------------------ identity, updates

    async def m_getMe(self, bot: BotState, params: dict[str, Any]) -> Any:
        return {**bot.user.to_dict(), "can_join_groups": True,
                "can_read_all_group_messages": bot.can_read_all_group_messages,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def m_getUpdates(self, bot: BotState, params: dict[str, Any]) -> Any:
        refuse_polling(bot)
        if params.get("allowed_updates") is not None:
            bot.allowed_updates = list(params["allowed_updates"]) or None
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = float(params.get("timeout") or 0)
        if offset:
            before = len(bot.queue)
            bot.queue = [q for q in bot.queue if not (q.delivered and q.update_id < offset)]
            if len(bot.queue) != before:
                self.world.touch()
        pending = [q for q in bot.queue if q.update_id >= offset or q.delivered is False]
        if not pending and timeout > 0:
            bot.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.arrived.wait(), timeout)
            refuse_polling(bot)  # a webhook set while this poll waited takes the updates
            pending = [q for q in bot.queue if q.update_id >= offset or not q.delivered]
        batch = pending[:limit]
        for queued in batch:
            queued.delivered = True
        return [q.update for q in batch]

    async def m_deleteWebhook(self, bot: BotState, params: dict[str, Any]) -> Any:
        bot.webhook_url, bot.webhook_secret, bot.webhook_error = "", "", None
        if str(params.get("drop_pending_updates", "")).lower() in ("true", "1"):
            bot.queue.clear()
        self.webhooks_changed(bot)
        return True

    async def m_setWebhook(self, bot: BotState, params: dict[str, Any]) -> Any:
        url = str(params.get("url") or "")
        if not url:  # Telegram's way of removing the webhook too
            return await self.m_deleteWebhook(bot, params)
        check_webhook_url(url)
        secret = str(params.get("secret_token") or "")
        if secret:
            check_secret(secret)
        if params.get("allowed_updates") is not None:
            bot.allowed_updates = list(params["allowed_updates"]) or None
        if str(params.get("drop_pending_updates", "")).lower() in ("true", "1"):
            bot.queue.clear()
        # Updates a poll fetched but did not confirm go to the webhook now.
        for queued in bot.queue:
            queued.delivered = False
        bot.webhook_url, bot.webhook_secret, bot.webhook_error = url, secret, None
        self.webhooks_changed(bot)
        return True

    async def m_getWebhookInfo(self, bot: BotState, params: dict[str, Any]) -> Any:
        return webhook_info(bot)

    async def m_close(self, bot: BotState, params: dict[str, Any]) -> Any:
        return True

    async def m_logOut(self, bot: BotState, params: dict[str, Any]) -> Any:
        return True

    # ------------------------------------------------------------ sending

    async def m_sendMessage(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        text, entities = self.formatted(params, "text", caption=False)
        return self.store(bot, chat, params, text=text, entities=entities).to_dict()

    async def m_sendPhoto(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        caption, entities = self.formatted(params, "caption", caption=True)
        stored = self.file_from(params, "photo", params.get("_uploads", {}), "photos")
        sizes = [{"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                  "width": 1280, "height": 960, "file_size": len(stored.content)}]
        return self.store(bot, chat, params, caption=caption, caption_entities=entities,
                          extra={"photo": sizes}).to_dict()

    async def m_sendDocument(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        caption, entities = self.formatted(params, "caption", caption=True)
        stored = self.file_from(params, "document", params.get("_uploads", {}), "documents")
        document = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                    "file_name": stored.path.rsplit("_", 1)[-1],
                    "file_size": len(stored.content)}
        return self.store(bot, chat, params, caption=caption, caption_entities=entities,
                          extra={"document": document}).to_dict()

    async def m_sendMediaGroup(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media specified")
        results = []
        for item in media:
            kind = item.get("type", "photo")
            item_params = {**item, "_uploads": params.get("_uploads", {})}
            caption, entities = self.formatted(item_params, "caption", caption=True)
            stored = self.file_from(item_params, "media", params.get("_uploads", {}), kind)
            body: dict[str, Any] = ({"photo": [{"file_id": stored.file_id,
                                "file_unique_id": stored.file_unique_id,
                                "width": 1280, "height": 960}]} if kind == "photo"
                    else {"document": {"file_id": stored.file_id,
                                       "file_unique_id": stored.file_unique_id}})
            body["media_group_id"] = f"mg{chat.id}{len(self.world.messages[chat.id])}"
            results.append(self.store(bot, chat, {"reply_markup": None}, caption=caption,
                                      caption_entities=entities, extra=body).to_dict())
        return results

    async def m_sendLocation(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        location = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
        return self.store(bot, chat, params, extra={"location": location}).to_dict()

    async def m_sendPoll(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        options = params.get("options") or []
        texts = [o["text"] if isinstance(o, dict) else str(o) for o in options]
        if not 2 <= len(texts) <= 12:
            raise bad_request("poll must have at least 2 option")
        kind = params.get("type") or "regular"
        poll: dict[str, Any] = {
            "id": f"poll{self.world.callback_id()}", "question": str(params.get("question", "")),
            "options": [{"text": t, "voter_count": 0, "persistent_id": str(i)}
                        for i, t in enumerate(texts)], "total_voter_count": 0,
            "is_closed": False, "is_anonymous": str(params.get("is_anonymous", "true")).lower()
            not in ("false", "0"), "type": kind,
            "allows_multiple_answers": str(params.get("allows_multiple_answers", "false"))
            .lower() in ("true", "1"),
            # Required by PTB since Bot API 9.6 / 10.0; a quiz answer cannot be taken back.
            "allows_revoting": kind != "quiz", "members_only": False}
        if not 1 <= len(poll["question"]) <= 300:
            raise bad_request("poll question length must not exceed 300")
        if any(not 1 <= len(t) <= 100 for t in texts):
            raise bad_request("poll options length must not exceed 100")
        if kind == "quiz":
            # Bot API 9.6 takes a list (correct_option_ids); the single id still works.
            raw = params.get("correct_option_ids")
            if raw is None and params.get("correct_option_id") is not None:
                raw = [params["correct_option_id"]]
            if isinstance(raw, str):
                raw = json.loads(raw)
            correct = [int(i) for i in raw or []]
            if not correct or any(not 0 <= i < len(texts) for i in correct):
                raise bad_request("wrong correct option id specified")
            if len(correct) > 1 and not poll["allows_multiple_answers"]:
                raise bad_request("a quiz with several correct options must allow "
                                  "multiple answers")
            poll["correct_option_ids"] = correct
            explanation = str(params.get("explanation") or "")
            if len(explanation) > 200:
                raise bad_request("explanation length must not exceed 200")
            if explanation:
                # What Telegram shows a voter after answering a quiz.
                poll["explanation"] = explanation
        return self.store(bot, chat, params, extra={"poll": poll}).to_dict()

    async def m_stopPoll(self, bot: BotState, params: dict[str, Any]) -> Any:
        message = self.editable(bot, params)
        poll = message.extra.get("poll")
        if not isinstance(poll, dict):
            raise bad_request("message with poll to stop not found")
        poll["is_closed"] = True
        return poll

    async def m_sendChatAction(self, bot: BotState, params: dict[str, Any]) -> Any:
        self.chat_for_sending(bot, params)
        return True

    # ------------------------------------------------------------ editing

    def _edit(self, bot: BotState, params: dict[str, Any], field: str | None) -> Any:
        """Edit the text, the caption (``field``) and/or the buttons of a bot's message."""
        message = self.editable(bot, params)
        markup = params.get("reply_markup")
        check_markup(markup)
        after: dict[str, Any] = {"reply_markup": markup if isinstance(markup, dict) else None}
        if field is not None:
            value, entities = self.formatted(params, field, caption=field == "caption")
            after[field] = value
            after["entities" if field == "text" else "caption_entities"] = entities
        if all(getattr(message, name) == value for name, value in after.items()):
            raise _not_modified()
        for name, value in after.items():
            setattr(message, name, value)
        message.edits += 1
        self.world.touch()
        return message.to_dict()

    async def m_editMessageText(self, bot: BotState, params: dict[str, Any]) -> Any:
        return self._edit(bot, params, "text")

    async def m_editMessageCaption(self, bot: BotState, params: dict[str, Any]) -> Any:
        return self._edit(bot, params, "caption")

    async def m_editMessageReplyMarkup(self, bot: BotState, params: dict[str, Any]) -> Any:
        return self._edit(bot, params, None)

    @staticmethod
    def may_delete(bot: BotState, chat: Chat, message: Message) -> bool:
        """Telegram's rule: in a group a bot deletes others' messages only as an admin
        with ``can_delete_messages``; its own messages and private ones always."""
        if chat.type == "private" or message.by_bot_id == bot.user.id:
            return True
        status = chat.status(bot.user.id)
        if status == "creator":
            return True
        return status == "administrator" and \
            chat.rights.get(bot.user.id, {}).get("can_delete_messages", True)

    async def m_deleteMessage(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        message = self.world.find_message(chat.id, int(params.get("message_id") or 0))
        if message is None:
            raise bad_request("message to delete not found")
        if not self.may_delete(bot, chat, message):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.world.touch()
        return True

    async def m_deleteMessages(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.chat_for_sending(bot, params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        found = [m for m in (self.world.find_message(chat.id, int(i)) for i in ids)
                 if m is not None]  # Telegram skips the ones it cannot find
        if any(not self.may_delete(bot, chat, m) for m in found):
            raise bad_request("message can't be deleted")
        for message in found:
            message.deleted = True
        self.world.touch()
        return True

    async def m_answerCallbackQuery(self, bot: BotState, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id", ""))
        pressed_at = bot.callback_pressed_at.get(query_id)
        late = pressed_at is not None and \
            time.monotonic() - pressed_at > bot.callback_answer_window
        if query_id not in bot.callback_queries or query_id in bot.callback_answers or late:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        bot.callback_answered_at[query_id] = time.monotonic()
        bot.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": str(params.get("show_alert", "")).lower() in ("true", "1")}
        self.world.touch()
        return True

    # ------------------------------------------------------------ files

    async def m_getFile(self, bot: BotState, params: dict[str, Any]) -> Any:
        stored = self.world.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content), "file_path": stored.path}

    # ------------------------------------------------------------ chats

    def known_chat(self, params: dict[str, Any]) -> Chat:
        try:
            chat = self.world.chats.get(int(params.get("chat_id")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise bad_request("group chat was upgraded to a supergroup chat",
                              migrate_to_chat_id=chat.migrated_to)
        return chat

    async def m_getChat(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.known_chat(params)
        return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                        "unique_gifts": False, "premium_subscription": False,
                                        "gifts_from_channels": False}}

    async def m_getChatMember(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.known_chat(params)
        user_id = int(params.get("user_id") or 0)
        user = self.world.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return member_dict(user.to_dict(), chat.status(user_id), chat.rights.get(user_id))

    async def m_getChatAdministrators(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.known_chat(params)
        return [member_dict(self.world.users[uid].to_dict(), status, chat.rights.get(uid))
                for uid, status in chat.statuses.items()
                if status in ("creator", "administrator") and uid in self.world.users]

    async def m_getChatMemberCount(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.known_chat(params)
        return sum(1 for status in chat.statuses.values() if status in PRESENT)

    async def m_leaveChat(self, bot: BotState, params: dict[str, Any]) -> Any:
        chat = self.known_chat(params)
        chat.statuses[bot.user.id] = "left"
        self.world.touch()
        return True

    async def m_pinChatMessage(self, bot: BotState, params: dict[str, Any]) -> Any:
        self.chat_for_sending(bot, params)
        return True

    async def m_unpinChatMessage(self, bot: BotState, params: dict[str, Any]) -> Any:
        self.chat_for_sending(bot, params)
        return True

    async def m_setChatMenuButton(self, bot: BotState, params: dict[str, Any]) -> Any:
        return True

    # ------------------------------------------------------------ commands

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str | None]:
        scope = params.get("scope") or {"type": "default"}
        return str(scope.get("type", "default")), params.get("language_code") or None

    async def m_setMyCommands(self, bot: BotState, params: dict[str, Any]) -> Any:
        commands = params.get("commands") or []
        for command in commands:
            name, description = str(command.get("command", "")), str(
                command.get("description", ""))
            valid_name = 1 <= len(name) <= 32 and name.replace("_", "").isalnum() \
                and name == name.lower()
            if not valid_name or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_INVALID")
        bot.commands[self._scope_key(params)] = list(commands)
        self.world.touch()
        return True

    async def m_getMyCommands(self, bot: BotState, params: dict[str, Any]) -> Any:
        return bot.commands.get(self._scope_key(params), [])

    async def m_deleteMyCommands(self, bot: BotState, params: dict[str, Any]) -> Any:
        bot.commands.pop(self._scope_key(params), None)
        return True


def _not_modified() -> ApiError:
    return bad_request("message is not modified: specified new message content and reply "
                       "markup are exactly the same as a current content and reply markup "
                       "of the message")
