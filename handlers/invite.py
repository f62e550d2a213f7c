"""/invite: a one-time code, and a link, that lets a group join the organisation.

Someone who may bind groups to a unit (domain.org.may_bind_group) creates the
code in a private chat and hands it to the admin of the team's group, who adds
the bot through the link (Telegram then sends ``/start CODE`` in the group) or
sends ``/setup CODE`` there. The code names a team, or "a new team under" a
workshop, lives ``INVITE_VALID_FOR`` and binds one group once.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from domain import invites
from domain.org import UnitKind
from handlers.common import (
    Context,
    button_press,
    is_group,
    language_of,
    learn_person,
    reply,
    send_html,
    sender,
    services,
)
from handlers.setup import bindable_units, may_bind_to, start_with_code
from services.buttons import int_arg, pack
from storage import invites as invite_repo
from storage import org as org_repo
from storage.models import Person, Unit

MAX_CHOICES = 16  # more units than this: name the unit's key


async def invite_command(update: Update, context: Context) -> None:
    """Offer the units one may invite a group to, or create the code for ``/invite KEY``."""
    user = sender(update)
    if is_group(update.effective_chat):
        await reply(update, context, "invite.only_private")
        return
    if user is None or update.effective_message is None:
        return
    svc = services(context)
    key = (context.args or [""])[0]
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        lang = await language_of(session, update, context)
        if key:
            unit = await org_repo.get_unit_by_key(session, key)
            if unit is None or unit.kind not in (UnitKind.TEAM.value, UnitKind.WORKSHOP.value):
                html = svc.renderer.html("invite.unknown_unit" if unit is None
                                         else "invite.bad_unit", lang, key=key)
            else:
                html = await _issue(session, context, person, unit,
                                    new_team=unit.kind == UnitKind.WORKSHOP.value, lang=lang)
            markup = None
        else:
            teams, workshops = await bindable_units(session, user.id, person.id or 0, context)
            choices = [(svc.renderer.plain("invite.new_team_button", lang, unit=w.name),
                        pack("inv", "w", w.id or 0)) for w in workshops]
            choices += [(t.name, pack("inv", "t", t.id or 0)) for t in teams]
            if choices:
                html = svc.renderer.html("invite.choose", lang, more=len(choices) > MAX_CHOICES)
                markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]
                                               for label, data in choices[:MAX_CHOICES]])
            else:
                html, markup = svc.renderer.html("invite.not_allowed_any", lang), None
    await send_html(update.effective_message, html, reply_markup=markup)


async def invite_clicked(update: Update, context: Context) -> None:
    """A unit was picked from the /invite buttons: create its code."""
    query, user, chat, svc, lang, parts = await button_press(update, context, "inv")
    unit_id = int_arg(parts, 1) if parts else None
    if parts is None or parts[0] not in ("t", "w") or unit_id is None or user is None \
            or is_group(chat):
        await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
        return
    async with svc.db.transaction() as session:
        unit = await org_repo.get_unit(session, unit_id)
        wanted = UnitKind.TEAM if parts[0] == "t" else UnitKind.WORKSHOP
        if unit is None or unit.kind != wanted.value:
            await query.answer(svc.renderer.plain("callback.stale", lang), show_alert=True)
            return
        person = await learn_person(session, user, context)
        html = await _issue(session, context, person, unit, new_team=parts[0] == "w",
                            lang=lang)
    await query.answer()
    await query.edit_message_text(html)


async def _issue(session: AsyncSession, context: Context, person: Person, unit: Unit, *,
                 new_team: bool, lang: str) -> str:
    """Create a code for ``unit`` and return the text that shows it, or the refusal."""
    svc = services(context)
    if not await may_bind_to(session, person.telegram_id, person.id or 0, unit,
                             new_team=new_team, context=context):
        return svc.renderer.html("invite.not_allowed", lang, unit=unit.name)
    if not new_team and await org_repo.chat_of_unit(session, unit.id or 0) is not None:
        return svc.renderer.html("invite.team_bound", lang, unit=unit.name)
    now = svc.clock.now()
    code = invites.new_code()
    expires_at = now + svc.settings.invite_valid_for
    await invite_repo.create(session, code=code, unit_id=unit.id or 0, new_team=new_team,
                             created_by=person.id or 0, now=now, expires_at=expires_at)
    link = f"https://t.me/{context.bot.username}?startgroup={code}"
    return svc.renderer.html("invite.created", lang, unit=unit.name, new_team=new_team,
                             code=code, link=link, expires_at=expires_at, tz=unit.timezone)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /invite, its buttons, and ``/start CODE`` in groups.

    Registered before /start, whose plain handler would otherwise take the code.
    """
    application.add_handler(CommandHandler("start", start_with_code, has_args=True,
                                           filters=filters.ChatType.GROUPS))
    application.add_handler(CommandHandler("invite", invite_command))
    application.add_handler(CallbackQueryHandler(invite_clicked, pattern=r"^inv:"))
