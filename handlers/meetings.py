"""The pre-shift meeting in the group: check in, and the leader confirms it was held.

Parse the press → services/meetings.py → answer. The check-in is the busiest
moment of the bot (a whole plant taps at shift start): the press is answered as
soon as the check-in is stored, and the roll-call edit goes through the outbox
(throttled per meeting), never awaited here.

The shift-end prompt's "start handover" and "report a hazard" buttons are
handed to the features that own them (wired in handlers/routes.py), so this
module imports no other feature's handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from domain.people import display_name
from handlers.common import Context, language_of, learn_person, runtime, sender, services
from services import meetings as meeting_service
from services.base import Actor, Outcome
from services.meetings import CheckInTap, MeetingButton
from services.membership import Member

Command = Callable[[Update, Context], Coroutine[Any, Any, None]]
# A refusal shown in a box the clicker must dismiss; other answers are a short toast.
_ALERTS = frozenset({"callback.stale", "meeting.leaders_only"})


def meeting_clicked(start_handover: Command, report_hazard: Command) -> Command:
    """The handler of the meeting buttons; the shift-end buttons start the given commands."""

    async def clicked(update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        button = MeetingButton.unpack(query.data)
        user = sender(update)
        if button is not None and user is not None and button.action in ("ho", "rep"):
            await query.answer()
            # A hazard found during the shift: anyone may report it; the handover
            # command checks its own rights.
            await (start_handover if button.action == "ho" else report_hazard)(update, context)
            return
        rt = runtime(context)
        outcome: Outcome | None = None
        lang: str | None = None
        if button is not None and user is not None and button.action == "in":
            # The busiest tap of the day: stored together with the taps arriving now,
            # answered once committed (no session of its own, no wait on a send).
            answer = await services(context).check_ins.tap(CheckInTap(
                button.meeting_id, member=Member(
                    telegram_id=user.id, name=display_name(user.first_name, user.last_name),
                    username=user.username, language_code=user.language_code)))
            outcome, lang = answer.outcome, answer.language
        if lang is None:
            async with rt.db.transaction() as session:
                lang = await language_of(session, update, context)
                if button is not None and user is not None and button.action == "held":
                    # Learning the clicker and closing the meeting in one transaction.
                    person = await learn_person(session, user, context)
                    actor = Actor(person_id=person.id or 0, telegram_id=user.id,
                                  name=person.name, language=lang)
                    outcome = await meeting_service.record_held(session, rt, actor,
                                                                button.meeting_id)
        if outcome is None:
            outcome = Outcome.refused("callback.stale")
        await query.answer(rt.renderer.plain(outcome.key, lang, **outcome.values),
                           show_alert=outcome.key in _ALERTS)
        if outcome.queued:
            rt.wake()

    return clicked


def register(application: Application,  # type: ignore[type-arg]
             *, start_handover: Command, report_hazard: Command) -> None:
    """Add the meeting buttons; the shift-end prompt's buttons start the given commands."""
    application.add_handler(CallbackQueryHandler(
        meeting_clicked(start_handover, report_hazard), pattern=r"^pm:"))
