"""A Telegram Bot API server for tests and the local sandbox (loopback only).

The real python-telegram-bot ``Application`` runs against it unchanged
(``base_url=server.base_url``); a :class:`~tgserver.driver.Driver` plays the
humans, and the server enforces Telegram's rules (lengths, HTML, callback
data, kicked chats, migrations, flood limits) and injects faults.
"""


from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tgserver.server import TelegramTestServer
from tgserver.world import BotState, Message

if TYPE_CHECKING:
    from tgserver.driver import ChatHandle, Driver, UserHandle

__all__ = ["BotState", "ChatHandle", "Driver", "Message", "TelegramTestServer", "UserHandle"]
_DRIVER_NAMES = frozenset({"ChatHandle", "Driver", "UserHandle"})


def __getattr__(name: str) -> Any:
    # The driver is for tests and the sandbox page: the server runs without loading it.
    if name in _DRIVER_NAMES:
        from tgserver import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'tgserver' has no attribute {name!r}")
