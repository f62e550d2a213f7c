"""/setup: bind a group to a team of the organisation.

Only the group's Telegram admins (asked with getChatMember) and bot admins may
bind; anonymous admins cannot, because nobody can be held to their choice.
Each button click is checked again: anyone can press, or forge, a button.
"""

from __future__ import annotations

import re

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from domain.org import UnitKind
from handlers.callbacks import int_arg, pack
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
from storage import org as org_repo

PAGE_SIZE = 8


async def _may_setup(update: Update, context: Context) -> str | None:
    """None if the sender may bind this group, else the key of the refusal."""
    chat = update.effective_chat
    if not is_group(chat):
        return "setup.only_groups"
    assert chat is not None
    user = sender(update)
    if user is None:
        return "setup.anonymous"
    async with services(context).db.session() as session:
        if await is_bot_admin(session, user.id, context):
            return None
    if await is_chat_admin(context, chat.id, user.id):
        return None
    return "setup.not_admin"


async def setup_command(update: Update, context: Context) -> None:
    """Offer the teams this group can be bound to."""
    refusal = await _may_setup(update, context)
    if refusal:
        await reply(update, context, refusal)
        return
    await _show_teams(update, context, page=0, edit=None)


async def _show_teams(update: Update, context: Context, *, page: int,
                      edit: CallbackQuery | None) -> None:
    chat = update.effective_chat
    assert chat is not None
    svc = services(context)
    async with svc.db.transaction() as session:
        user = sender(update)
        if user is not None:
            await learn_person(session, user, context)
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id, title=chat.title or "",
                                                 chat_type=chat.type, now=svc.clock.now())
        teams = await org_repo.unbound_teams(session)
        current = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        lang = await language_of(session, update, context)
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
    rows.append([
        InlineKeyboardButton(svc.renderer.plain("button.create_team", lang),
                             callback_data=pack("setup", "new", 0)),
        InlineKeyboardButton(svc.renderer.plain("button.cancel", lang),
                             callback_data=pack("setup", "x")),
    ])
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
    svc = services(context)
    async with svc.db.session() as session:
        workshops = await org_repo.units_of_kind(session, UnitKind.WORKSHOP)
        lang = await language_of(session, update, context)
    if not workshops:
        await query.edit_message_text(svc.renderer.html("setup.no_workshops", lang))
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
    assert chat is not None
    svc = services(context)
    now = svc.clock.now()
    async with svc.db.transaction() as session:
        lang = await language_of(session, update, context)
        target = await org_repo.get_unit(session, unit_id) if unit_id is not None else None
        wanted_kind = UnitKind.TEAM if action == "u" else UnitKind.WORKSHOP
        if target is None or target.kind != wanted_kind.value:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        group = await org_repo.upsert_group_chat(session, chat_id=chat.id,
                                                 title=chat.title or "",
                                                 chat_type=chat.type, now=now)
        if action == "w":
            target = await org_repo.create_unit(
                session, key=await _free_team_key(session, chat.id), kind=UnitKind.TEAM,
                name=(chat.title or "Team")[:100], parent=target, now=now)
        else:
            holder = await org_repo.chat_of_unit(session, target.id or 0)
            if holder is not None and holder.id != group.id:
                await query.answer(svc.renderer.plain("setup.team_taken", lang),
                                   show_alert=True)
                return
        await org_repo.bind_chat(session, group, target, now=now)
        path = " › ".join(u.name for u in await org_repo.ancestors(session, target))
        name = target.name
    await query.answer()
    await query.edit_message_text(svc.renderer.html("setup.bound", lang, unit=name, path=path),
                                  reply_markup=language_keyboard("g", svc.renderer, lang))


async def _free_team_key(session: AsyncSession, chat_id: int) -> str:
    """A unit key for a team created in chat, unique even if the name repeats."""
    base = re.sub(r"[^a-z0-9-]", "", f"team-{abs(chat_id)}")
    key, n = base, 1
    while await org_repo.get_unit_by_key(session, key) is not None:
        n += 1
        key = f"{base}-{n}"
    return key


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /setup and its buttons."""
    application.add_handler(CommandHandler("setup", setup_command))
    application.add_handler(CallbackQueryHandler(setup_clicked, pattern=r"^setup:"))
