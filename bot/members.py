"""Asking Telegram whether someone is in a group: for people the bot has not seen there.

With privacy mode on the bot sees few plain messages, so a voter in a team's quiz
poll may be unknown to it; Telegram's getChatMember settles it. The chat edge and
the timetable both ask, through this one function.
"""

from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from services.quizzes import IsGroupMember

log = logging.getLogger(__name__)

_IN_GROUP = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR,
                       ChatMemberStatus.OWNER})


def group_member_check(bot: Bot) -> IsGroupMember:
    """``is_member(chat_id, telegram_id)`` answered by Telegram through ``bot``."""

    async def is_member(chat_id: int, telegram_id: int) -> bool:
        try:
            member = await bot.get_chat_member(chat_id, telegram_id)
        except TelegramError as exc:
            log.info("getChatMember %s in %s: %s", telegram_id, chat_id, exc)
            return False  # not known to Telegram there: not a member
        return member.status in _IN_GROUP or (member.status == ChatMemberStatus.RESTRICTED
                                              and bool(getattr(member, "is_member", False)))

    return is_member
