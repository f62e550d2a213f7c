"""The dispatcher: the one place where the bot's own notifications are sent.

Rows are claimed from the outbox, sent in order per chat (chats in parallel),
and marked sent once. 429 waits exactly ``retry_after``; 5xx and time-outs back
off; a migrated group is followed to its new id; 400 and 403 are final and the
reason is kept (and a kicked group or a blocking user is remembered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from domain.clock import Clock
from domain.delivery import FailureKind, RetryPolicy
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


def _seconds(exc: RetryAfter) -> float:
    """retry_after in seconds, whether PTB gives an int or (future) a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@dataclass
class _Outcome:
    """What happened to one row in a pass (written with the rest of the batch)."""

    row: OutboxMessage
    attempted: bool = True
    attempts: int = 0
    message_id: int | None = None
    kind: FailureKind | None = None
    error: str = ""
    retry_at: datetime | None = None
    new_chat_id: int | None = None

    def __post_init__(self) -> None:
        if not self.attempted:
            self.attempts = self.row.attempts


class OutboxDispatcher:
    """Sends due outbox rows through the bot.

    Args:
        bot: The PTB bot (with its rate limiter) that talks to Telegram.
        db: Where the outbox lives.
        clock: The one clock.
        policy: When to retry.
        lease: How long a claim holds before another sender may take the row.
        poll_seconds: How often the background loop looks for due rows unasked.
    """

    def __init__(self, bot: Bot, db: Database, clock: Clock, *,
                 policy: RetryPolicy | None = None, lease: timedelta = timedelta(minutes=2),
                 poll_seconds: float = 2.0) -> None:
        self.bot = bot
        self.db = db
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.owner = f"dispatcher-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # One pass at a time: a caller asking for a pass waits for the one in flight.
        self._pass = asyncio.Lock()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Run the background loop (rows left unsent before a restart go out first)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        """Finish the current pass and stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Ask for a pass now (called after new rows are committed)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.dispatch_due()
            except Exception:  # keep the loop alive; the rows stay in the database
                log.exception("outbox pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    # ------------------------------------------------------------ sending

    async def dispatch_due(self, batch: int = 100) -> int:
        """Send everything due now; return how many attempts were made."""
        async with self._pass:
            return await self._dispatch_due(batch)

    async def _dispatch_due(self, batch: int) -> int:
        attempts = 0
        while not self._stopping or attempts == 0:
            now = self.clock.now()
            async with self.db.transaction() as session:
                rows = await outbox_repo.claim_due(session, now=now, owner=self.owner,
                                                   lease=self.lease, limit=batch)
                gone = await org_repo.inactive_chat_ids(session, {r.chat_id for r in rows})
            if not rows:
                break
            by_chat: OrderedDict[int, list[OutboxMessage]] = OrderedDict()
            for row in rows:
                by_chat.setdefault(row.chat_id, []).append(row)
            outcomes = await asyncio.gather(*(self._send_in_order(chat_rows, chat_id in gone)
                                              for chat_id, chat_rows in by_chat.items()))
            # One transaction for the whole batch: sending is the slow part, not the books.
            async with self.db.transaction() as session:
                await self._record_all(session, [o for chat in outcomes for o in chat])
            attempts += sum(1 for chat in outcomes for o in chat if o.attempted)
            if self._stopping:
                break
        return attempts

    async def _send_in_order(self, rows: list[OutboxMessage], chat_gone: bool) -> list[_Outcome]:
        """Send one chat's rows in order; after a failure, the rest wait behind it."""
        outcomes: list[_Outcome] = []
        for index, row in enumerate(rows):
            if chat_gone:
                outcomes.append(_Outcome(row, attempted=False, kind=FailureKind.FORBIDDEN,
                                         error="chat inactive: the bot was removed"))
                continue
            outcome = await self._send_one(row)
            outcomes.append(outcome)
            if outcome.retry_at is not None:
                outcomes += [_Outcome(later, attempted=False, retry_at=outcome.retry_at,
                                      error="waiting behind an earlier message")
                             for later in rows[index + 1:]]
                break
        return outcomes

    async def _send_one(self, row: OutboxMessage) -> _Outcome:
        """Attempt one row; the outcome is written later with the rest of the batch."""
        attempts = row.attempts + 1
        params = outbox_repo.params_of(row)
        params["chat_id"] = row.chat_id
        retry_after: float | None = None
        new_chat_id: int | None = None
        try:
            with warnings.catch_warnings():
                # One stored form, one path for every method: PTB's hint to call the
                # specific method instead does not apply here.
                warnings.filterwarnings("ignore", message=r"Please use 'Bot\.",
                                        category=PTBUserWarning)
                result = await self.bot.do_api_request(row.method, api_kwargs=params,
                                                       return_type=Message)
        except RetryAfter as exc:
            kind, error = FailureKind.FLOOD, str(exc)
            retry_after = _seconds(exc)
        except ChatMigrated as exc:
            kind, error, new_chat_id = FailureKind.MIGRATED, str(exc), int(exc.new_chat_id)
        except Forbidden as exc:
            kind, error = FailureKind.FORBIDDEN, str(exc)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                # An edit that changes nothing (e.g. a roll call edited twice to the same
                # count) reached its goal: the message already says it.
                return _Outcome(row, attempts=attempts, message_id=None)
            kind, error = FailureKind.REJECTED, str(exc)
        except TimedOut as exc:
            kind, error = FailureKind.TIMEOUT, str(exc) or "timed out"
        except NetworkError as exc:  # 5xx and dropped connections land here
            kind, error = FailureKind.SERVER, str(exc)
        else:
            message_id = result.message_id if isinstance(result, Message) else None
            return _Outcome(row, attempts=attempts, message_id=message_id)
        now = self.clock.now()
        log.warning("outbox row %s to %s failed (%s, attempt %d): %s",
                    row.id, row.chat_id, kind.value, attempts, error)
        retry_at = self.policy.next_attempt_at(now, attempts, kind, retry_after)
        return _Outcome(row, attempts=attempts, kind=kind, error=error, retry_at=retry_at,
                        new_chat_id=new_chat_id)

    async def _record_all(self, session: AsyncSession, outcomes: list[_Outcome]) -> None:
        """Write a batch's outcomes: deliveries in one statement, the rest one by one."""
        delivered = [o for o in outcomes if o.kind is None and o.retry_at is None]
        await outbox_repo.mark_sent_many(
            session, [(o.row.id or 0, o.message_id, o.attempts) for o in delivered],
            owner=self.owner, now=self.clock.now())
        for outcome in outcomes:
            if outcome.kind is not None or outcome.retry_at is not None:
                await self._record_failure(session, outcome)

    async def _record_failure(self, session: AsyncSession, outcome: _Outcome) -> None:
        """Write one failed outcome: retry later, or given up with the reason."""
        row, now = outcome.row, self.clock.now()
        if outcome.new_chat_id is not None:
            await org_repo.migrate_chat(session, old_chat_id=row.chat_id,
                                        new_chat_id=outcome.new_chat_id, now=now)
        if outcome.kind is FailureKind.FORBIDDEN and outcome.attempted:
            await self._remember_forbidden(session, row.chat_id, outcome.error, now)
        label = f"{outcome.kind.value}: {outcome.error}" if outcome.kind else outcome.error
        if outcome.retry_at is None:
            await outbox_repo.mark_failed(session, row.id or 0, owner=self.owner, error=label,
                                          attempts=outcome.attempts)
        else:
            await outbox_repo.mark_retry(session, row.id or 0, owner=self.owner,
                                         next_attempt_at=outcome.retry_at, error=label,
                                         attempts=outcome.attempts,
                                         chat_id=outcome.new_chat_id)

    async def _remember_forbidden(self, session: AsyncSession, chat_id: int, error: str,
                                  now: datetime) -> None:
        """A 403 is lasting: a private chat means blocked, a group means removed."""
        if chat_id > 0:
            person = await people_repo.get_person(session, chat_id)
            if person is not None and not person.blocked:
                person.blocked, person.updated_at = True, now
                session.add(person)
        else:
            chat = await org_repo.get_group_chat(session, chat_id)
            if chat is not None:
                await org_repo.deactivate_chat(session, chat, reason="forbidden", now=now)
