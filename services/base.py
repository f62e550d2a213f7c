"""What every service function is given and what it gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from content.render import Renderer
from domain.clock import Clock
from storage.db import Database


@dataclass(frozen=True)
class Runtime:
    """The collaborators a service needs, as plain objects (no bot, no chat).

    Args:
        db: Where everything is kept; a service opens its own transaction.
        renderer: The one renderer, for the texts a service queues.
        clock: The one clock.
        default_language: For people and units that do not say.
        default_timezone: For units that do not say.
        wake: Tells the outbox sender that rows were committed (a no-op in the CLI).
    """

    db: Database
    renderer: Renderer
    clock: Clock
    default_language: str = "zh"
    default_timezone: str = "Asia/Shanghai"
    wake: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class Actor:
    """Who asks for an action: a known person (never an anonymous admin or a bot)."""

    person_id: int
    telegram_id: int
    name: str
    language: str
    is_bot_admin: bool = False


@dataclass
class Outcome:
    """What an action did: done or refused, the sentence that says so, what it queued.

    ``key`` and ``values`` name a text of ``content/locales`` so each edge (chat,
    CLI, sandbox) says it in the asker's language; ``queued`` counts the outbox
    rows written for other people.
    """

    ok: bool
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    queued: int = 0

    @classmethod
    def done(cls, key: str, queued: int = 0, **values: Any) -> Outcome:
        """The action happened."""
        return cls(True, key, dict(values), queued)

    @classmethod
    def refused(cls, key: str, **values: Any) -> Outcome:
        """The action did not happen, and ``key`` says why."""
        return cls(False, key, dict(values))
