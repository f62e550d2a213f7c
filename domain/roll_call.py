"""The throttle shared by every roll call edited in place (briefings, documents).

A roll call message is edited at most once per ``EDIT_EVERY``: a team of 30
pressing a button at once must not run into Telegram's 20 messages per minute
per group. A change inside the window marks the roll call dirty; the roll-call
sweep, which runs every ``EDIT_EVERY``, shows it once the window has passed, so
the last state is always shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta

EDIT_EVERY = timedelta(seconds=10)


def may_edit(last_edit_at: datetime | None, now: datetime) -> bool:
    """Whether a roll call last edited at ``last_edit_at`` may be edited again now."""
    return last_edit_at is None or now - last_edit_at >= EDIT_EVERY
