"""Evidence photos: downloaded once the step that registered them has committed.

A download is network I/O of unknown length; it never runs while a database
transaction is open (a slow ``getFile`` would hold SQLite's write lock, or a
PostgreSQL connection and its row locks, for as long). The step commits with
the Telegram file ids, then the photos are saved under ``MEDIA_DIR`` and their
paths recorded in a short transaction of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from telegram.error import TelegramError

from handlers.common import Context, runtime, services
from services import hazards as hazard_service

log = logging.getLogger(__name__)


async def keep_evidence(context: Context, file_id: str, unique_id: str) -> str | None:
    """Download a photo so the ledger keeps its evidence after Telegram forgets it."""
    target = Path(services(context).settings.media_dir) / "hazards" / f"{unique_id}.jpg"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file = await context.bot.get_file(file_id)
        await file.download_to_drive(target)
    except (TelegramError, OSError):
        log.warning("could not keep photo %s", unique_id, exc_info=True)
        return None  # the file_id still works for a while; the ledger shows what is missing
    return str(target)


async def keep_photos(context: Context, hazard_id: int | None, kind: Literal["before", "after"],
                      photos: Iterable[tuple[str, str]]) -> None:
    """Download a hazard's photos (file id, unique id) and record where they are kept."""
    if hazard_id is None:
        return
    kept = {unique: await keep_evidence(context, file_id, unique) for file_id, unique in photos}
    await hazard_service.keep_photos(runtime(context), hazard_id, kind, kept)
