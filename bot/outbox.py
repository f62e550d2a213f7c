"""The dispatcher: the one place where the bot's own notifications are sent.

Rows are claimed from the outbox, sent in order per chat (chats in parallel),
and marked sent once. 429 waits exactly ``retry_after``; 5xx and time-outs back
off; a migrated group is followed to its new id; 400 and 403 are final and the
reason is kept (and a kicked group or a blocking user is remembered).

Exactly once through a crash: each answer is written as soon as Telegram gives
it (answers arriving together share one commit, so the books never hold up the
sending), and a restarted process takes back at once the rows its killed
predecessor had claimed. What a kill -9 can still double is a send in flight or
whose answer was not yet written (Telegram may have stored it; the bot cannot
know), as with a time-out: at least once there, exactly once everywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.settings import default_instance
from domain.clock import Clock
from domain.delivery import FailureKind, RetryPolicy
from storage import fleet as fleet_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import outbox_files
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
    """What happened to one row (written as soon as it is known)."""

    row: OutboxMessage
    attempted: bool = True
    attempts: int = 0
    message_id: int | None = None
    kind: FailureKind | None = None
    error: str = ""
    retry_at: datetime | None = None
    new_chat_id: int | None = None
    poll_id: str | None = None  # a sent poll's id: its answers name only this

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
        lease: How long a claim holds before another instance may take the row (renewed
            while this process is still sending it).
        poll_seconds: How often the background loop looks for due rows unasked.
        instance: This deployment's identity (``OUTBOX_INSTANCE``; the host name by
            default). Claims are made as ``<instance>#<token of this process>``.
        senders: With several bot tokens, every bot by its Telegram id (``bot`` among
            them, the main one). Each row goes through the bot recorded for its chat
            (``storage/fleet.py``: the group's speaker, the person's bot; the main bot
            when none is), each bot paced by its own flood limiter.
        leader: For a hot standby's leader: whether it still leads, asked before every
            send (a leader that lost its lock sends nothing more), and on start every
            other sender's claims are taken back (only the leader sends).
    """

    def __init__(self, bot: Bot, db: Database, clock: Clock, *,
                 policy: RetryPolicy | None = None, lease: timedelta = timedelta(minutes=2),
                 poll_seconds: float = 2.0, instance: str | None = None,
                 after_polls_sent: Callable[[], Awaitable[None]] | None = None,
                 on_delivered: Callable[[Sequence[OutboxMessage]], None] | None = None,
                 senders: Mapping[int, Bot] | None = None,
                 leader: Callable[[], bool] | None = None) -> None:
        self.bot = bot
        self.senders: Mapping[int, Bot] = senders or {}
        # Votes that beat the poll's id to the database wait for it: told at once.
        self.after_polls_sent = after_polls_sent
        self.db = db
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.lease = lease
        self.poll_seconds = poll_seconds
        # An identity that survives a restart, and a token that does not: a new process
        # knows at once that claims of its instance under another token are orphans,
        # with no heartbeat to wait for (a heartbeat would make a restart wait it out).
        self.instance = instance or default_instance()
        self.owner = f"{self.instance}#{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._took_back = False
        # One pass at a time: a caller asking for a pass waits for the one in flight.
        self._pass = asyncio.Lock()
        # Answers waiting to be written, and who writes: one writer at a time takes
        # every answer waiting (a group commit), so commits never queue behind sends.
        self._unwritten: list[tuple[list[_Outcome], asyncio.Future[None]]] = []
        self._books = asyncio.Lock()
        # Told of the rows recorded as sent, once committed (the metrics count them).
        self._on_delivered = on_delivered
        self._leader = leader

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

    @property
    def running(self) -> bool:
        """Whether the background loop is alive (tests that drain by hand run without)."""
        return self._task is not None and not self._task.done()

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
        if not self._took_back:
            await self._take_back()
        attempts = 0
        while (not self._stopping or attempts == 0) and self._may_send():
            now = self.clock.now()
            async with self.db.transaction() as session:
                # A batch per bot: each bot's limiter has as many rows to pace as one
                # bot alone would, so none idles while another finishes the batch.
                rows = await outbox_repo.claim_due(session, now=now, owner=self.owner,
                                                   lease=self.lease,
                                                   limit=batch * max(len(self.senders), 1))
                chats = {r.chat_id for r in rows}
                gone = await org_repo.inactive_chat_ids(session, chats)
                recorded = await fleet_repo.senders_of(session, chats) \
                    if len(self.senders) > 1 and rows else {}
                files = await outbox_files.load(session, [
                    file_id for r in rows
                    for file_id in outbox_files.referenced(outbox_repo.params_of(r)).values()])
            if not rows:
                break
            by_chat: OrderedDict[int, list[OutboxMessage]] = OrderedDict()
            for row in rows:
                by_chat.setdefault(row.chat_id, []).append(row)
            renewing = asyncio.create_task(self._renew_claims())
            try:
                # Every chat finishes (its answers written) even if another one fails.
                results = await asyncio.gather(
                    *(self._send_in_order(chat_rows, chat_id in gone, files,
                                          self._sender(recorded.get(chat_id)))
                      for chat_id, chat_rows in by_chat.items()), return_exceptions=True)
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                attempts += result
            if self._stopping:
                break
        return attempts

    async def _take_back(self) -> None:
        """Once per process: send again at once what this instance's last process left."""
        async with self._books, self.db.transaction() as session:
            count = await outbox_repo.take_back(
                session, instance=None if self._leader else self.instance, owner=self.owner)
        self._took_back = True
        if count:
            log.info("took back %d notices the previous process of instance %r left "
                     "mid-send", count, self.instance)

    async def _renew_claims(self) -> None:
        """Keep this batch's claims while it is out (one chat at 20/min may take minutes)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self._books, self.db.transaction() as session:
                await outbox_repo.renew_claims(session, owner=self.owner,
                                               until=self.clock.now() + self.lease)

    def _sender(self, recorded: int | None) -> Bot:
        """The bot that sends to a chat with this record (the main bot by default, and
        for a bot whose token is no longer configured)."""
        if recorded is None:
            return self.bot
        return self.senders.get(recorded, self.bot)

    async def _send_in_order(self, rows: list[OutboxMessage], chat_gone: bool,
                             files: dict[int, tuple[str, bytes]],
                             bot: Bot | None = None) -> int:
        """Send one chat's rows in order through ``bot``, writing each answer as it comes.

        After a failure the rest wait behind it. Returns the number of attempts.
        """
        if chat_gone:
            await self._record([_Outcome(row, attempted=False, kind=FailureKind.FORBIDDEN,
                                         error="chat inactive: the bot was removed")
                                for row in rows])
            return 0
        for index, row in enumerate(rows):
            if not self._may_send():
                return index  # fenced: the new leader takes these claims back
            outcome = await self._send_one(row, bot or self.bot, files)
            if outcome.retry_at is None:
                await self._record([outcome])
                continue
            await self._record([outcome] + [
                _Outcome(later, attempted=False, retry_at=outcome.retry_at,
                         error="waiting behind an earlier message")
                for later in rows[index + 1:]])
            return index + 1
        return len(rows)

    async def _record(self, outcomes: list[_Outcome]) -> None:
        """Write answers now, together with any others waiting; return once committed.

        A kill -9 after Telegram answered but before this commit is the one moment an
        accepted send can be forgotten: it lasts one commit, not a whole batch.
        """
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unwritten.append((outcomes, written))
        polls_sent = False
        async with self._books:
            if not written.done():  # nobody took ours while we waited: write all waiting
                taken, self._unwritten = self._unwritten, []
                try:
                    async with self.db.transaction() as session:
                        await self._record_all(session, [o for group, _ in taken
                                                         for o in group])
                except BaseException as exc:
                    # Those whose answers rode along hear of it too; ours is raised here.
                    failure = exc if isinstance(exc, Exception) else RuntimeError(
                        "writing the outbox was interrupted")
                    for _, future in taken:
                        if future is written:
                            future.cancel()
                        else:
                            future.set_exception(failure)
                    raise
                else:
                    for _, future in taken:
                        future.set_result(None)
                    polls_sent = any(o.poll_id for group, _ in taken for o in group)
                    self._delivered([o for group, _ in taken for o in group])
        await written
        if polls_sent and self.after_polls_sent is not None:
            try:
                await self.after_polls_sent()
            except Exception:  # the minute sweep tries again; sending goes on
                log.exception("recording poll votes that came before their poll failed")

    def _delivered(self, outcomes: list[_Outcome]) -> None:
        if self._on_delivered is None:
            return
        rows = [o.row for o in outcomes if o.attempted and o.kind is None and o.retry_at is None]
        if rows:
            self._on_delivered(rows)

    def _may_send(self) -> bool:
        return self._leader is None or self._leader()

    async def _send_one(self, row: OutboxMessage, bot: Bot,
                        files: dict[int, tuple[str, bytes]] | None = None) -> _Outcome:
        """Attempt one row through ``bot``; the caller writes the outcome.

        A parameter naming a file the bot stored (a chart, a workbook) is uploaded
        from the bytes in ``files``.
        """
        attempts = row.attempts + 1
        params = outbox_repo.params_of(row)
        params["chat_id"] = row.chat_id
        for name, file_id in outbox_files.referenced(params).items():
            if files is None or file_id not in files:
                return _Outcome(row, attempts=attempts, kind=FailureKind.REJECTED,
                                error=f"stored file {file_id} is gone")
            filename, content = files[file_id]
            params[name] = InputFile(content, filename=filename)
        retry_after: float | None = None
        new_chat_id: int | None = None
        try:
            with warnings.catch_warnings():
                # One stored form, one path for every method: PTB's hint to call the
                # specific method instead does not apply here.
                warnings.filterwarnings("ignore", message=r"Please use 'Bot\.",
                                        category=PTBUserWarning)
                result = await bot.do_api_request(row.method, api_kwargs=params,
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
            poll = result.poll if isinstance(result, Message) else None
            return _Outcome(row, attempts=attempts, message_id=message_id,
                            poll_id=poll.id if poll is not None else None)
        now = self.clock.now()
        log.warning("outbox row %s to %s failed (%s, attempt %d): %s",
                    row.id, row.chat_id, kind.value, attempts, error)
        retry_at = self.policy.next_attempt_at(now, attempts, kind, retry_after)
        return _Outcome(row, attempts=attempts, kind=kind, error=error, retry_at=retry_at,
                        new_chat_id=new_chat_id)

    async def _record_all(self, session: AsyncSession, outcomes: list[_Outcome]) -> None:
        """Write outcomes: deliveries in one statement, the rest one by one."""
        delivered = [o for o in outcomes if o.kind is None and o.retry_at is None]
        await outbox_repo.mark_sent_many(
            session, [(o.row.id or 0, o.message_id, o.attempts) for o in delivered],
            owner=self.owner, now=self.clock.now())
        # In the same commit as the delivery: an answer to the poll may come at once.
        await outbox_repo.record_poll_ids(
            session, {o.row.id or 0: o.poll_id for o in delivered if o.poll_id})
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
