"""The one error handler: a short sentence to the user, the details to the log."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ExtBot

from bot.context import GROUP_TYPES, BotContext
from bot.services import get_services
from services.people import answer_language

log = logging.getLogger("safetybot.errors")

# Telegram forgets a callback query after some seconds; a few thousand ids cover that.
SETTLED_QUERIES_KEPT = 4096


def is_not_modified(error: BaseException | None) -> bool:
    """Telegram's "message is not modified": the message already reads as wanted."""
    return isinstance(error, BadRequest) and "message is not modified" in error.message.lower()


def is_expired_query(error: BaseException | None) -> bool:
    """Telegram's "query is too old …": the press can no longer be answered."""
    return isinstance(error, BadRequest) and "query is too old" in error.message.lower()


class CallbackAwareBot(ExtBot[Any]):
    """PTB's bot, remembering which button presses are settled.

    A press is settled once answered, or once Telegram said it is too old; either
    way a second answer only draws a 400, so the error handler asks here first.
    An answer that comes too late is not the handler's failure (the press itself
    is still handled): it is one short log line and ``False``.
    """

    __slots__ = ("_settled",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._settled: dict[str, None] = {}  # insertion order: the oldest go first

    def is_settled(self, query_id: str) -> bool:
        """Whether this press was answered (or expired) already."""
        return query_id in self._settled

    def _settle(self, query_id: str) -> None:
        self._settled[query_id] = None
        if len(self._settled) > SETTLED_QUERIES_KEPT:
            del self._settled[next(iter(self._settled))]

    async def answer_callback_query(self, callback_query_id: str, *args: Any,
                                    **kwargs: Any) -> bool:
        """Answer a press and remember it; a press answered too late is logged, not raised."""
        try:
            answered = await super().answer_callback_query(callback_query_id, *args, **kwargs)
        except BadRequest as error:
            if not is_expired_query(error):
                raise
            self._settle(callback_query_id)
            log.warning("button press %s was answered too late (Telegram's answer window "
                        "had closed)", callback_query_id)
            return False
        self._settle(callback_query_id)
        return bool(answered)


def describe(update: object) -> str:
    """One line naming an update for the log: id, kind, chat, sender, button or command.

    Never the whole update: its JSON runs to kilobytes and holds what people wrote.
    """
    if not isinstance(update, Update):
        return repr(update)[:200]
    kind = next((name for name in Update.ALL_TYPES if getattr(update, name, None) is not None),
                "unknown")
    parts = [f"update {update.update_id} ({kind})"]
    if update.effective_chat is not None:
        parts.append(f"chat {update.effective_chat.id}")
    if update.effective_user is not None:
        parts.append(f"user {update.effective_user.id}")
    query = update.callback_query
    if query is not None:
        parts.append(f"query {query.id} data {(query.data or '')[:64]!r}")
    message = update.effective_message
    text = (message.text or message.caption or "") if message is not None else ""
    if text.startswith("/"):
        parts.append(f"command {text.split(maxsplit=1)[0][:64]!r}")
    return ", ".join(parts)


async def on_error(update: object, context: BotContext) -> None:
    """Log what failed; tell the user in one sentence in their language.

    "Not modified" is success, and a press answered too late is one short line,
    so neither is logged as an error. A press already answered is never answered
    again: the answer is gone and a second one only draws a 400.
    """
    error = context.error
    if is_not_modified(error):
        log.debug("%s: the message already read so", describe(update))
        return
    if is_expired_query(error):
        log.warning("%s: answered too late (Telegram's answer window had closed)",
                    describe(update))
        return
    log.error("error while handling %s", describe(update), exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(error, Forbidden):
        return  # we cannot write there anyway
    query = update.callback_query
    bot = context.bot
    if query is not None and isinstance(bot, CallbackAwareBot) and bot.is_settled(query.id):
        return  # answered before the error: a second answer would only draw a 400
    services = get_services(context.bot_data)
    lang = services.settings.default_language
    try:
        chat, user = update.effective_chat, update.effective_user
        async with services.db.session() as session:
            lang = await answer_language(
                session, group_chat_id=chat.id if chat.type in GROUP_TYPES else None,
                telegram_id=user.id if user is not None else None,
                language_code=user.language_code if user is not None else None,
                default=lang)
    except Exception:  # the database may be what failed; the default language will do
        log.debug("could not find the language for the error message", exc_info=True)
    try:
        if query is not None:
            await query.answer(services.renderer.plain("error.generic", lang), show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id,
                                           services.renderer.html("error.generic", lang))
    except Exception:  # the error handler must not fail in turn
        log.warning("could not tell the user about the error: %s", describe(update))
