"""How the outbox retries: which failures are worth another try, and when.

The dispatcher classifies each Telegram answer into one of these outcomes; the
policy here decides the next attempt time so retries are deterministic and
testable with a manual clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class OutboxStatus(StrEnum):
    """Life of one outgoing notification."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class FailureKind(StrEnum):
    """What went wrong with one attempt."""

    FLOOD = "flood"  # 429: wait exactly retry_after
    SERVER = "server"  # 5xx: Telegram's side, try again
    TIMEOUT = "timeout"  # time-out or dropped connection
    MIGRATED = "migrated"  # group became a supergroup: resend to the new id
    REJECTED = "rejected"  # 400: the message itself is wrong; retrying cannot help
    FORBIDDEN = "forbidden"  # 403: kicked, blocked, never started; retrying cannot help


RETRYABLE = frozenset({FailureKind.FLOOD, FailureKind.SERVER, FailureKind.TIMEOUT,
                       FailureKind.MIGRATED})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient failures.

    Attributes:
        max_attempts: Attempts before giving up on transient errors.
        base_delay: Delay after the first failure, in seconds.
        max_delay: Ceiling of the backoff, in seconds.
    """

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 300.0

    def next_attempt_at(
        self,
        now: datetime,
        attempts: int,
        kind: FailureKind,
        retry_after: float | None = None,
    ) -> datetime | None:
        """When to try again after the ``attempts``-th failed attempt, or None to give up.

        A 429 is Telegram telling us exactly how long to wait: it is honoured as
        given and never makes us give up (the message is still wanted); a
        migration is retried at once with the new chat id.
        """
        if kind not in RETRYABLE:
            return None
        if kind is FailureKind.MIGRATED:
            return now
        if kind is FailureKind.FLOOD:
            return now + timedelta(seconds=max(retry_after or 1.0, 0.0))
        if attempts >= self.max_attempts:
            return None
        delay = min(self.base_delay * (2 ** max(attempts - 1, 0)), self.max_delay)
        return now + timedelta(seconds=delay)
