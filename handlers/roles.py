"""/role, /whoami and /team: who holds which role where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import MessageEntity, Update, User
from telegram.ext import Application, CommandHandler

from domain.org import Role, may_grant, parse_role, path_ids
from domain.people import is_person
from handlers.common import (
    Context,
    bound_unit,
    is_bot_admin,
    is_group,
    learn_person,
    reply,
    sender,
    services,
    team_here,
)
from storage import org as org_repo
from storage import people as people_repo
from storage.models import Person, Unit

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
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        granter = await learn_person(session, user, context)
        unit = await _target_unit(session, update, request.unit_key)
        if isinstance(unit, str):
            await reply(update, context, unit, key=request.unit_key or "")
            return
        if request.target_user is not None:
            target: Person | None = await learn_person(session, request.target_user, context)
        else:
            target = await people_repo.find_by_username(session, request.target_username or "")
        if target is None:
            await reply(update, context, "role.unknown_person",
                        who=f"@{request.target_username}")
            return
        grants = await org_repo.grants_of(session, granter.id or 0)
        admin = await is_bot_admin(session, user.id, context)
        if not may_grant(grants, unit.path, request.role, is_bot_admin=admin):
            await reply(update, context, "role.not_allowed", role=request.role.value,
                        unit=unit.name)
            return
        if request.revoke:
            changed = await org_repo.revoke_role(session, person=target, unit=unit,
                                                 role=request.role)
            key = "role.revoked" if changed else "role.not_held"
        else:
            changed = await org_repo.grant_role(session, person=target, unit=unit,
                                                role=request.role, now=now, granted_by=granter)
            key = "role.granted" if changed else "role.already"
        values: dict[str, Any] = {"person": target.name, "person_id": target.telegram_id,
                                  "unit": unit.name,
                  "role": request.role.value}
    await reply(update, context, key, **values)


async def _target_unit(session: AsyncSession, update: Update, key: str | None) -> Unit | str:
    if key:
        unit = await org_repo.get_unit_by_key(session, key)
        return unit if unit is not None else "role.unknown_unit"
    chat = update.effective_chat
    if is_group(chat):
        assert chat is not None
        _, unit = await bound_unit(session, chat.id)
        if unit is not None:
            return unit
    return "role.no_unit"


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
