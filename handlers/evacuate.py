"""Stop work / evacuate (停工撤人): ``/evacuate [reason]``, ``/evacuate end``, the buttons.

Parse → services/evacuation.py → answer. The rights (team leader or above over
the team, or a bot admin) are the service's; whether a presser is in the group
is Telegram's word (``getChatMember``), since a forwarded alert keeps its buttons.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from handlers.common import (
    Context,
    actor_of,
    is_group,
    reply,
    runtime,
    sender,
    services,
    team_here,
    update_language,
)
from services import evacuation as evacuation_service
from services.evacuation import EvacuationButton

_IN_GROUP = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR,
                       ChatMemberStatus.OWNER})
# Refusals shown in a box the presser must dismiss; other answers are a short toast.
_ALERTS = frozenset({"callback.stale", "evacuate.over", "evacuate.not_in_team",
                     "evacuate.leaders_only"})
_END_WORDS = frozenset({"end", "stop", "结束"})


async def evacuate_command(update: Update, context: Context) -> None:
    """/evacuate [reason] in a team group starts an evacuation; /evacuate end ends it."""
    if sender(update) is None:
        return
    here = await team_here(update, context)
    if here is None:
        return
    group, unit = here
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    args = context.args or []
    rt = runtime(context)
    if len(args) == 1 and args[0].lower() in _END_WORDS:
        outcome = await evacuation_service.end(rt, actor, unit=unit)
    else:
        outcome = await evacuation_service.start(rt, actor, unit, group, " ".join(args))
    if not outcome.ok:
        await reply(update, context, outcome.key, **outcome.values)


async def _in_group(context: Context, chat_id: int, user_id: int) -> bool:
    """Whether Telegram says the user is a member of the chat now."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in _IN_GROUP or (member.status == ChatMemberStatus.RESTRICTED
                                          and bool(getattr(member, "is_member", False)))


async def evacuation_clicked(update: Update, context: Context) -> None:
    """The alert's buttons: "I am safe" (members) and "end" (leaders)."""
    query = update.callback_query
    assert query is not None
    button = EvacuationButton.unpack(query.data)
    chat = update.effective_chat
    user = sender(update)
    rt = runtime(context)
    lang = await update_language(update, context)
    outcome = None
    if button is not None and user is not None:
        async with services(context).db.transaction() as session:
            actor = await actor_of(session, update, context)
        if actor is not None and button.action == "safe":
            chat_id = chat.id if chat is not None and is_group(chat) else None
            in_group = chat_id is not None and await _in_group(context, chat_id, user.id)
            outcome = await evacuation_service.press_safe(
                rt, actor, button.evacuation_id, chat_id=chat_id, in_group=in_group)
        elif actor is not None:
            outcome = await evacuation_service.end(rt, actor,
                                                   evacuation_id=button.evacuation_id)
    key, values = (outcome.key, outcome.values) if outcome is not None \
        else ("callback.stale", {})
    await query.answer(rt.renderer.plain(key, lang, **values), show_alert=key in _ALERTS)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /evacuate and the alert's buttons."""
    application.add_handler(CommandHandler("evacuate", evacuate_command))
    application.add_handler(CallbackQueryHandler(evacuation_clicked, pattern=r"^ev:"))
