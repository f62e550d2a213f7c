"""Evidence photos: downloaded once the step that registered them has committed.

A download is network I/O of unknown length; it never runs while a database
transaction is open (a slow ``getFile`` would hold SQLite's write lock, or a
PostgreSQL connection and its row locks, for as long). The step commits with
the Telegram file ids, then the photos are saved under ``MEDIA_DIR`` and their
paths recorded in a short transaction of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from handlers.common import Context, keep_evidence, runtime
from services import hazards as hazard_service


async def keep_photos(context: Context, hazard_id: int | None, kind: Literal["before", "after"],
                      photos: Iterable[tuple[str, str]]) -> None:
    """Download a hazard's photos (file id, unique id) and record where they are kept."""
    if hazard_id is None:
        return
    kept = {unique: await keep_evidence(context, file_id, unique) for file_id, unique in photos}
    await hazard_service.keep_photos(runtime(context), hazard_id, kind, kept)
