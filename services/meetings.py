"""The pre-shift meeting (班前会): briefings, check-in, meeting held, late meetings, summaries.

Chat buttons (check in, meeting held) and the meeting sweep call these
functions; each works in one transaction and queues what the group or the
workshop is to be told in the outbox.

The roll call under a briefing is edited in place through the outbox, at most
every ``EDIT_EVERY`` per meeting, so a team of 30 checking in at once does not
run into Telegram's 20 messages per minute per group; a check-in held back is
shown by the roll-call sweep when the window ends, and the "meeting held" edit
shows everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category
from content.render import CONTENT_DIR, Renderer, escape_html
from domain.org import Role, leads_team
from domain.risk_cards import RiskCard, cards_for
from domain.shifts import (
    ScheduleError,
    ShiftOccurrence,
    ShiftSchedule,
    briefed_shift_now,
    occurrences,
)
from services import cards, shifts
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from services.finished import last_part
from services.group_commit import GroupCommit
from services.membership import Member
from services.roll_call_edits import show_roll_call
from storage import documents as doc_repo
from storage import hazards as hazard_repo
from storage import meetings as meeting_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import GroupChat, OutboxMessage, PreShiftMeeting, Unit

# The most message parts a briefing is split into (buttons sit on the last one).


@dataclass(frozen=True)
class MeetingButton(Button, prefix="pm"):
    """A briefing's and a shift-end prompt's buttons: ``pm:ACTION:MEETING``.

    ``in`` checks in, ``held`` closes the meeting (its leaders only); ``ho`` starts
    the handover and ``rep`` a hazard report from the shift-end prompt.
    """

    action: Literal["in", "held", "ho", "rep"]
    meeting_id: int


def meeting_buttons(renderer: Renderer, lang: str, meeting_id: int) -> dict[str, Any]:
    """The check-in and meeting-held buttons under a briefing."""
    return keyboard([[(renderer.plain("button.check_in", lang), MeetingButton("in", meeting_id)),
                      (renderer.plain("button.meeting_held", lang),
                       MeetingButton("held", meeting_id))]])


def summary_buttons(renderer: Renderer, lang: str, meeting_id: int) -> dict[str, Any]:
    """The shift-end prompt's buttons: start the handover, report a hazard."""
    return keyboard([[(renderer.plain("button.start_handover", lang),
                       MeetingButton("ho", meeting_id)),
                      (renderer.plain("button.report_hazard", lang),
                       MeetingButton("rep", meeting_id))]])


@cache
def _tips() -> list[dict[str, str]]:
    data = yaml.safe_load((CONTENT_DIR / "safety_tips.yaml").read_text(encoding="utf-8"))
    return [dict(item) for item in data]


def tip_of_the_day(day_ordinal: int, lang: str) -> str:
    """The safety tip of a day, in turn."""
    tips = _tips()
    tip = tips[day_ordinal % len(tips)]
    return tip.get(lang) or tip["zh"]


# ------------------------------------------------------------------ briefings


@dataclass(frozen=True)
class _Briefing:
    """A briefing composed (read and rendered), not yet written."""

    unit_id: int
    chat_id: int
    shift: ShiftOccurrence
    language: str
    html: str


async def post_briefings(rt: Runtime, teams: Sequence[tuple[Unit, GroupChat]], now: datetime,
                         *, grace: timedelta, risk_cards: Sequence[RiskCard] = ()) -> int:
    """Brief every team of ``teams`` whose shift's briefing time has come; how many were.

    Also a briefing that fell due while the bot was down, within ``grace``; exactly
    once per team and shift (the meeting row is the idempotency key). One
    transaction: the caller passes a batch small enough to hold the write lock briefly.
    """
    briefings: list[_Briefing] = []
    async with rt.db.transaction() as session:
        for unit, group in teams:
            schedule = shifts.team_schedule(unit, rt.default_timezone)
            if not isinstance(schedule, ShiftSchedule):
                continue
            lead = schedule.briefing_before
            for shift in occurrences(schedule, now + lead - grace,
                                     now + lead + timedelta(seconds=1)):
                if not await meeting_repo.exists(session, unit.id or 0, shift.key,
                                                 shift.starts_at):
                    briefings.append(await _compose(session, rt, unit, group, shift, now,
                                                    risk_cards, schedule.timezone))
        # Written once the batch's texts are composed: SQLite's write lock is taken at
        # the first write and held to the commit.
        await _post(session, rt.renderer, briefings, now)
    if briefings:
        rt.wake()  # sending starts while the next batches are written
    return len(briefings)


async def _compose(session: AsyncSession, rt: Runtime, unit: Unit, group: GroupChat,
                   shift: ShiftOccurrence, now: datetime,
                   risk_cards: Sequence[RiskCard], zone: str) -> _Briefing:
    """Read what a team's briefing shows and render it; nothing is written."""
    renderer = rt.renderer
    lang = org_repo.unit_language(unit, group, rt.default_language)
    hazards = await hazard_repo.open_hazards(session, [unit.id or 0])
    items = []
    for hazard in hazards[:10]:
        found = category(hazard.category)
        items.append({"code": hazard.code,
                      "severity": renderer.plain(f"severity.{hazard.severity}", lang),
                      "category": found.name(lang) if found else hazard.category,
                      "overdue": bool(hazard.watch_deadline and hazard.watch_deadline <= now)})
    documents = [{"title": doc_repo.text_in(document, lang)["title"], "unread": unread}
                 for document, unread in await doc_repo.unread_in_team(session, unit.id or 0)]
    keys = [u.key for u in await org_repo.ancestors(session, unit)]
    # The briefing is read standing up: the three highest cards, their accidents and
    # the first two measures; the whole card is on the wall and in the training issue.
    risks = [{"post": card.text("post", lang), "level": renderer.plain(
                  f"risk_level.{card.level.value}", lang),
              "accidents": card.text("accidents", lang),
              "measures": card.text("measures", lang)[:2]}
             for card in cards_for(risk_cards, keys)[:3]]
    # Issue 13: members still to be briefed on their post's cards (入职/转岗/复岗).
    unbriefed = await cards.not_briefed_in(session, group)
    base = renderer.html("meeting.briefing", lang, tz=zone, unit=unit.name,
                         shift=shift.shift.name,
                         starts_at=shift.starts_at, hazards=items, documents=documents,
                         risks=risks, unbriefed=unbriefed,
                         tip=tip_of_the_day(shift.day.toordinal(), lang), attendees=[])
    return _Briefing(unit.id or 0, group.chat_id, shift, lang, base)


async def _post(session: AsyncSession, renderer: Renderer, briefings: Sequence[_Briefing],
                now: datetime) -> None:
    """Write the meetings (the idempotency key) and queue their briefings with buttons."""
    if not briefings:
        return
    meetings = [PreShiftMeeting(unit_id=b.unit_id, shift_key=b.shift.key,
                                shift_name=b.shift.shift.name, starts_at=b.shift.starts_at,
                                ends_at=b.shift.ends_at, posted_at=now, briefing_html=b.html,
                                language=b.language) for b in briefings]
    session.add_all(meetings)
    await session.flush()  # one INSERT … RETURNING for the batch: the ids for the buttons
    items: list[outbox_repo.Outgoing] = []
    last_keys: list[str] = []
    for b, meeting in zip(briefings, meetings, strict=True):
        parts = outbox_repo.text_parts(
            html=b.html, reply_markup=meeting_buttons(renderer, b.language, meeting.id or 0),
            dedupe_key=f"briefing:{b.unit_id}:{b.shift.key}")
        items.extend(outbox_repo.Outgoing(chat_id=b.chat_id, params=params,
                                          purpose="meeting.briefing", dedupe_key=key or "")
                     for params, key in parts)
        last_keys.append(parts[-1][1] or "")
    await outbox_repo.enqueue_many(session, items, now=now)
    # Each meeting remembers its briefing's row: a check-in finds the message to edit
    # by its id, not by a search over the keys of its parts.
    ids = await outbox_repo.ids_by_key(session, last_keys)
    for meeting, key in zip(meetings, last_keys, strict=True):
        meeting.briefing_outbox_id = ids.get(key)
    session.add_all(meetings)


# ------------------------------------------------------------------ roll call


def with_roll_call(base: str, lang: str, names: list[str]) -> str:
    """The briefing with who checked in so far (names escaped: they are user input)."""
    shown = [escape_html(n) for n in names]
    if lang == "zh":
        return f"{base}\n已签到（{len(names)}）：{'、'.join(shown)}"
    return f"{base}\nChecked in ({len(names)}): {', '.join(shown)}"


async def briefing_message(session: AsyncSession,
                           meeting: PreShiftMeeting) -> OutboxMessage | None:
    """The outbox row of the briefing's message with the buttons (its last part)."""
    if meeting.briefing_outbox_id is not None:
        return await session.get(OutboxMessage, meeting.briefing_outbox_id)
    # A meeting briefed before the row was remembered: find it by its key.
    return await last_part(session, f"briefing:{meeting.unit_id}:{meeting.shift_key}")


async def refresh_roll_call(session: AsyncSession, renderer: Renderer,
                            meeting: PreShiftMeeting, now: datetime) -> bool:
    """Show a new check-in: queue an edit of the briefing with everyone checked in so
    far, or, when one was queued within ``EDIT_EVERY``, mark the roll call dirty for
    the roll-call sweep. True if an edit was queued.
    """
    async def queue_edit(row: OutboxMessage, number: int) -> None:
        names = [p.name for p in await meeting_repo.attendees(session, meeting.id or 0)]
        params: dict[str, Any] = {
            "message_id": row.telegram_message_id, "parse_mode": "HTML",
            "text": with_roll_call(meeting.briefing_html, meeting.language, names),
            "reply_markup": meeting_buttons(renderer, meeting.language, meeting.id or 0)}
        await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                                  params=params, now=now, purpose="meeting.roll_call_edit",
                                  dedupe_key=f"meeting-roll-edit:{meeting.id}:{number}")

    return await show_roll_call(
        session, meeting, now, message=lambda: briefing_message(session, meeting),
        mark_dirty=meeting_repo.mark_roll_call_dirty, claim=meeting_repo.claim_roll_call_edit,
        queue_edit=queue_edit)


async def queue_held_edit(session: AsyncSession, meeting: PreShiftMeeting, html: str,
                           now: datetime) -> bool:
    """Queue the briefing's last edit: held, by whom, everyone who came; no buttons."""
    row = await briefing_message(session, meeting)
    if row is None or row.telegram_message_id is None:
        return False
    await outbox_repo.enqueue(session, chat_id=row.chat_id, method="editMessageText",
                              params={"message_id": row.telegram_message_id, "text": html,
                                      "parse_mode": "HTML"},
                              now=now, purpose="meeting.held_edit",
                              dedupe_key=f"meeting-held-edit:{meeting.id}")
    return True


# ------------------------------------------------------------------ the buttons


async def _closed(session: AsyncSession, rt: Runtime,
                  meeting: PreShiftMeeting) -> Outcome:
    """A late press on a closed meeting's old buttons: who closed it, and when."""
    unit = await org_repo.get_unit(session, meeting.unit_id)
    found = await people_repo.people_by_ids(session, [meeting.held_by]) \
        if meeting.held_by else []
    return Outcome.refused("meeting.closed", who=found[0].name if found else "",
                           at=meeting.held_at,
                           tz=(unit.timezone if unit else None) or rt.default_timezone)


@dataclass(frozen=True)
class CheckInTap:
    """One press of "check in": at which meeting, by whom.

    The chat edge gives the clicker as Telegram describes them (``member``: learned
    in the same transaction); the CLI and the sandbox give a known ``person_id``.
    """

    meeting_id: int
    member: Member | None = None
    person_id: int | None = None


@dataclass(frozen=True)
class CheckInAnswer:
    """What a tap did, and the meeting's language to say it in (None: no such meeting)."""

    outcome: Outcome
    language: str | None


async def check_in_taps(rt: Runtime, taps: Sequence[CheckInTap]) -> list[CheckInAnswer]:
    """Check in everyone who tapped, in one transaction: each stored once however
    often they tap, one answer per tap in order.

    A meeting's first new check-in in a batch refreshes its roll call (an edit queued
    when none was within ``EDIT_EVERY``, else marked for the roll-call sweep), so a
    batch of a thousand taps costs a handful of statements, not thousands.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        learned = await people_repo.learn_people(session, [
            (t.member.telegram_id, t.member.name, t.member.username, t.member.language_code)
            for t in taps if t.member is not None], now)
        person_of = [t.person_id if t.member is None else learned[t.member.telegram_id].id
                     for t in taps]
        meetings = await meeting_repo.get_many(session, [t.meeting_id for t in taps])
        open_taps = [(t.meeting_id, person or 0) for t, person in zip(taps, person_of,
                                                                      strict=True)
                     if t.meeting_id in meetings and meetings[t.meeting_id].held_at is None]
        new = await meeting_repo.check_in_many(session, open_taps, now)
        edits = {meeting_id: await refresh_roll_call(session, rt.renderer,
                                                     meetings[meeting_id], now)
                 for meeting_id in sorted({m for m, _ in new})}
        answers: list[CheckInAnswer] = []
        for tap, person in zip(taps, person_of, strict=True):
            meeting = meetings.get(tap.meeting_id)
            if meeting is None:
                answers.append(CheckInAnswer(Outcome.refused("callback.stale"), None))
            elif meeting.held_at is not None:
                answers.append(CheckInAnswer(await _closed(session, rt, meeting),
                                             meeting.language))
            elif (tap.meeting_id, person) in new:
                new.discard((tap.meeting_id, person))  # a second tap in the batch: already
                answers.append(CheckInAnswer(Outcome.done(
                    "meeting.checked_in", queued=int(edits.pop(tap.meeting_id, False))),
                    meeting.language))
            else:
                answers.append(CheckInAnswer(Outcome.done("meeting.already"), meeting.language))
    if any(answer.outcome.queued for answer in answers):
        rt.wake()
    return answers


async def check_in(rt: Runtime, actor: Actor, meeting_id: int) -> Outcome:
    """Check ``actor`` in at a meeting: stored once however often they tap.

    The first check-in marks the roll call to be shown, and queues its edit when
    none was queued within ``EDIT_EVERY``.
    """
    [answer] = await check_in_taps(rt, [CheckInTap(meeting_id, person_id=actor.person_id)])
    return answer.outcome


class CheckInDesk:
    """Where the chat edge hands its check-in taps: the taps that arrive together
    are stored in one transaction (see :class:`services.group_commit.GroupCommit`)."""

    def __init__(self, rt: Runtime) -> None:
        self._commit: GroupCommit[CheckInTap, CheckInAnswer] = GroupCommit(
            lambda taps: check_in_taps(rt, taps))

    async def tap(self, tap: CheckInTap) -> CheckInAnswer:
        """Store a tap with the others arriving now; its answer once committed."""
        return await self._commit.submit(tap)

    @property
    def transactions(self) -> int:
        """How many transactions the taps took so far."""
        return self._commit.batches


async def record_held(session: AsyncSession, rt: Runtime, actor: Actor,
                      meeting_id: int) -> Outcome:
    """:func:`hold` inside the caller's transaction."""
    now = rt.clock.now()
    meeting = await meeting_repo.get(session, meeting_id)
    unit = await org_repo.get_unit(session, meeting.unit_id) if meeting else None
    if meeting is None or unit is None:
        return Outcome.refused("callback.stale")
    if meeting.held_at is not None:
        return await _closed(session, rt, meeting)
    if not leads_team(await org_repo.grants_of(session, actor.person_id), unit.id or 0):
        return Outcome.refused("meeting.leaders_only")
    meeting.held_at, meeting.held_by = now, actor.person_id
    meeting.roll_call_dirty = False  # the "held" edit shows everyone
    session.add(meeting)
    names = [p.name for p in await meeting_repo.attendees(session, meeting_id)]
    queued = await queue_held_edit(session, meeting, rt.renderer.html(
        "meeting.held", meeting.language, unit=unit.name, shift=meeting.shift_name,
        held_by=actor.name, attendees=names), now)
    return Outcome.done("button.meeting_held", queued=int(queued))


async def hold(rt: Runtime, actor: Actor, meeting_id: int) -> Outcome:
    """Mark a meeting held: only the team's own leaders may; the briefing shows who came."""
    async with rt.db.transaction() as session:
        outcome = await record_held(session, rt, actor, meeting_id)
    if outcome.queued:
        rt.wake()
    return outcome


# ------------------------------------------------------------------ after the briefing


async def _as_scheduled(session: AsyncSession, rt: Runtime, meeting: PreShiftMeeting,
                        now: datetime) -> str | None:
    """Follow a schedule changed after the briefing; the schedule's time zone, or None
    if the shift was cancelled.

    A moved shift moves the meeting's start and end (so its deadline and summary
    follow); a cancelled one marks the meeting cancelled, so the workshop is not
    told that a meeting of a shift that never ran was not held.
    """
    unit = await org_repo.get_unit(session, meeting.unit_id)
    team_zone = (unit.timezone if unit else None) or rt.default_timezone
    schedule = shifts.team_schedule(unit, rt.default_timezone)
    if isinstance(schedule, ScheduleError):
        return team_zone  # a broken schedule says nothing about this shift: keep it
    shift = briefed_shift_now(schedule, meeting.shift_key, meeting.starts_at) \
        if schedule is not None else None
    if shift is None:
        meeting.cancelled_at = now
    elif (shift.starts_at, shift.ends_at) != (meeting.starts_at, meeting.ends_at):
        meeting.starts_at, meeting.ends_at = shift.starts_at, shift.ends_at
    session.add(meeting)
    return schedule.timezone if shift is not None and schedule is not None else None


async def escalate_late(rt: Runtime, meeting_ids: Sequence[int], now: datetime, *,
                        held_within: timedelta) -> int:
    """Tell the workshop of each meeting not held ``held_within`` after its shift began.

    Follows a schedule changed since the briefing; a meeting held (or escalated)
    meanwhile is left alone. Returns how many meetings were escalated with a notice.
    """
    told = 0
    async with rt.db.transaction() as session:
        for meeting_id in meeting_ids:
            meeting = await meeting_repo.get(session, meeting_id)
            if meeting is None:
                continue
            zone = await _as_scheduled(session, rt, meeting, now)
            if zone is None or meeting.starts_at > now - held_within \
                    or not await meeting_repo.claim_escalation(session, meeting, now):
                continue  # cancelled, moved later (not late yet), or held meanwhile
            told += await _escalate(session, rt, meeting, now, zone)
    if told:
        rt.wake()
    return told


async def _escalate(session: AsyncSession, rt: Runtime, meeting: PreShiftMeeting,
                    now: datetime, zone: str) -> bool:
    """A meeting not held in time: the workshop's officers, managers and group are told."""
    unit = await org_repo.get_unit(session, meeting.unit_id)
    if unit is None:
        return False
    _, chats = await org_repo.nearest_recipients_above(
        session, unit, [Role.SAFETY_OFFICER, Role.MANAGER], rt.default_language)
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html("meeting.not_held", lang, tz=zone, unit=unit.name,
                                shift=meeting.shift_name, starts_at=meeting.starts_at)
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="meeting.not_held", person_id=person_id,
                                       dedupe_key=f"meeting-not-held:{meeting.id}:{chat_id}")
    return bool(chats)


async def prompt_summaries(rt: Runtime, meeting_ids: Sequence[int], now: datetime) -> int:
    """At shift end, ask each team's leader for the summary, with a handover button.

    Once per meeting; a cancelled shift, or one moved later, is not asked (yet).
    Returns how many prompts were queued.
    """
    prompted = 0
    async with rt.db.transaction() as session:
        for meeting_id in meeting_ids:
            meeting = await meeting_repo.get(session, meeting_id)
            if meeting is None or meeting.summary_prompted_at is not None \
                    or await _as_scheduled(session, rt, meeting, now) is None \
                    or meeting.ends_at > now:
                continue
            prompted += await _prompt_summary(session, rt.renderer, meeting, now)
            meeting.summary_prompted_at = now
            session.add(meeting)
    if prompted:
        rt.wake()
    return prompted


async def _prompt_summary(session: AsyncSession, renderer: Renderer, meeting: PreShiftMeeting,
                          now: datetime) -> bool:
    """Queue the shift-end prompt in the team's group (none if it has no active group)."""
    unit = await org_repo.get_unit(session, meeting.unit_id)
    group = await org_repo.chat_of_unit(session, meeting.unit_id)
    if unit is None or group is None or not group.active:
        return False
    lang = meeting.language
    html = renderer.html("meeting.summary_prompt", lang, unit=unit.name,
                         shift=meeting.shift_name)
    await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=html, now=now,
                                   purpose="meeting.summary",
                                   reply_markup=summary_buttons(renderer, lang, meeting.id or 0),
                                   dedupe_key=f"meeting-summary:{meeting.id}")
    return True
