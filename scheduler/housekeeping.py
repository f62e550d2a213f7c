"""Housekeeping sweeps that keep the tables small."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.timetable import SweepFunction
from storage import updates as updates_repo
from storage.db import Database

# Telegram keeps an unconfirmed update for 24 hours; remembering ids twice as long suffices.
PROCESSED_UPDATE_RETENTION = timedelta(hours=48)


def forget_old_updates(db: Database) -> SweepFunction:
    """A sweep that drops processed-update ids Telegram can no longer redeliver."""

    async def sweep(now: datetime) -> None:
        async with db.transaction() as session:
            await updates_repo.forget_before(session, now - PROCESSED_UPDATE_RETENTION)

    return sweep
