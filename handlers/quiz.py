"""Safety quizzes: /quiz in a private chat, its answer buttons, daily poll answers, /quizstats.

Parse the update → services/quizzes.py → answer. A private quiz's state is in
the database, so its buttons keep working after a restart; a press of an old
question's button (or a forged one) is refused in a box the clicker dismisses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
)

from bot.inbox import RawUpdate
from bot.members import group_member_check
from bot.services import get_services
from bot.updates import BatchHandler, OrderedUpdateProcessor
from domain.people import display_name
from handlers.common import (
    Context,
    actor_of,
    edit_message,
    is_group,
    is_team_leader,
    learn_person,
    reply,
    runtime,
    sender,
    services,
    team_here,
    update_language,
)
from services import quizzes as quiz_service
from services.membership import Member
from services.quizzes import PollVoteIn, QuizAnswer, QuizReply, Screen

log = logging.getLogger(__name__)

# Before group 0's /cancel (the hazard report's): a quiz in progress is cancelled here.
CANCEL_GROUP = -1


def _markup(screen: Screen, context: Context) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup.de_json(screen.reply_markup, context.bot) \
        if screen.reply_markup else None


async def _show(update: Update, context: Context, result: QuizReply) -> None:
    """Send a quiz's new messages to the chat the update came from."""
    chat = update.effective_chat
    assert chat is not None
    for screen in result.screens:
        await context.bot.send_message(chat.id, screen.html,
                                       reply_markup=_markup(screen, context))


async def quiz_command(update: Update, context: Context) -> None:
    """/quiz [topic]: a private quiz of a few questions, then the missed ones again."""
    chat = update.effective_chat
    if chat is None or sender(update) is None:
        return
    if is_group(chat):
        await reply(update, context, "quiz.private_only")
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None:
        return
    result = await quiz_service.start_session(runtime(context), actor, chat.id,
                                              " ".join(context.args or []))
    if result.key is not None:
        await reply(update, context, result.key, **result.values)
        return
    await _show(update, context, result)


async def quiz_clicked(update: Update, context: Context) -> None:
    """An answer button: feedback in place of the question, then the next one or the score."""
    query = update.callback_query
    assert query is not None
    press = QuizAnswer.unpack(query.data)
    actor = None
    if press is not None and sender(update) is not None:
        async with services(context).db.transaction() as session:
            actor = await actor_of(session, update, context)
    if press is None or actor is None:
        result = QuizReply(key="quiz.stale")
    else:
        result = await quiz_service.answer(runtime(context), actor, press)
    lang = actor.language if actor is not None else await update_language(update, context)
    if result.key is not None:
        await query.answer(runtime(context).renderer.plain(result.key, lang), show_alert=True)
        return
    await query.answer()
    if result.feedback is not None:
        await edit_message(query.edit_message_text(result.feedback.html, reply_markup=None))
    await _show(update, context, result)


async def cancel_quiz(update: Update, context: Context) -> None:
    """/cancel in a private chat with a quiz in progress ends the quiz (and stops there);
    otherwise the hazard report's /cancel handles it."""
    chat = update.effective_chat
    if chat is None or is_group(chat) or sender(update) is None:
        return
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
    if actor is None or not await quiz_service.cancel_session(runtime(context), actor):
        return
    await reply(update, context, "quiz.cancelled")
    raise ApplicationHandlerStop


def poll_votes_recorder(application: Application) -> BatchHandler:  # type: ignore[type-arg]
    """The handler of daily quiz poll votes, a batch at a time (see ``register``).

    A vote is recorded for a member of the poll's team and ignored for anyone else.
    A voter the bot never saw in the group (privacy mode hides plain messages) is
    looked up with Telegram once; after that they are a known member.
    """

    async def record(updates: Sequence[RawUpdate]) -> None:
        votes = [vote for vote in map(_vote_of, updates) if vote is not None]
        if not votes:
            return
        rt = get_services(application.bot_data).runtime()
        results = await quiz_service.record_poll_answers(rt, votes)
        unknown = [(vote, result.ask_chat_id) for vote, result in zip(votes, results, strict=True)
                   if result.ask_chat_id is not None]
        if not unknown:
            return
        is_member = group_member_check(application.bot)
        found = await asyncio.gather(*(is_member(chat_id, vote.voter.telegram_id)
                                       for vote, chat_id in unknown))
        confirmed = [replace(vote, confirmed=True)
                     for (vote, _), member in zip(unknown, found, strict=True) if member]
        if confirmed:
            await quiz_service.record_poll_answers(rt, confirmed)

    return record


def _vote_of(update: RawUpdate) -> PollVoteIn | None:
    """A person's vote, read from the update as Telegram sent it; None for a vote by a
    chat (an anonymous admin), a bot's, or anything malformed."""
    answer = update.data.get("poll_answer")
    user = answer.get("user") if isinstance(answer, Mapping) else None
    if not isinstance(answer, Mapping) or not isinstance(user, Mapping) or user.get("is_bot"):
        return None
    try:
        voter = Member(telegram_id=int(user["id"]),
                       name=display_name(str(user.get("first_name", "")),
                                         _text_or_none(user.get("last_name"))),
                       username=_text_or_none(user.get("username")),
                       language_code=_text_or_none(user.get("language_code")))
        return PollVoteIn(voter, str(answer["poll_id"]),
                          tuple(int(option) for option in answer.get("option_ids", ())))
    except (KeyError, TypeError, ValueError):
        log.warning("update %s: a poll answer that cannot be read; ignored", update.update_id)
        return None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


async def quizstats_command(update: Update, context: Context) -> None:
    """/quizstats in a team group, for its leaders: the team's quiz results."""
    user = sender(update)
    if user is None:
        return
    here = await team_here(update, context)
    if here is None:
        return
    group, unit = here
    async with services(context).db.transaction() as session:
        person = await learn_person(session, user, context)
        allowed = await is_team_leader(session, person, unit, context)
    if not allowed:
        await reply(update, context, "quiz.leaders_only")
        return
    lang = await update_language(update, context)
    outcome = await quiz_service.team_stats(runtime(context), unit, group, lang)
    await reply(update, context, outcome.key, **outcome.values)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /quiz, its buttons, /cancel for a quiz, poll answers and /quizstats."""
    application.add_handler(CommandHandler("quiz", quiz_command))
    application.add_handler(CommandHandler("quizstats", quizstats_command))
    application.add_handler(CallbackQueryHandler(quiz_clicked, pattern=r"^qz:"))
    # A plant votes within minutes of the morning's poll: the votes of each batch
    # received are recorded together, in one transaction, outside PTB's dispatch.
    processor = application.update_processor
    assert isinstance(processor, OrderedUpdateProcessor), "built by bot.app"
    processor.handle_together(lambda data: "poll_answer" in data,
                              poll_votes_recorder(application))
    application.add_handler(CommandHandler("cancel", cancel_quiz), group=CANCEL_GROUP)
