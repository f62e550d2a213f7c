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

The updates a batch handler takes (``keep_raw``: a plant's votes in the morning's
quiz poll) are not turned into PTB objects: they are handed over as
:class:`RawUpdate`, and the batch handler reads the few fields it needs. Parsing
a flood of votes cost more than recording them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Bot, Update

from storage import updates as updates_repo
from storage.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawUpdate:
    """An update as Telegram sent it, for a batch handler (see ``keep_raw``)."""

    update_id: int
    bot_id: int
    data: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """``poll_answer``…: the field the update carries."""
        return next((key for key in self.data if key != "update_id"), "other")


Received = Update | RawUpdate  # what the inbox hands over


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
        # Which updates are handed over unparsed (OrderedUpdateProcessor.takes_raw).
        self.keep_raw: Callable[[Mapping[str, Any]], bool] = lambda _data: False

    async def receive(self, batch: Sequence[Mapping[str, Any]]) -> list[Received]:
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

    async def unhandled(self) -> list[Received]:
        """The updates received and not yet handled (a previous run's), in id order."""
        async with self._db.session() as session:
            rows = await updates_repo.unhandled(session, bot_id=self._bot.id)
        return self._parse([json.loads(payload) for _, payload in rows])

    def _parse(self, batch: Sequence[Mapping[str, Any]]) -> list[Received]:
        updates: list[Received] = []
        for data in batch:
            if self.keep_raw(data):
                updates.append(RawUpdate(int(data["update_id"]), self._bot.id, data))
                continue
            update = Update.de_json(dict(data), self._bot)
            if update is not None:
                updates.append(update)
        return updates
