"""Safety quizzes: /quiz in a private chat, its answer buttons, daily poll answers, /quizstats.

Parse the update → services/quizzes.py → answer. A private quiz's state is in
the database, so its buttons keep working after a restart; a press of an old
question's button (or a forged one) is refused in a box the clicker dismisses.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    PollAnswerHandler,
)

from bot.members import group_member_check
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


async def poll_answered(update: Update, context: Context) -> None:
    """A vote in a daily quiz poll: recorded for team members, ignored for anyone else.

    A voter the bot never saw in the group (privacy mode hides plain messages) is
    looked up with Telegram once; after that they are a known member.
    """
    answer = update.poll_answer
    if answer is None or answer.user is None or answer.user.is_bot:
        return  # a vote by a chat (anonymous admin): not a person
    user = answer.user
    voter = Member(telegram_id=user.id, name=display_name(user.first_name, user.last_name),
                   username=user.username, language_code=user.language_code)
    desk = services(context).poll_answers
    vote = await desk.vote(PollVoteIn(voter, answer.poll_id, tuple(answer.option_ids)))
    if vote.ask_chat_id is None:
        return
    if await group_member_check(context.bot)(vote.ask_chat_id, user.id):
        await desk.vote(PollVoteIn(voter, answer.poll_id, tuple(answer.option_ids),
                                   confirmed=True))


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
    application.add_handler(PollAnswerHandler(poll_answered))
    application.add_handler(CommandHandler("cancel", cancel_quiz), group=CANCEL_GROUP)
