"""The update inbox: an update is ours once it is written down, not once handled.

Telegram forgets the updates below the offset a ``getUpdates`` confirms (a webhook
call: once answered 200). Confirming only what is handled holds fetching to a
prefix of the stream; confirming what is merely queued loses it in a kill -9.
Instead every batch is written, whole, in one transaction (its ids and raw JSON;
:mod:`storage.updates`) before it is confirmed; it is then handed to the
Application from memory. Handling an update marks it done (written behind, in
batches, by :class:`bot.updates.OrderedUpdateProcessor`). At start-up, and when a
standby takes over, the updates received and not done are handed over first, in
update id order (:meth:`UpdateInbox.unhandled`).

A webhook handler stores the update with :meth:`UpdateInbox.receive` before it
answers 200, then puts what it returns on the Application's update queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from telegram import Bot, Update

from storage import updates as updates_repo
from storage.db import Database

log = logging.getLogger(__name__)


class UpdateInbox:
    """Stores received updates for good and gives back those not yet handled.

    Args:
        db: The bot's database (the inbox is ``processed_update``).
        bot: The bot the updates belong to (its id keys the rows; read once the bot
            is initialised).
    """

    def __init__(self, db: Database, bot: Bot) -> None:
        self._db = db
        self._bot = bot

    async def receive(self, batch: Sequence[Mapping[str, Any]]) -> list[Update]:
        """Store a batch of updates as Telegram sent them (one transaction) and return
        them parsed, in the order given. When this returns, they survive a crash.

        An update already in the inbox (a redelivery) is stored once; it is still
        returned, and the processor's guard drops it if it is done or in flight.
        """
        if not batch:
            return []
        updates = self._parse(batch)  # what cannot be read is not stored (nor confirmed)
        payloads = [(int(data["update_id"]), json.dumps(data, ensure_ascii=False,
                                                        separators=(",", ":")))
                    for data in batch]
        async with self._db.transaction() as session:
            await updates_repo.receive_many(session, bot_id=self._bot.id, payloads=payloads)
        return updates

    async def unhandled(self) -> list[Update]:
        """The updates received and not yet handled (a previous run's), in id order."""
        async with self._db.session() as session:
            rows = await updates_repo.unhandled(session, bot_id=self._bot.id)
        return self._parse([json.loads(payload) for _, payload in rows])

    def _parse(self, batch: Sequence[Mapping[str, Any]]) -> list[Update]:
        updates = []
        for data in batch:
            update = Update.de_json(dict(data), self._bot)
            if update is not None:
                updates.append(update)
        return updates
