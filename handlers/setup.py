"""/setup: bind a group to a team of the organisation.

Controlling a group proves nothing about the organisation, so two things are
needed: the person is an admin of the group (asked with getChatMember), and
either holds a role over the unit (see domain.org.may_bind_group) or brings a
one-time invitation code (``/setup CODE``, or ``/start CODE`` when the bot is
added through an invitation link; codes come from /invite). Anonymous admins
never bind: nobody can be held to their choice. Each button click is checked
again: anyone can press, or forge, a button.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain import invites
from domain.org import UnitKind, may_bind_group
from handlers.common import (
    Context,
    button_press,
    is_bot_admin,
    is_chat_admin,
    is_group,
    language_of,
    learn_person,
    reply,
    send_html,
    sender,
    services,
)
from handlers.language import language_keyboard
from services.buttons import int_arg, pack
from storage import invites as invite_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import GroupChat, Person, Unit

PAGE_SIZE = 8


async def _may_setup(update: Update, context: Context) -> str | None:
    """None if the sender controls this group (a real, named admin), else the refusal key."""
    chat = update.effective_chat
    if not is_group(chat):
        return "setup.only_groups"
    assert chat is not None
    user = sender(update)
    if user is None:
        return "setup.anonymous"
    if await is_chat_admin(context, chat.id, user.id):
        return None
    return "setup.not_admin"


async def bindable_units(session: AsyncSession, telegram_id: int, person_id: int,
                         context: Context) -> tuple[list[Unit], list[Unit]]:
    """The unbound teams someone may bind a group to, and the workshops they may
    create a new team under (both in tree order)."""
    admin = await is_bot_admin(session, telegram_id, context)
    grants = await org_repo.grants_of(session, person_id)
    if not admin and not grants:
        return [], []
    teams = [t for t in await org_repo.unbound_teams(session)
             if may_bind_group(grants, t.path, t.id or 0, new_team=False, is_bot_admin=admin)]
    workshops = [w for w in await org_repo.units_of_kind(session, UnitKind.WORKSHOP)
                 if may_bind_group(grants, w.path, w.id or 0, new_team=True,
                                   is_bot_admin=admin)]
    return teams, workshops


async def may_bind_to(session: AsyncSession, telegram_id: int, person_id: int, unit: Unit,
                      *, new_team: bool, context: Context) -> bool:
    """Whether someone holds a role that lets them bind a group to ``unit`` (or to a new
    team under it)."""
    admin = await is_bot_admin(session, telegram_id, context)
    grants = await org_repo.grants_of(session, person_id)
    return may_bind_group(grants, unit.path, unit.id or 0, new_team=new_team,
                          is_bot_admin=admin)


async def _held_elsewhere(session: AsyncSession, telegram_id: int, person_id: int,
                          group: GroupChat, target_id: int | None,
                          context: Context) -> Unit | None:
    """The unit this group is bound to, when moving it away needs a role the person lacks.

    Moving a bound group takes the group from its team, an organisation change like
    binding: the person needs the same right over the team the group leaves.
    """
    if group.unit_id is None or group.unit_id == target_id:
        return None
    current = await org_repo.get_unit(session, group.unit_id)
    if current is None or await may_bind_to(session, telegram_id, person_id, current,
                                            new_team=False, context=context):
        return None
    return current


async def setup_command(update: Update, context: Context) -> None:
    """Offer the teams this group can be bound to, or bind at once with a code."""
    refusal = await _may_setup(update, context)
    if refusal:
        await reply(update, context, refusal)
        return
    if context.args:
        await bind_with_code(update, context, context.args[0])
        return
    await _show_teams(update, context, page=0, edit=None)


async def _show_teams(update: Update, context: Context, *, page: int,
                      edit: CallbackQuery | None) -> None:
    chat = update.effective_chat
    user = sender(update)
    assert chat is not None and user is not None
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id, title=chat.title or "",
                                                 chat_type=chat.type, now=svc.clock.now())
        teams, workshops = await bindable_units(session, user.id, person.id or 0, context)
        current = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        held = await _held_elsewhere(session, user.id, person.id or 0, group, None, context)
        lang = await language_of(session, update, context)
    if held is not None:
        if edit is not None:
            await edit.edit_message_text(svc.renderer.html("setup.not_yours", lang,
                                                           unit=held.name))
        else:
            await reply(update, context, "setup.not_yours", unit=held.name)
        return
    if not teams and not workshops:
        # Nothing this person may bind: say how to get there instead of an empty menu.
        if edit is not None:
            await edit.edit_message_text(svc.renderer.html("setup.no_right", lang))
        else:
            await reply(update, context, "setup.no_right")
        return
    if current is not None:
        teams = [current, *teams]
    shown = teams[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows = [[InlineKeyboardButton(("✅ " if current and t.id == current.id else "") + t.name,
                                  callback_data=pack("setup", "u", t.id or 0))] for t in shown]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=pack("setup", "p", page - 1)))
    if (page + 1) * PAGE_SIZE < len(teams):
        nav.append(InlineKeyboardButton("▶", callback_data=pack("setup", "p", page + 1)))
    if nav:
        rows.append(nav)
    last_row = []
    if workshops:
        last_row.append(InlineKeyboardButton(svc.renderer.plain("button.create_team", lang),
                                             callback_data=pack("setup", "new", 0)))
    last_row.append(InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                                         callback_data=pack("setup", "x")))
    rows.append(last_row)
    text = (svc.renderer.html("setup.already_bound", lang, unit=current.name) if current
            else svc.renderer.html("setup.choose", lang, chat_title=chat.title or "",
                                   has_teams=bool(teams)))
    markup = InlineKeyboardMarkup(rows)
    if edit is not None:
        await edit.edit_message_text(text, reply_markup=markup)
    elif update.effective_message is not None:
        await send_html(update.effective_message, text, reply_markup=markup)


async def setup_clicked(update: Update, context: Context) -> None:
    """A button of the /setup message was pressed."""
    query, _user, _chat, svc, lang, parts = await button_press(update, context, "setup")
    if parts is None or query.message is None:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    refusal = await _may_setup(update, context)
    if refusal:
        await query.answer(svc.renderer.plain(refusal, lang), show_alert=True)
        return
    action = parts[0]
    if action == "x":
        await query.answer()
        await query.edit_message_text(svc.renderer.html("setup.cancelled", lang))
    elif action == "p":
        await query.answer()
        await _show_teams(update, context, page=max(int_arg(parts, 1) or 0, 0), edit=query)
    elif action == "new":
        await query.answer()
        await _show_workshops(update, context, query, page=max(int_arg(parts, 1) or 0, 0))
    elif action in ("u", "w"):
        await _bind(update, context, query, action, int_arg(parts, 1))
    else:
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)


async def _show_workshops(update: Update, context: Context, query: CallbackQuery,
                          page: int) -> None:
    user = sender(update)
    assert user is not None
    svc = services(context)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        _, workshops = await bindable_units(session, user.id, person.id or 0, context)
        any_workshop = bool(await org_repo.units_of_kind(session, UnitKind.WORKSHOP))
        lang = await language_of(session, update, context)
    if not workshops:
        await query.edit_message_text(svc.renderer.html(
            "setup.no_right" if any_workshop else "setup.no_workshops", lang))
        return
    shown = workshops[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    rows = [[InlineKeyboardButton(w.name, callback_data=pack("setup", "w", w.id or 0))]
            for w in shown]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀", callback_data=pack("setup", "new", page - 1)))
    if (page + 1) * PAGE_SIZE < len(workshops):
        nav.append(InlineKeyboardButton("▶", callback_data=pack("setup", "new", page + 1)))
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                                      callback_data=pack("setup", "x"))])
    await query.edit_message_text(svc.renderer.html("setup.choose_workshop", lang),
                                  reply_markup=InlineKeyboardMarkup(rows))


async def _bind(update: Update, context: Context, query: CallbackQuery, action: str,
                unit_id: int | None) -> None:
    """Bind to an existing team ("u") or to a new team under a workshop ("w")."""
    chat = update.effective_chat
    user = sender(update)
    assert chat is not None and user is not None
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        target = await org_repo.get_unit(session, unit_id) if unit_id is not None else None
        wanted_kind = UnitKind.TEAM if action == "u" else UnitKind.WORKSHOP
        if target is None or target.kind != wanted_kind.value:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        person = await learn_person(session, user, context)
        if not await may_bind_to(session, user.id, person.id or 0, target,
                                 new_team=action == "w", context=context):
            await query.answer(svc.renderer.plain("setup.no_right_here", lang), show_alert=True)
            return
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id,
                                                 title=chat.title or "",
                                                 chat_type=chat.type, now=now)
        held = await _held_elsewhere(session, user.id, person.id or 0, group,
                                     target.id if action == "u" else None, context)
        if held is not None:
            await query.answer(svc.renderer.plain("setup.not_yours", lang, unit=held.name),
                               show_alert=True)
            return
        if action == "u":
            holder = await org_repo.chat_of_unit(session, target.id or 0)
            if holder is not None and holder.id != group.id:
                await query.answer(svc.renderer.plain("setup.team_taken", lang),
                                   show_alert=True)
                return
        else:
            target = await _new_team(session, target, chat.id, chat.title, now)
        await org_repo.bind_chat(session, group, target, now=now)
        path = " › ".join(u.name for u in await org_repo.ancestors(session, target))
        name = target.name
    await query.answer()
    await query.edit_message_text(svc.renderer.html("setup.bound", lang, unit=name, path=path),
                                  reply_markup=language_keyboard("g", svc.renderer, lang))


async def _new_team(session: AsyncSession, workshop: Unit, chat_id: int,
                    title: str | None, now: datetime) -> Unit:
    """A team for this group under ``workshop``, named after the group."""
    return await org_repo.create_unit(
        session, key=await _free_team_key(session, chat_id), kind=UnitKind.TEAM,
        name=(title or "Team")[:100], parent=workshop, now=now)


async def _free_team_key(session: AsyncSession, chat_id: int) -> str:
    """A unit key for a team created in chat, unique even if the name repeats."""
    base = re.sub(r"[^a-z0-9-]", "", f"team-{abs(chat_id)}")
    key, n = base, 1
    while await org_repo.get_unit_by_key(session, key) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


async def bind_with_code(update: Update, context: Context, text: str) -> None:
    """Bind this group with a one-time invitation code (``/setup CODE``, ``/start CODE``).

    The caller has checked that the sender is a named admin of the group. The code
    is spent by a conditional update in the same transaction as the binding, so it
    binds one group once; a refused binding (the team is taken) leaves it unspent.
    """
    chat = update.effective_chat
    user = sender(update)
    assert chat is not None and user is not None
    svc = services(context)
    now = svc.clock.now()
    code = invites.normalise(text)
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        invite = await invite_repo.find(session, code) if code else None
        refusal = ("invite.unknown" if invite is None
                   else "invite.used" if invite.used_at is not None
                   else "invite.expired" if invite.expires_at <= now else None)
        unit = await org_repo.get_unit(session, invite.unit_id) if invite else None
        if refusal is None and (invite is None or unit is None):
            refusal = "invite.unknown"
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id,
                                                 title=chat.title or "",
                                                 chat_type=chat.type, now=now)
        if refusal is None and invite is not None and not invite.new_team:
            holder = await org_repo.chat_of_unit(session, invite.unit_id)
            if holder is not None and holder.id != group.id:
                refusal = "setup.team_taken"
        person = await learn_person(session, user, context)
        held = None
        if refusal is None and invite is not None:
            held = await _held_elsewhere(session, user.id, person.id or 0, group,
                                         None if invite.new_team else invite.unit_id, context)
            refusal = "setup.not_yours" if held is not None else None
        if refusal is None and invite is not None and not await invite_repo.spend(
                session, invite, person_id=person.id or 0, chat_id=chat.id, now=now):
            refusal = "invite.used"  # another group used it a moment ago
        html = ""
        if refusal is None and invite is not None and unit is not None:
            target = (await _new_team(session, unit, chat.id, chat.title, now)
                      if invite.new_team else unit)
            await org_repo.bind_chat(session, group, target, now=now)
            path = " › ".join(u.name for u in await org_repo.ancestors(session, target))
            html = svc.renderer.html("setup.bound", lang, unit=target.name, path=path)
            await _tell_inviter(session, context, invite.created_by, target.name,
                                chat.title or "", person.name)
    if refusal is not None:
        await reply(update, context, refusal, unit=held.name if held else "")
        return
    if update.effective_message is not None:
        await send_html(update.effective_message, html,
                        reply_markup=language_keyboard("g", svc.renderer, lang))
    svc.wake_outbox()


async def _tell_inviter(session: AsyncSession, context: Context, person_id: int, unit: str,
                        chat_title: str, used_by: str) -> None:
    """Let whoever created the code know which group it brought in, and who used it."""
    svc = services(context)
    inviter = await session.get(Person, person_id)
    if inviter is None or not inviter.started or inviter.blocked:
        return
    html = svc.renderer.html("invite.used_notice",
                             inviter.language or svc.settings.default_language,
                             unit=unit, chat_title=chat_title, who=used_by)
    await outbox_repo.enqueue_text(session, chat_id=inviter.telegram_id, html=html,
                                   now=svc.clock.now(), purpose="invite.used",
                                   person_id=inviter.id)


async def start_with_code(update: Update, context: Context) -> None:
    """``/start CODE`` in a group: what Telegram sends when the bot is added through an
    invitation link (``?startgroup=CODE``)."""
    refusal = await _may_setup(update, context)
    if refusal:
        await reply(update, context, refusal)
        return
    await bind_with_code(update, context, (context.args or [""])[0])


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /setup and its buttons."""
    application.add_handler(CommandHandler("setup", setup_command))
    application.add_handler(CallbackQueryHandler(setup_clicked, pattern=r"^setup:"))
