"""A Telegram Bot API server for tests and the local sandbox (loopback only).

The real python-telegram-bot ``Application`` runs against it unchanged
(``base_url=server.base_url``); a :class:`~tgserver.driver.Driver` plays the
humans, and the server enforces Telegram's rules (lengths, HTML, callback
data, kicked chats, migrations, flood limits) and injects faults.
"""

from tgserver.driver import ChatHandle, Driver, UserHandle
from tgserver.server import TelegramTestServer
from tgserver.world import BotState, Message

__all__ = ["BotState", "ChatHandle", "Driver", "Message", "TelegramTestServer", "UserHandle"]
