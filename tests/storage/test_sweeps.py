"""Sweeps run on the clock they are given; one failing sweep does not stop the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.clock import ManualClock
from scheduler.housekeeping import forget_old_updates
from scheduler.timetable import Timetable
from storage import updates as updates_repo
from storage.db import Database

T0 = datetime(2026, 11, 23, tzinfo=UTC)


async def test_sweeps_run_in_order_with_the_injected_time() -> None:
    clock = ManualClock(T0)
    seen: list[tuple[str, datetime]] = []
    timetable = Timetable(clock)

    async def broken(now: datetime) -> None:
        raise RuntimeError("boom")

    async def record(now: datetime) -> None:
        seen.append(("record", now))

    timetable.add("broken", timedelta(minutes=1), broken)
    timetable.add("record", timedelta(minutes=1), record)
    clock.advance(timedelta(hours=4))
    await timetable.run_due()
    assert seen == [("record", T0 + timedelta(hours=4))]


async def test_old_update_ids_are_forgotten_after_two_days(db: Database) -> None:
    async with db.transaction() as s:
        await updates_repo.mark_processed(s, bot_id=1, update_id=1, now=T0)
        await updates_repo.mark_processed(s, bot_id=1, update_id=2, now=T0 + timedelta(days=1))
    await forget_old_updates(db)(T0 + timedelta(hours=49))
    async with db.session() as s:
        assert not await updates_repo.was_processed(s, bot_id=1, update_id=1)
        assert await updates_repo.was_processed(s, bot_id=1, update_id=2)
