"""Sending what a conversation step says (services.prompts.Reply) and answering its buttons."""

from __future__ import annotations

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from handlers.common import Context, reply, runtime, services, update_language
from services.prompts import Reply


async def send_prompts(update: Update, context: Context, answer: Reply) -> None:
    """Send each prompt as a reply: ForceReply where a typed answer is awaited, else its
    keyboard. Wakes the outbox sender when the step queued notices."""
    if answer.queued:
        runtime(context).wake()
    for prompt in answer.prompts:
        markup = InlineKeyboardMarkup.de_json(prompt.keyboard, context.bot) \
            if prompt.keyboard else None
        await reply(update, context, prompt.key, force_reply=prompt.force_reply,
                    reply_markup=markup, **prompt.values)


async def answer_press(update: Update, context: Context, query: CallbackQuery,
                       answer: Reply) -> None:
    """Answer a button press at once: a refusal in a box (nothing changed), else the
    step's prompts in the chat (the press itself gets an empty answer)."""
    lang = await update_language(update, context)
    if (answer.refused or answer.toast) and answer.prompts:
        first = answer.prompts[0]
        await query.answer(services(context).renderer.plain(first.key, lang, **first.values),
                           show_alert=answer.refused)
        if answer.queued:
            runtime(context).wake()
        return
    await query.answer()
    await send_prompts(update, context, answer)
