"""/my: a worker's own hazard reports with their states, points and unread documents.

In a private chat the whole list; in a group one short line (a busy group is no place
for anyone's list) with a button that opens the private chat on the same view
(``/start my``).
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler, filters

from content.hazards import category
from domain.hazard import OPEN_STATES
from handlers.common import Context, is_group, language_of, learn_person, reply, sender, services
from storage import documents as doc_repo
from storage import hazards as hazard_repo
from storage import ideas as idea_repo
from storage.models import Hazard

OPEN_SHOWN, FINISHED_SHOWN = 10, 5  # enough to act on; the ledger has the rest
DEEP_LINK = "my"


async def my_command(update: Update, context: Context) -> None:
    """/my (and ``/start my``): my reports, my points, my unread documents."""
    user, chat = sender(update), update.effective_chat
    if user is None or chat is None:
        return
    svc = services(context)
    in_group = is_group(chat)
    async with svc.db.transaction() as session:
        person = await learn_person(session, user, context)
        lang = await language_of(session, update, context)
        if not in_group and (not person.started or person.blocked):
            # Writing to the bot privately opens the channel, as /start does.
            person.started, person.blocked = True, False
            person.updated_at = svc.clock.now()
            session.add(person)
        person_id = person.id or 0
        counts = await hazard_repo.report_counts(session, person_id)
        # Points for verified hazards and for adopted ideas (金点子).
        points = await hazard_repo.points_of(session, person_id) + \
            await idea_repo.points_of(session, person_id)
        unread = await doc_repo.unread_with_due(session, person_id)
        opened = [] if in_group else await hazard_repo.reports_of(
            session, person_id, open_=True, limit=OPEN_SHOWN)
        finished = [] if in_group else await hazard_repo.reports_of(
            session, person_id, open_=False, limit=FINISHED_SHOWN)
    open_count = sum(n for state, n in counts.items() if state in OPEN_STATES)
    finished_count = sum(counts.values()) - open_count
    if not counts and not unread and not points:
        await reply(update, context, "my.empty", name=person.name)
        return
    if in_group:
        link = f"https://t.me/{context.bot.username}?start={DEEP_LINK}"
        button = InlineKeyboardButton(svc.renderer.plain("button.my_details", lang), url=link)
        await reply(update, context, "my.group", name=person.name, open_count=open_count,
                    finished_count=finished_count, points=points, unread=len(unread),
                    reply_markup=InlineKeyboardMarkup([[button]]))
        return
    documents = [{"title": doc_repo.text_in(d, lang).get("title", d.doc_key),
                  "version": d.version, "due": due} for d, due in unread]
    await reply(update, context, "my.private", name=person.name, points=points,
                open=[_line(svc.renderer, h, lang) for h in opened], open_count=open_count,
                finished=[_line(svc.renderer, h, lang) for h in finished],
                finished_count=finished_count, documents=documents,
                tz=svc.settings.default_timezone)


def _line(renderer: Any, hazard: Hazard, lang: str) -> dict[str, Any]:
    found = category(hazard.category)
    return {"code": hazard.code, "state": renderer.plain(f"state.{hazard.state}", lang),
            "category": found.name(lang) if found else hazard.category,
            "at": hazard.reported_at}


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add /my, and the ``/start my`` deep link (register before /start)."""
    application.add_handler(CommandHandler("my", my_command))
    application.add_handler(CommandHandler(
        "start", my_command,
        filters=filters.ChatType.PRIVATE & filters.Regex(rf"^/start(@\w+)?\s+{DEEP_LINK}\s*$")))
