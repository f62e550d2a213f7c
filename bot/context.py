"""The context every handler gets: PTB's, plus what was worked out about the update.

Several helpers need the same facts about an update (the language to answer in,
whether the sender is a bot admin); they are looked up once per update and kept
here, so a button press does not open a database session per helper. PTB builds
one context per update and hands it to every handler group in turn.
"""

from __future__ import annotations

from typing import Any

from telegram.constants import ChatType
from telegram.ext import Application, CallbackContext, ExtBot

# The chats that are groups (the bot's team groups); private chats and channels are not.
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any],
                                 dict[Any, Any]]):
    """PTB's callback context with ``resolved``: facts about this update, looked up once.

    A handler that changes one of them (the language, the group's binding) calls
    :meth:`forget` so what it says next reads the new value.
    """

    def __init__(self, application: Application,  # type: ignore[type-arg]
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.resolved: dict[str, Any] = {}

    def forget(self) -> None:
        """Drop what was looked up (it changed during this update)."""
        self.resolved.clear()
