"""Policy documents in chat: "read and understood" and ``/readstatus``.

Each handler parses the update, calls services/documents.py and answers; the
roll-call edits a read causes go through the outbox. The ``/publish``
conversation is handlers/publishing.py.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers import publishing
from handlers.common import (
    Context,
    actor_of,
    is_group,
    language_of,
    reply,
    runtime,
    send_html,
    sender,
    services,
)
from services.buttons import parse_button
from services.documents import DocumentButton, acknowledge, read_status

# ---------------------------------------------------------------- read and understood


async def ack_clicked(update: Update, context: Context) -> None:
    """"Read and understood": in the team group, in a reminder or in a private copy."""
    query = update.callback_query
    assert query is not None
    svc, chat = services(context), update.effective_chat
    button = parse_button(query.data)
    actor = None
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        if isinstance(button, DocumentButton) and chat is not None:
            actor = await actor_of(session, update, context)
    if not isinstance(button, DocumentButton) or chat is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    if actor is None:
        await query.answer(svc.renderer.plain("document.anonymous", lang), show_alert=True)
        return
    outcome = await acknowledge(runtime(context), actor, button.document_id, chat.id)
    await query.answer(svc.renderer.plain(outcome.key, lang), show_alert=not outcome.ok)


# ---------------------------------------------------------------- /readstatus


async def readstatus_command(update: Update, context: Context) -> None:
    """/readstatus [document]: read rates rolling up the tree, and who is missing."""
    chat = update.effective_chat
    if chat is None:
        return
    if sender(update) is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    wanted = context.args[0].strip().lower() if context.args else None
    async with svc.db.transaction() as session:
        actor = await actor_of(session, update, context)
        lang = await language_of(session, update, context)
    assert actor is not None
    outcome = await read_status(runtime(context), actor,
                                group_chat_id=chat.id if is_group(chat) else None,
                                wanted=wanted, lang=lang)
    if not outcome.ok:
        await reply(update, context, outcome.key, **outcome.values)
        return
    message = update.effective_message
    assert message is not None
    await send_html(message, svc.renderer.html(outcome.key, lang, **outcome.values))


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /publish, /readstatus, their buttons and the publishing conversation."""
    publishing.register(application)
    application.add_handler(CommandHandler("readstatus", readstatus_command))
    application.add_handler(CallbackQueryHandler(ack_clicked, pattern=r"^doc:"))
