"""A briefing's roll call: dirty until shown, one edit per window even when two race."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.roll_call import EDIT_EVERY
from storage import meetings as meeting_repo
from storage.db import Database
from storage.models import PreShiftMeeting, Unit

T0 = datetime(2026, 11, 23, 0, 45, tzinfo=UTC)


async def test_a_throttled_roll_call_stays_dirty_until_the_window_ends(db: Database) -> None:
    async with db.transaction() as s:
        unit = Unit(key="team-a", kind="team", name="甲班", created_at=T0)
        s.add(unit)
        await s.flush()
        meeting = PreShiftMeeting(unit_id=unit.id or 0, shift_key="2026-11-23/早班",
                                  shift_name="早班", starts_at=T0 + timedelta(minutes=15),
                                  ends_at=T0 + timedelta(hours=8), posted_at=T0)
        s.add(meeting)
        await s.flush()
        meeting_id = meeting.id or 0

    async def claim(at: datetime) -> int | None:
        async with db.transaction() as s:
            found = await meeting_repo.get(s, meeting_id)
            assert found is not None
            await meeting_repo.mark_roll_call_dirty(s, found)
            return await meeting_repo.claim_roll_call_edit(s, found, at, at - EDIT_EVERY)

    async def stale(at: datetime) -> list[int | None]:
        async with db.session() as s:
            return [m.id for m in await meeting_repo.stale_roll_calls(s, at - EDIT_EVERY)]

    assert await claim(T0) == 1  # the first check-in is shown at once
    assert await stale(T0) == []
    assert await claim(T0 + timedelta(seconds=2)) is None  # within the window: dirty
    assert await stale(T0 + timedelta(seconds=9)) == []
    assert await stale(T0 + timedelta(seconds=10)) == [meeting_id]
    assert await claim(T0 + timedelta(seconds=10)) == 2
    assert await stale(T0 + timedelta(seconds=30)) == []
    async with db.transaction() as s:
        found = await meeting_repo.get(s, meeting_id)
        assert found is not None and found.roll_call_edits == 2
        found.held_at = T0 + timedelta(seconds=40)
        found.roll_call_dirty = True
        s.add(found)
    assert await stale(T0 + timedelta(minutes=1)) == []  # held: its last edit shows all
    assert await claim(T0 + timedelta(minutes=1)) is None
