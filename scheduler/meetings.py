"""The pre-shift meeting sweep (班前会): brief before each shift, watch it is held.

Every minute: for each team with a schedule and an active group, post the
briefing of any shift whose briefing time has come — also one that fell due
while the bot was down, within the grace window — exactly once per team and
shift (the meeting row is the idempotency key). Meetings not held in time are
escalated to the workshop; at shift end the leader is asked for the summary.

Writes go in batches of ``BATCH`` teams or meetings, a transaction each: on
SQLite a writer locks out every other one until it commits, and 1,000 briefings
in one transaction kept check-ins waiting ~13 s. A batch that committed stays
done if the bot dies mid-sweep; the next sweep does the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import TypeVar

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category
from content.render import CONTENT_DIR, Renderer
from domain.durations import as_duration
from domain.org import Role
from domain.risk_cards import RiskCard, cards_for
from domain.shifts import (
    ScheduleError,
    ShiftOccurrence,
    ShiftSchedule,
    briefed_shift_now,
    occurrences,
    parse_schedule,
)
from scheduler.timetable import SweepFunction
from services.buttons import pack
from storage import documents as doc_repo
from storage import hazards as hazard_repo
from storage import meetings as meeting_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.db import Database
from storage.models import GroupChat, PreShiftMeeting, Unit

log = logging.getLogger(__name__)
# Meetings missed or ended longer ago than this (the bot was down for days) are history:
# no late escalation or summary prompt for them.
LOOKBACK = timedelta(days=1)
# Teams (or meetings) per write transaction: rendering a briefing takes ~13 ms, so a
# batch holds SQLite's write lock for well under a second.
BATCH = 50
_T = TypeVar("_T")


@cache
def _tips() -> list[dict[str, str]]:
    data = yaml.safe_load((CONTENT_DIR / "safety_tips.yaml").read_text(encoding="utf-8"))
    return [dict(item) for item in data]


def tip_of_the_day(day_ordinal: int, lang: str) -> str:
    """The safety tip of a day, in turn."""
    tips = _tips()
    tip = tips[day_ordinal % len(tips)]
    return tip.get(lang) or tip["zh"]


def meeting_buttons(renderer: Renderer, lang: str, meeting_id: int) -> dict[str, object]:
    """The check-in and meeting-held buttons under a briefing."""
    return {"inline_keyboard": [[
        {"text": renderer.plain("button.check_in", lang),
         "callback_data": pack("pm", "in", meeting_id)},
        {"text": renderer.plain("button.meeting_held", lang),
         "callback_data": pack("pm", "held", meeting_id)}]]}


def pre_shift_sweep(db: Database, renderer: Renderer, *, default_language: str,
                    default_timezone: str, reminder_grace: str | timedelta,
                    meeting_grace: str | timedelta,
                    wake: Callable[[], None],
                    risk_cards: Sequence[RiskCard] = ()) -> SweepFunction:
    """Briefings before shifts, escalation of meetings not held, post-shift prompts.

    ``risk_cards`` are the plant's risk notification cards; a briefing lists its team's.
    """
    grace, held_within = as_duration(reminder_grace), as_duration(meeting_grace)

    async def sweep(now: datetime) -> None:
        async with db.session() as session:  # reads only: no write lock held
            teams = await org_repo.teams_with_groups(session)
        for batch in _batches(teams):
            briefings: list[_Briefing] = []
            async with db.transaction() as session:
                for unit, group in batch:
                    schedule = _schedule(unit.extra_json, unit.timezone or default_timezone)
                    if not isinstance(schedule, ShiftSchedule):
                        continue
                    lead = schedule.briefing_before
                    for shift in occurrences(schedule, now + lead - grace,
                                             now + lead + timedelta(seconds=1)):
                        if not await meeting_repo.exists(session, unit.id or 0, shift.key,
                                                         shift.starts_at):
                            briefings.append(await _compose(
                                session, renderer, unit, group, shift, now,
                                default_language, risk_cards, schedule.timezone))
                # Written once the batch's texts are composed, in two statements: SQLite's
                # write lock is taken at the first write and held to the commit.
                await _post(session, renderer, briefings, now)
            if briefings:
                wake()  # sending starts while the next batches are written
        # Read after the briefings, as one transaction did: a briefing caught up late may
        # already be overdue.
        async with db.session() as session:
            late = [m.id or 0 for m in await meeting_repo.not_held(
                session, now - held_within, now - held_within - LOOKBACK)]
        for ids in _batches(late):
            queued = False
            async with db.transaction() as session:
                for meeting_id in ids:
                    meeting = await meeting_repo.get(session, meeting_id)
                    if meeting is None:
                        continue
                    zone = await _as_scheduled(session, meeting, now, default_timezone)
                    if zone is None or meeting.starts_at > now - held_within \
                            or not await meeting_repo.claim_escalation(session, meeting, now):
                        continue  # cancelled, moved later (not late yet), or held meanwhile
                    queued |= await _escalate(session, renderer, meeting, now,
                                              default_language, zone)
            if queued:
                wake()
        async with db.session() as session:
            ended = [m.id or 0 for m in await meeting_repo.ended_without_summary(
                session, now, now - LOOKBACK)]
        for ids in _batches(ended):
            queued = False
            async with db.transaction() as session:
                for meeting_id in ids:
                    meeting = await meeting_repo.get(session, meeting_id)
                    if meeting is None or meeting.summary_prompted_at is not None \
                            or await _as_scheduled(session, meeting, now,
                                                   default_timezone) is None \
                            or meeting.ends_at > now:
                        continue
                    queued |= await _prompt_summary(session, renderer, meeting, now)
                    meeting.summary_prompted_at = now
                    session.add(meeting)
            if queued:
                wake()

    return sweep


def _batches(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``items`` in slices of ``BATCH``, each written in its own transaction."""
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


@dataclass(frozen=True)
class _Briefing:
    """A briefing composed (read and rendered), not yet written."""

    unit_id: int
    chat_id: int
    shift: ShiftOccurrence
    language: str
    html: str


async def _compose(session: AsyncSession, renderer: Renderer, unit: Unit, group: GroupChat,
                   shift: ShiftOccurrence, now: datetime, default_language: str,
                   risk_cards: Sequence[RiskCard], zone: str) -> _Briefing:
    """Read what a team's briefing shows and render it; nothing is written."""
    lang = org_repo.unit_language(unit, group, default_language)
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
    base = renderer.html("meeting.briefing", lang, tz=zone, unit=unit.name,
                         shift=shift.shift.name,
                         starts_at=shift.starts_at, hazards=items, documents=documents,
                         risks=risks,
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
    await outbox_repo.enqueue_many(session, [
        outbox_repo.Outgoing(chat_id=b.chat_id, params=params, purpose="meeting.briefing",
                             dedupe_key=key or "")
        for b, meeting in zip(briefings, meetings, strict=True)
        for params, key in outbox_repo.text_parts(
            html=b.html, reply_markup=meeting_buttons(renderer, b.language, meeting.id or 0),
            dedupe_key=f"briefing:{b.unit_id}:{b.shift.key}")], now=now)


@lru_cache(maxsize=4096)
def _schedule(extra_json: str | None, zone: str) -> ShiftSchedule | ScheduleError | None:
    """A team's schedule (None without one), parsed once per distinct text.

    The sweep reads every team each minute; the text rarely changes. A broken one
    comes back as its error, logged once rather than every minute.
    """
    data = json.loads(extra_json).get("shifts") if extra_json else None
    if data is None:
        return None
    try:
        return parse_schedule(data, zone)
    except ScheduleError as problem:
        log.warning("a team schedule is broken, so no briefings for it: %s", problem)
        return problem


async def _as_scheduled(session: AsyncSession, meeting: PreShiftMeeting, now: datetime,
                        default_timezone: str) -> str | None:
    """Follow a schedule changed after the briefing; the schedule's time zone, or None
    if the shift was cancelled.

    A moved shift moves the meeting's start and end (so its deadline and summary
    follow); a cancelled one marks the meeting cancelled, so the workshop is not
    told that a meeting of a shift that never ran was not held.
    """
    unit = await org_repo.get_unit(session, meeting.unit_id)
    team_zone = (unit.timezone if unit else None) or default_timezone
    schedule = _schedule(unit.extra_json if unit else None, team_zone)
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


async def _escalate(session: AsyncSession, renderer: Renderer, meeting: PreShiftMeeting,
                    now: datetime, default_language: str, zone: str) -> bool:
    """A meeting not held in time: the workshop's officers, managers and group are told."""
    unit = await org_repo.get_unit(session, meeting.unit_id)
    if unit is None:
        return False
    _, chats = await org_repo.nearest_recipients_above(
        session, unit, [Role.SAFETY_OFFICER, Role.MANAGER], default_language)
    for chat_id, (lang, person_id) in chats.items():
        html = renderer.html("meeting.not_held", lang, tz=zone, unit=unit.name,
                             shift=meeting.shift_name,
                             starts_at=meeting.starts_at)
        await outbox_repo.enqueue_text(session, chat_id=chat_id, html=html, now=now,
                                       purpose="meeting.not_held", person_id=person_id,
                                       dedupe_key=f"meeting-not-held:{meeting.id}:{chat_id}")
    return bool(chats)


async def _prompt_summary(session: AsyncSession, renderer: Renderer, meeting: PreShiftMeeting,
                          now: datetime) -> bool:
    """At shift end, ask the team's leader for the summary, with a handover button."""
    unit = await org_repo.get_unit(session, meeting.unit_id)
    group = await org_repo.chat_of_unit(session, meeting.unit_id)
    if unit is None or group is None or not group.active:
        return False
    lang = meeting.language
    html = renderer.html("meeting.summary_prompt", lang, unit=unit.name,
                         shift=meeting.shift_name)
    markup = {"inline_keyboard": [[{"text": renderer.plain("button.start_handover", lang),
                                    "callback_data": pack("pm", "ho", meeting.id or 0)},
                                   {"text": renderer.plain("button.report_hazard", lang),
                                    "callback_data": pack("pm", "rep", meeting.id or 0)}]]}
    await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=html, now=now,
                                   purpose="meeting.summary", reply_markup=markup,
                                   dedupe_key=f"meeting-summary:{meeting.id}")
    return True
