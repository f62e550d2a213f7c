"""What one check-in tap costs the database: the busiest moment of the bot.

At shift start a whole plant taps "签到" within minutes; most taps fall inside
the roll call's edit window, so they store the attendance and mark the roll
call dirty, and nothing more. Counted with SQLAlchemy's own events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from storage import meetings as meeting_repo
from storage.db import Database
from storage.models import PreShiftMeeting
from tests.integration.conftest import BotUnderTest
from tests.integration.test_hazards import setup_plant
from tests.integration.test_meetings import briefings, give_schedule

NOT_QUERIES = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")


@contextmanager
def database_work(db: Database) -> Iterator[dict[str, Any]]:
    """Statements sent and connections taken (one per session that queried) meanwhile."""
    seen: dict[str, Any] = {"statements": [], "sessions": 0, "commits": 0}

    def statement(_conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        if not text.lstrip().upper().startswith(NOT_QUERIES):
            seen["statements"].append(" ".join(text.split())[:60])

    def checkout(*_args: Any) -> None:
        seen["sessions"] += 1

    def commit(*_args: Any) -> None:
        seen["commits"] += 1

    engine = db.engine.sync_engine
    hooks = (("before_cursor_execute", statement), ("commit", commit))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)
        event.remove(engine.pool, "checkout", checkout)


async def test_a_check_in_tap_costs_few_statements_and_one_session(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    await give_schedule(bot, "team-a")
    bot.clock.advance(timedelta(minutes=15))  # 08:45: the briefing
    await bot.run_sweeps()
    [briefing] = briefings(group)
    people["Worker Wu"].click(briefing, "签到")  # shown at once: the roll-call edit queued
    await bot.settle()
    for name in ("Leader Li", "Officer Zhao"):  # they meet the bot in the group first
        people[name].send(group, "早")
    await bot.settle()
    assert bot.db is not None
    # Within the edit window, as nearly every tap of a shift start is.
    with database_work(bot.db) as work:
        cq = people["Leader Li"].click(briefing, "签到")
        await handled(bot)  # the tap only: not the outbox drain that settle() adds
    assert d.callback_answer(cq) == {"text": "已签到", "show_alert": False}
    print(f"\none check-in tap: {len(work['statements'])} statements, "
          f"{work['sessions']} sessions, {work['commits']} commits")
    for line in work["statements"]:
        print("  ", line)
    # The whole update: storing it in the inbox (one statement for its whole getUpdates
    # batch, here a batch of one), the check-in (one session: the clicker, the meeting,
    # the attendance, the dirty mark) and marking the update handled. The member was
    # learned before and the redelivery guard remembers in memory, so neither queries.
    # Before the service layer: 17 statements in 5 sessions (16 once briefings remember
    # their message); after it, before batching: 12 in 4.
    inbox = [s for s in work["statements"] if s.startswith("INSERT INTO processed_update")
             and "payload" in s]
    assert len(inbox) == 1, work
    assert work["sessions"] <= 3 and work["commits"] <= 3, work
    assert len(work["statements"]) <= 7, work
    meeting_work = [s for s in work["statements"]
                    if "pre_shift_meeting" in s or "attendance" in s or "outbox" in s]
    assert len(meeting_work) <= 3, meeting_work


async def handled(bot: BotUnderTest) -> None:
    """Wait until every delivered update was handled (settle() without the drain)."""
    await bot.driver.until_delivered(timeout=10)
    wanted = set(bot.driver.delivered_update_ids())
    while not wanted <= bot.handled:
        bot._handled_event.clear()
        if wanted <= bot.handled:
            break
        await bot._handled_event.wait()


async def test_a_burst_of_taps_is_stored_once_each_in_few_transactions(bot: BotUnderTest) -> None:
    """Taps arriving together share transactions; each is answered and stored once."""
    _, _, group = await setup_plant(bot)
    d = bot.driver
    await give_schedule(bot, "team-a")
    bot.clock.advance(timedelta(minutes=15))
    await bot.run_sweeps()
    [briefing] = briefings(group)
    crew = [d.user(f"Fitter {n}") for n in range(24)]
    for fitter in crew:
        group.add_member(fitter)
    await bot.settle()
    desk = bot.services.check_ins
    before = desk.transactions
    taps = [fitter.click(briefing, "签到") for fitter in crew]
    taps += [fitter.click(briefing, "签到") for fitter in crew[:6]]  # impatient: twice
    await bot.settle()
    answers = [(d.callback_answer(cq) or {}).get("text") for cq in taps]
    assert answers[:24] == ["已签到"] * 24
    assert answers[24:] == ["你已经签到过了"] * 6
    transactions = desk.transactions - before
    assert 1 <= transactions < len(taps), transactions
    bot.clock.advance(timedelta(seconds=11))  # past the roll call's edit window
    await bot.run_sweeps()
    text = briefings(group)[0].text or ""
    assert all(f"Fitter {n}" in text for n in range(24)), text
    async with bot.services.db.session() as session:
        [meeting_id] = (await session.exec(select(PreShiftMeeting.id))).all()
        stored = await meeting_repo.attendees(session, meeting_id or 0)
    assert sorted(p.name for p in stored if p.name.startswith("Fitter")) == sorted(
        f"Fitter {n}" for n in range(24))
