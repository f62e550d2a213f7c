"""Command menus per scope (private, groups, group admins) and per language."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
)
from telegram.error import TelegramError

from content.render import Renderer
from domain.language import SUPPORTED_LANGUAGES

log = logging.getLogger(__name__)

PRIVATE = ("start", "report", "incident", "idea", "ideas", "my", "checks", "quiz", "card",
           "myrecord", "hazards", "hazard", "export", "stats", "drill", "drills", "publish",
           "readstatus", "invite", "cancel", "whoami", "language", "help")
GROUP = ("report", "incident", "idea", "ideas", "my", "checks", "card", "hazards", "hazard",
         "handover", "handovers", "shifts", "evacuate", "drills", "cancel", "team", "whoami",
         "help")
GROUP_ADMIN = ("report", "incident", "idea", "ideas", "my", "checks", "card", "hazards",
               "hazard", "handover", "handovers", "shifts", "readstatus", "quizstats",
               "evacuate", "drills", "cancel", "team", "whoami", "setup", "role",
               "post",
               "language", "help")


def commands_for(names: tuple[str, ...], renderer: Renderer, lang: str) -> list[BotCommand]:
    """The menu entries for ``names`` in ``lang``."""
    return [BotCommand(name, renderer.plain(f"cmd.{name}", lang)) for name in names]


async def publish_menus(bot: Bot, renderer: Renderer, default_language: str) -> None:
    """Set every menu; a failure is logged, never fatal (the bot works without menus)."""
    scopes: list[tuple[BotCommandScope, tuple[str, ...]]] = [
        (BotCommandScopeAllPrivateChats(), PRIVATE),
        (BotCommandScopeAllGroupChats(), GROUP),
        (BotCommandScopeAllChatAdministrators(), GROUP_ADMIN),
    ]
    for scope, names in scopes:
        # No language_code: users whose language we do not speak get the default.
        variants: list[tuple[str | None, str]] = [(None, default_language)]
        variants += [(code, code) for code in SUPPORTED_LANGUAGES]
        for code, lang in variants:
            try:
                await bot.set_my_commands(commands_for(names, renderer, lang), scope=scope,
                                          language_code=code)
            except TelegramError:
                log.warning("could not set the %s menu (%s)", scope.type, code, exc_info=True)
