"""Who is in which group, and the bot's own membership: added, removed, migrated.

Members are learned from every group update (messages, joins, leaves and
``chat_member`` updates). The bot's own status arrives as ``my_chat_member``.
"""

from __future__ import annotations

from telegram import ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import (
    Application,
    ChatMemberHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from domain.org import Role, path_ids
from handlers.common import Context, bound_unit, is_group, learn_person, sender, services
from storage import org as org_repo
from storage import outbox as outbox_repo

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
    svc = services(context)
    async with svc.db.transaction() as session:
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id, title=chat.title or "",
                                                 chat_type=chat.type, now=svc.clock.now())
        if user is not None:
            person = await learn_person(session, user, context)
            await org_repo.record_membership(session, chat=group, person=person, active=True,
                                             now=svc.clock.now())


async def members_joined(update: Update, context: Context) -> None:
    """``new_chat_members``: everyone added (except the bot itself) is a member."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id, title=chat.title or "",
                                                 chat_type=chat.type, now=svc.clock.now())
        for user in message.new_chat_members:
            if user.is_bot:
                continue
            person = await learn_person(session, user, context)
            await org_repo.record_membership(session, chat=group, person=person, active=True,
                                             now=svc.clock.now())


async def member_left(update: Update, context: Context) -> None:
    """``left_chat_member``: the person is no longer in the group."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or message.left_chat_member is None:
        return
    user = message.left_chat_member
    if user.id == context.bot.id:
        return  # the bot's own removal arrives as my_chat_member
    await _set_membership(update, context, chat.id, user_active=False)


async def chat_member_changed(update: Update, context: Context) -> None:
    """``chat_member`` (bot is admin): joins, leaves, kicks of other people."""
    change = update.chat_member
    if change is None or change.new_chat_member.user.is_bot:
        return
    await _set_membership(update, context, change.chat.id,
                          user_active=change.new_chat_member.status in PRESENT,
                          change=change)


async def _set_membership(update: Update, context: Context, chat_id: int, *, user_active: bool,
                          change: ChatMemberUpdated | None = None) -> None:
    message = update.effective_message
    if change is not None:
        user = change.new_chat_member.user
    else:
        assert message is not None and message.left_chat_member is not None
        user = message.left_chat_member
    svc = services(context)
    async with svc.db.transaction() as session:
        group = await org_repo.get_group_chat(session, chat_id)
        if group is None:
            return
        person = await learn_person(session, user, context)
        await org_repo.record_membership(session, chat=group, person=person, active=user_active,
                                         now=svc.clock.now())


async def bot_status_changed(update: Update, context: Context) -> None:
    """The bot was added to or removed from a group."""
    change = update.my_chat_member
    if change is None or not is_group(change.chat):
        return
    was_in = change.old_chat_member.status in PRESENT
    is_in = change.new_chat_member.status in PRESENT
    if is_in and not was_in:
        await _bot_added(update, context, change)
    elif was_in and not is_in:
        await _bot_removed(context, change)


async def _bot_added(update: Update, context: Context, change: ChatMemberUpdated) -> None:
    svc = services(context)
    chat = change.chat
    async with svc.db.transaction() as session:
        known = await org_repo.get_group_chat(session, chat.id)
        # Back only where the bot really was: removed from the group, or it had learned
        # members there. A group the org file bound before the bot ever came is new to it.
        was_here = known is not None and (
            not known.active or await org_repo.has_had_members(session, known.id or 0))
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id, title=chat.title or "",
                                                 chat_type=chat.type, now=svc.clock.now())
        unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        path = " › ".join(u.name for u in await org_repo.ancestors(session, unit)) if unit \
            else ""
    if unit is None:
        await _say(update, context, "group.greeting")
    elif was_here:
        await _say(update, context, "group.rejoined", unit=unit.name)
    else:
        await _say(update, context, "group.arrived", unit=unit.name, path=path)


async def _say(update: Update, context: Context, key: str, **values: str) -> None:
    """Post in the chat of a my_chat_member update (it has no message to reply to)."""
    chat = update.effective_chat
    assert chat is not None
    svc = services(context)
    async with svc.db.session() as session:
        group, unit = await bound_unit(session, chat.id)
        lang = org_repo.unit_language(unit, group, svc.settings.default_language)
    await context.bot.send_message(chat.id, svc.renderer.html(key, lang, **values))


async def _bot_removed(context: Context, change: ChatMemberUpdated) -> None:
    """Stop posting there and tell the people responsible for the unit."""
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        group = await org_repo.get_group_chat(session, change.chat.id)
        if group is None:
            return
        reason = str(change.new_chat_member.status)
        if not await org_repo.deactivate_chat(session, group, reason=reason, now=now):
            return
        unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        if unit is None:
            return
        holders = await org_repo.role_holders(
            session, path_ids(unit.path),
            [Role.TEAM_LEADER, Role.SAFETY_OFFICER, Role.MANAGER, Role.ADMIN])
        stamp = int(change.date.timestamp())
        told: set[int] = set()
        for person, grant in holders:
            if person.id in told or (grant.role == Role.TEAM_LEADER.value
                                     and grant.unit_id != unit.id):
                continue
            told.add(person.id or 0)
            lang = person.language or svc.settings.default_language
            html = svc.renderer.html("group.removed_notice", lang, unit=unit.name,
                                     chat_title=group.title)
            await outbox_repo.enqueue_text(
                session, chat_id=person.telegram_id, html=html, now=now,
                purpose="group.removed", person_id=person.id,
                dedupe_key=f"group-removed:{group.id}:{stamp}:{person.id}")
    svc.wake_outbox()


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
    svc = services(context)
    async with svc.db.transaction() as session:
        await org_repo.migrate_chat(session, old_chat_id=old_id, new_chat_id=new_id,
                                    now=svc.clock.now())


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
