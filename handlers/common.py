"""Helpers every handler module uses: services, the sender, the language, replies."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, NamedTuple

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import CallbackQuery, Chat, ForceReply, Message, Update, User
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, TelegramError

from bot.context import GROUP_TYPES, BotContext
from bot.errors import is_not_modified
from bot.services import Services, get_services
from content.render import mention
from domain.language import negotiate
from domain.org import Role, has_role_over, leads_team
from domain.people import display_name, is_person
from domain.telegram_html import split_message
from services import people as people_service
from services.base import Actor, Runtime
from services.buttons import unpack
from storage import org as org_repo
from storage import people as people_repo
from storage.models import GroupChat, Person, Unit

log = logging.getLogger(__name__)
Context = BotContext


def services(context: Context) -> Services:
    """The shared services of the running application."""
    return get_services(context.bot_data)


def runtime(context: Context) -> Runtime:
    """What service functions are given, for this application."""
    return services(context).runtime()


async def actor_of(session: AsyncSession, update: Update, context: Context) -> Actor | None:
    """The person behind an update as services know them; None for anonymous admins and bots.

    Learns (creates or refreshes) the person, so a first-time user can act at once.
    """
    user = sender(update)
    if user is None:
        return None
    person = await learn_person(session, user, context)
    lang = person.language or negotiate(user.language_code,
                                        services(context).settings.default_language)
    return Actor(person_id=person.id or 0, telegram_id=user.id, name=person.name,
                 language=lang,
                 is_bot_admin=await is_bot_admin(session, user.id, context))


def sender(update: Update) -> User | None:
    """The human behind an update, or None for anonymous admins, channels and bots."""
    user = update.effective_user
    message = update.effective_message
    sender_chat = message.sender_chat if message is not None else None
    if user is None:
        return None
    # Callback queries carry the clicker in from_user; the message's sender_chat is the bot's.
    if update.callback_query is not None:
        sender_chat = None
    if not is_person(user.id, is_bot=user.is_bot,
                     sender_chat_id=sender_chat.id if sender_chat else None):
        return None
    return user


def is_group(chat: Chat | None) -> bool:
    """Tell whether a chat is a group or supergroup."""
    return chat is not None and chat.type in GROUP_TYPES


async def learn_person(session: AsyncSession, user: User, context: Context) -> Person:
    """Create or refresh the person behind a Telegram user."""
    return await people_repo.upsert_person(
        session, telegram_id=user.id, name=display_name(user.first_name, user.last_name),
        username=user.username, language_code=user.language_code,
        now=services(context).clock.now())


async def bound_unit(session: AsyncSession, chat_id: int) -> tuple[GroupChat | None, Unit | None]:
    """The group chat row and the unit it is bound to, if any."""
    chat = await org_repo.get_group_chat(session, chat_id)
    unit = await org_repo.get_unit(session, chat.unit_id) if chat and chat.unit_id else None
    return chat, unit


async def team_here(update: Update, context: Context,
                    only_groups_key: str = "team.only_groups") -> tuple[GroupChat, Unit] | None:
    """The group an update comes from and the team bound to it.

    Answers the user and returns None when this is not a group or the group is not
    bound yet, so team commands need not repeat those two refusals.
    """
    chat = update.effective_chat
    if chat is None or not is_group(chat):
        await reply(update, context, only_groups_key)
        return None
    async with services(context).db.session() as session:
        group, unit = await bound_unit(session, chat.id)
    if group is None or unit is None:
        await reply(update, context, "team.unbound")
        return None
    return group, unit


def _resolved(context: Context) -> dict[str, Any]:
    """What was already looked up for this update (see bot.context.BotContext)."""
    return context.resolved if isinstance(context, BotContext) else {}


async def update_language(update: Update, context: Context) -> str:
    """:func:`language_of`, opening a session only when it was not looked up yet."""
    known = _resolved(context).get("lang")
    if isinstance(known, str):
        return known
    async with services(context).db.session() as session:
        return await language_of(session, update, context)


async def language_of(session: AsyncSession, update: Update, context: Context) -> str:
    """The language to answer in: the group's in groups, the person's in private chats.

    Looked up once per update; a handler that changes it calls ``context.forget()``.
    """
    resolved = _resolved(context)
    if "lang" not in resolved:
        resolved["lang"] = await _look_up_language(session, update, context)
    return str(resolved["lang"])


async def _look_up_language(session: AsyncSession, update: Update, context: Context) -> str:
    chat, user = update.effective_chat, update.effective_user
    return await people_service.answer_language(
        session, group_chat_id=chat.id if chat is not None and is_group(chat) else None,
        telegram_id=user.id if user is not None else None,
        language_code=user.language_code if user is not None else None,
        default=services(context).settings.default_language)


async def is_bot_admin(session: AsyncSession, telegram_id: int, context: Context) -> bool:
    """Bot admins come from the settings or the org file (looked up once per update)."""
    if telegram_id in services(context).settings.bot_admin_ids:
        return True
    resolved = _resolved(context)
    key = f"bot_admin:{telegram_id}"
    if key not in resolved:
        person = await people_repo.get_person(session, telegram_id)
        resolved[key] = bool(person and person.is_admin)
    return bool(resolved[key])


async def member_now(context: Context, chat_id: int, user_id: int) -> bool:
    """Whether Telegram says the user is a member of the group now (a forwarded message
    keeps its buttons, so pressing one proves nothing)."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False
    return member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR,
                             ChatMemberStatus.OWNER) or (
        member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False)))


async def is_chat_admin(context: Context, chat_id: int, user_id: int) -> bool:
    """Ask Telegram whether a user is an owner or admin of a group."""
    member = await context.bot.get_chat_member(chat_id, user_id)
    return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)


MAX_FILE_BYTES = 20 * 1024 * 1024  # bots cannot download larger files


def photo_of(message: Message) -> list[str] | str | None:
    """[file_id, file_unique_id] of a photo's largest size (or an image document),
    ``"too_big"`` past 20 MB, or None when the message holds no image."""
    if message.photo:
        largest = message.photo[-1]
        if (largest.file_size or 0) > MAX_FILE_BYTES:
            return "too_big"
        return [largest.file_id, largest.file_unique_id]
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        if (document.file_size or 0) > MAX_FILE_BYTES:
            return "too_big"
        return [document.file_id, document.file_unique_id]
    return None


async def send_html(message: Message, html: str, **kwargs: Any) -> Message:
    """Reply with HTML, split under Telegram's limit; keyboards go on the last part."""
    parts = split_message(html) or [html]
    markup = kwargs.pop("reply_markup", None)
    sent = message
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        sent = await message.reply_html(part, reply_markup=markup if last else None,
                                        **kwargs)
    return sent


async def edit_message(edit: Awaitable[object]) -> bool:
    """Await a direct edit of a message; False when it already read so.

    Telegram refuses an edit that changes nothing ("message is not modified"),
    which a second press of the same button always does; that is success.
    """
    try:
        await edit
    except BadRequest as error:
        if not is_not_modified(error):
            raise
        return False
    return True


async def reply(update: Update, context: Context, key: str, /, *, force_reply: bool = False,
                **values: Any) -> Message | None:
    """Answer the update's message with a rendered text in the right language.

    ``force_reply`` asks for an answer by reply (selective: only the sender's client
    opens it), which is how a group with privacy mode on still reaches the bot.
    """
    message = update.effective_message
    if message is None:
        return None
    markup = values.pop("reply_markup", None)
    if force_reply and markup is None:
        markup = ForceReply(selective=True)
    lang = await update_language(update, context)
    html = services(context).renderer.html(key, lang, **values)
    clicker = sender(update) if update.callback_query is not None else None
    if clicker is not None and isinstance(markup, ForceReply) and markup.selective \
            and is_group(update.effective_chat) and f"tg://user?id={clicker.id}" not in html:
        # After a button the bot answers its own message, so a selective ForceReply
        # would target nobody; the mention makes it open for the one who clicked.
        html = f"{mention(clicker.id, display_name(clicker.first_name, clicker.last_name))} {html}"
    return await send_html(message, html, reply_markup=markup)


async def is_team_leader(session: AsyncSession, person: Person, unit: Unit,
                         context: Context) -> bool:
    """Whether the person leads this team: a team leader or higher role over it, or a bot admin."""
    if await is_bot_admin(session, person.telegram_id, context):
        return True
    return has_role_over(await org_repo.grants_of(session, person.id or 0), unit.path,
                         Role.TEAM_LEADER)


async def leads_this_team(session: AsyncSession, person: Person, unit: Unit) -> bool:
    """Whether the person is one of this team's own leaders (see domain.org.leads_team)."""
    return leads_team(await org_repo.grants_of(session, person.id or 0), unit.id or 0)


class ButtonPress(NamedTuple):
    """A button click opened for handling: unpack it or use the fields."""

    query: CallbackQuery
    user: User | None  # None for anonymous admins and bots: never a person
    chat: Chat | None
    svc: Services
    lang: str
    parts: list[str] | None  # None when the data is not this feature's or malformed


async def button_press(update: Update, context: Context, feature: str) -> ButtonPress:
    """The clicker, the chat, the language to answer in and the checked callback data.

    Every click handler starts here; the caller still checks the parts and the
    clicker's rights, since anyone can send any callback data.
    """
    query = update.callback_query
    assert query is not None
    svc = services(context)
    lang = await update_language(update, context)
    return ButtonPress(query, sender(update), update.effective_chat, svc, lang,
                       unpack(query.data, feature))
