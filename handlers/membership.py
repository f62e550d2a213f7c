"""Who is in which group, and the bot's own membership: added, removed, migrated.

Members are learned from every group update (messages, joins, leaves and
``chat_member`` updates). The bot's own status arrives as ``my_chat_member``.
"""

from __future__ import annotations

from telegram import Chat, Update, User
from telegram.constants import ChatMemberStatus
from telegram.ext import (
    Application,
    ChatMemberHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from domain.people import display_name
from handlers.common import Context, is_group, runtime, sender, services
from services import membership
from services.binding import Chat as GroupRef
from services.membership import Member

# Learning runs before every feature handler and never stops propagation.
LEARN_GROUP = -10
PRESENT = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR,
                     ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED})


async def learn_from_update(update: Update, context: Context) -> None:
    """Record the group and the human sender of any group update as a member."""
    chat = update.effective_chat
    if not is_group(chat) or update.my_chat_member is not None:
        return
    assert chat is not None
    message = update.effective_message
    if message is not None and (message.left_chat_member or message.migrate_to_chat_id):
        return  # handled below; the sender of a "left" message may be the leaver
    user = sender(update)
    sighting = membership.Sighting(_chat(chat), _member(user) if user is not None else None)
    # In memory when nothing changed; a button press's answer does not wait for it
    # (a shift start's taps), a message's handlers may rely on it.
    if update.callback_query is not None:
        services(context).sightings.saw_in_passing(sighting)
    else:
        await services(context).sightings.saw(sighting)


def _member(user: User) -> Member:
    return Member(telegram_id=user.id, name=display_name(user.first_name, user.last_name),
                  username=user.username, language_code=user.language_code)


def _chat(chat: Chat) -> GroupRef:
    return GroupRef(chat_id=chat.id, title=chat.title or "", chat_type=chat.type)


async def members_joined(update: Update, context: Context) -> None:
    """``new_chat_members``: everyone added (except the bot itself) is a member."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    await membership.members_changed(
        runtime(context), _chat(chat),
        [_member(user) for user in message.new_chat_members if not user.is_bot], present=True,
        bot_username=context.bot.username or "",
        return_after=services(context).settings.briefing_after_absence)


async def member_left(update: Update, context: Context) -> None:
    """``left_chat_member``: the person is no longer in the group."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or message.left_chat_member is None:
        return
    user = message.left_chat_member
    if user.id == context.bot.id:
        return  # the bot's own removal arrives as my_chat_member
    services(context).sightings.forget(chat.id, user.id)
    await membership.members_changed(runtime(context), _chat(chat), [_member(user)],
                                     present=False, known_groups_only=True)


async def chat_member_changed(update: Update, context: Context) -> None:
    """``chat_member`` (bot is admin): joins, leaves, kicks of other people."""
    change = update.chat_member
    if change is None or change.new_chat_member.user.is_bot:
        return
    services(context).sightings.forget(change.chat.id, change.new_chat_member.user.id)
    await membership.members_changed(
        runtime(context), _chat(change.chat), [_member(change.new_chat_member.user)],
        present=change.new_chat_member.status in PRESENT, known_groups_only=True,
        bot_username=context.bot.username or "",
        return_after=services(context).settings.briefing_after_absence)


async def bot_status_changed(update: Update, context: Context) -> None:
    """The bot was added to or removed from a group."""
    change = update.my_chat_member
    if change is None or not is_group(change.chat):
        return
    was_in = change.old_chat_member.status in PRESENT
    is_in = change.new_chat_member.status in PRESENT
    if is_in and not was_in:
        if not await services(context).fleet.joined(_chat(change.chat), context.bot.id):
            return  # another of our bots speaks here: this one stays silent
        screen = await membership.bot_added(runtime(context), _chat(change.chat))
        # A my_chat_member update has no message to reply to: post in the chat.
        await context.bot.send_message(change.chat.id, services(context).renderer.html(
            screen.key, screen.lang, **screen.values))
    elif was_in and not is_in:
        if not await services(context).fleet.left(change.chat.id, context.bot.id):
            return  # a silent one of our bots left: the one speaking there stays
        services(context).sightings.forget(change.chat.id)
        await membership.bot_removed(runtime(context), change.chat.id,
                                     reason=str(change.new_chat_member.status),
                                     stamp=int(change.date.timestamp()))


async def group_migrated(update: Update, context: Context) -> None:
    """A group became a supergroup: its binding follows the new chat id."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        old_id, new_id = message.chat.id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old_id, new_id = message.migrate_from_chat_id, message.chat.id
    else:
        return
    for chat_id in (old_id, new_id):
        services(context).sightings.forget(chat_id)
        services(context).fleet.forget(chat_id)
    await membership.group_migrated(runtime(context), old_chat_id=old_id, new_chat_id=new_id)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the membership and lifecycle handlers."""
    application.add_handler(TypeHandler(Update, learn_from_update), group=LEARN_GROUP)
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated))
    application.add_handler(MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, members_joined))
    application.add_handler(MessageHandler(filters.StatusUpdate.LEFT_CHAT_MEMBER, member_left))
    application.add_handler(ChatMemberHandler(bot_status_changed,
                                              ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(ChatMemberHandler(chat_member_changed,
                                              ChatMemberHandler.CHAT_MEMBER))
