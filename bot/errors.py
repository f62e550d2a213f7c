"""The one error handler: a short sentence to the user, the details to the log."""

from __future__ import annotations

import json
import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError
from telegram.ext import ContextTypes

from bot.services import get_services

log = logging.getLogger("safetybot.errors")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the update and traceback; tell the user in one sentence in their language."""
    error = context.error
    payload = update.to_dict() if isinstance(update, Update) else repr(update)
    log.error("error while handling update %s", json.dumps(payload, ensure_ascii=False,
                                                            default=str)[:4000],
              exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(error, Forbidden):
        return  # we cannot write there anyway
    services = get_services(context.bot_data)
    lang = services.settings.default_language
    try:
        from handlers.common import language_of  # handlers depend on bot, not the reverse

        async with services.db.session() as session:
            lang = await language_of(session, update, context)
    except Exception:  # the database may be what failed; the default language will do
        log.debug("could not find the language for the error message", exc_info=True)
    text = services.renderer.html("error.generic", lang)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(services.renderer.plain("error.generic", lang),
                                               show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except (NetworkError, Exception):
        log.warning("could not tell the user about the error", exc_info=True)
