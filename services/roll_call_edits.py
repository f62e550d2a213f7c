"""Showing a roll call by editing its message in place, throttled (domain.roll_call).

One mechanism for every roll call that is shown as answers arrive (the briefing's
check-ins, the evacuation's "I am safe"): each feature says where its message is,
how to mark and claim its row, and what the edit says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.delivery import OutboxStatus
from domain.roll_call import EDIT_EVERY, may_edit
from storage.models import OutboxMessage


class RollCallRow(Protocol):
    """A row whose roll call is shown in place: when it was last edited, whether it changed."""

    last_edit_at: datetime | None
    roll_call_dirty: bool


Row = TypeVar("Row", bound=RollCallRow)


async def show_roll_call(
    session: AsyncSession, row: Row, now: datetime, *,
    message: Callable[[], Awaitable[OutboxMessage | None]],
    mark_dirty: Callable[[AsyncSession, Row], Awaitable[None]],
    claim: Callable[[AsyncSession, Row, datetime, datetime], Awaitable[int | None]],
    queue_edit: Callable[[OutboxMessage, int], Awaitable[None]],
) -> bool:
    """Queue the edit that shows ``row``'s roll call now, or, within ``EDIT_EVERY`` of
    the last one, mark it dirty for the roll-call sweep. True if an edit was queued.

    ``claim`` takes the right to edit (conditional, so two answers at the same moment
    queue one edit between them) and returns the edit's number for its dedupe key.
    """
    if not may_edit(row.last_edit_at, now):
        # Edited within the window (and that time only grows): the claim would fail,
        # so the busiest answers cost no more than this mark.
        await mark_dirty(session, row)
        return False
    sent = await message()
    if sent is None or (sent.telegram_message_id is None
                        and sent.status == OutboxStatus.FAILED.value):
        row.roll_call_dirty = False  # no message in the group: nothing to edit
        session.add(row)
        return False
    number = await claim(session, row, now, now - EDIT_EVERY) \
        if sent.telegram_message_id is not None else None
    if number is None:
        # Not sent yet, edited meanwhile, or closed: it stays dirty, the sweep looks again.
        await mark_dirty(session, row)
        return False
    await queue_edit(sent, number)
    return True
