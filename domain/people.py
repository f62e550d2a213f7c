"""Who is a person: Telegram sends some messages on behalf of chats, not people."""

from __future__ import annotations

# Telegram's placeholder user for anonymous group admins; `sender_chat` is the group.
GROUP_ANONYMOUS_BOT_ID = 1087968824
# Telegram's service account: forwards from linked channels arrive as this user.
TELEGRAM_SERVICE_ID = 777000
# Deprecated placeholder Telegram used for channel posts in discussion groups.
CHANNEL_BOT_ID = 136817688

NOT_PEOPLE = frozenset({GROUP_ANONYMOUS_BOT_ID, TELEGRAM_SERVICE_ID, CHANNEL_BOT_ID})


def is_person(user_id: int | None, *, is_bot: bool, sender_chat_id: int | None) -> bool:
    """Tell whether a message's sender is an identifiable human.

    A message posted "as the group" (anonymous admin), as a channel or by a bot
    cannot be attributed to anyone, so it must never pass a permission check.

    Args:
        user_id: ``from.id`` of the message or callback, if any.
        is_bot: ``from.is_bot``.
        sender_chat_id: ``sender_chat.id`` when the message was sent on behalf of a chat.
    """
    if user_id is None or is_bot or sender_chat_id is not None:
        return False
    return user_id not in NOT_PEOPLE


def display_name(first_name: str, last_name: str | None = None) -> str:
    """Join a Telegram first and last name the way people write them, trimmed to 64 chars."""
    name = " ".join(part for part in (first_name.strip(), (last_name or "").strip()) if part)
    return (name or "?")[:64]
