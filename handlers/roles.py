"""/role, /whoami and /team: who holds which role where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import MessageEntity, Update, User
from telegram.ext import Application, CommandHandler

from domain.org import Role, parse_role, path_ids
from domain.people import is_person
from handlers.common import (
    Context,
    actor_of,
    bound_unit,
    is_bot_admin,
    is_group,
    learn_person,
    reply,
    runtime,
    sender,
    services,
    team_here,
)
from services import roles as roles_service
from storage import org as org_repo
from storage.models import Person

REVOKE_WORDS = frozenset({"revoke", "remove", "收回", "撤销", "取消"})


@dataclass
class _RoleRequest:
    revoke: bool
    role: Role
    target_user: User | None
    target_username: str | None
    unit_key: str | None


def _arguments(update: Update) -> tuple[list[str], User | None]:
    """The words after the command, with a text mention (a name, maybe with spaces) cut out."""
    message = update.effective_message
    if message is None or not message.text:
        return [], None
    text, mentioned = message.text, None
    # Cut from the end so earlier offsets stay valid; offsets are in UTF-16 units.
    for entity in sorted(message.entities, key=lambda e: e.offset, reverse=True):
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            mentioned = entity.user
            units = text.encode("utf-16-le")
            start, end = entity.offset * 2, (entity.offset + entity.length) * 2
            text = (units[:start] + b" \x00" + units[end:]).decode("utf-16-le")
    return text.split()[1:], mentioned


def _parse(update: Update) -> _RoleRequest | str:
    """Read ``/role [revoke] ROLE [@user] [unit-key]``; a catalog key when it cannot."""
    args, target_user = _arguments(update)
    revoke = bool(args) and args[0].lower() in REVOKE_WORDS
    if revoke:
        args = args[1:]
    if not args:
        return "role.usage"
    role = parse_role(args[0])
    if role is None:
        return "role.unknown_role"
    username: str | None = None
    unit_key: str | None = None
    for word in args[1:]:
        if word.startswith("@"):
            username = word[1:]
        else:
            unit_key = word
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    if target_user is None and username is None and replied is not None:
        target_user = replied.from_user
        sender_chat = replied.sender_chat
        if target_user is not None and not is_person(
                target_user.id, is_bot=target_user.is_bot,
                sender_chat_id=sender_chat.id if sender_chat else None):
            return "role.not_person"
    if target_user is None and username is None:
        return "role.usage"
    return _RoleRequest(revoke, role, target_user, username, unit_key)


async def role_command(update: Update, context: Context) -> None:
    """Give or take back a role on a unit."""
    user = sender(update)
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    request = _parse(update)
    if isinstance(request, str):
        await reply(update, context, request, role=(context.args or ["?"])[0])
        return
    if request.target_user is not None and request.target_user.is_bot:
        await reply(update, context, "role.not_person")
        return
    chat = update.effective_chat
    async with services(context).db.transaction() as session:
        actor = await actor_of(session, update, context)
        target = (await learn_person(session, request.target_user, context)
                  if request.target_user is not None else None)
    assert actor is not None  # a named sender
    done = await roles_service.change_role(
        runtime(context), actor, request.role, revoke=request.revoke,
        person_id=target.id if target is not None else None,
        username=request.target_username, unit_key=request.unit_key,
        chat_id=chat.id if is_group(chat) and chat is not None else None)
    await reply(update, context, done.key, **done.values)


async def whoami(update: Update, context: Context) -> None:
    """Show the sender's identity, roles and whether private notifications work."""
    user = sender(update)
    if user is None:
        await reply(update, context, "setup.anonymous")
        return
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        rows = await org_repo.role_rows_of(session, person.id or 0)
        admin = await is_bot_admin(session, user.id, context)
        member_of = None
        chat = update.effective_chat
        if is_group(chat):
            assert chat is not None
            _, unit = await bound_unit(session, chat.id)
            member_of = unit.name if unit else chat.title
        values: dict[str, Any] = {
            "name": person.name, "username": person.username,
            "telegram_id": person.telegram_id, "is_admin": admin,
            "roles": [{"role": g.role, "unit": u.name, "kind": u.kind} for g, u in rows],
            "member_of": member_of, "started": person.started and not person.blocked,
        }
    await reply(update, context, "whoami", **values)


async def team(update: Update, context: Context) -> None:
    """Show the bound team: its place in the tree, leaders, officers and members."""
    here = await team_here(update, context)
    if here is None:
        return
    group, unit = here
    svc = services(context)
    async with svc.db.session() as session:
        chain = await org_repo.ancestors(session, unit)
        holders = await org_repo.role_holders(session, path_ids(unit.path), list(Role))
        members = await org_repo.active_members(session, group.id or 0)
    on_team: dict[int, list[str]] = {}
    leaders: list[Person] = []
    officers: list[Person] = []
    for person, grant in holders:
        if grant.unit_id == unit.id:
            on_team.setdefault(person.id or 0, []).append(grant.role)
            if grant.role == Role.TEAM_LEADER.value:
                leaders.append(person)
        elif grant.role == Role.SAFETY_OFFICER.value:
            officers.append(person)
    listed = {m.id for m in members}
    everyone = members + [p for p in leaders if p.id not in listed]
    await reply(update, context, "team", unit=unit.name,
                path=" › ".join(u.name for u in chain),
                leaders=leaders, officers=officers,
                members=[{"name": p.name, "roles": on_team.get(p.id or 0, [])}
                         for p in everyone])


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /role, /whoami and /team."""
    application.add_handler(CommandHandler("role", role_command))
    application.add_handler(CommandHandler("whoami", whoami))
    application.add_handler(CommandHandler("team", team))
