"""What a conversation step says next: prompts for the edge to send, as plain values.

A service decides the texts and their buttons; the chat edge only sends them. A
prompt that waits for a typed answer is sent as a selective ForceReply, so the
answer reaches the bot in a group with privacy mode on; a message carries one
kind of markup, so a "skip" button comes as a second message after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prompt:
    """One message: a text key, its values, and its keyboard or a ForceReply."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)
    keyboard: dict[str, Any] | None = None
    force_reply: bool = False


@dataclass
class Reply:
    """The outcome of one answer or press: what to say, whether it was refused (a press
    answered with an alert, nothing changed), how many notices were queued, and whether
    a press is answered by a toast alone (the notice itself shows what happened)."""

    prompts: list[Prompt] = field(default_factory=list)
    refused: bool = False
    queued: int = 0
    toast: bool = False  # after a press: the first prompt is the press's short answer only

    @classmethod
    def say(cls, key: str, /, *, force_reply: bool = False,
            keyboard: dict[str, Any] | None = None, queued: int = 0,
            **values: Any) -> Reply:
        """One prompt."""
        return cls([Prompt(key, dict(values), keyboard, force_reply)], queued=queued)

    @classmethod
    def refuse(cls, key: str, /, **values: Any) -> Reply:
        """A refusal: one sentence, nothing changed."""
        return cls([Prompt(key, dict(values))], refused=True)

    @property
    def key(self) -> str | None:
        """The first prompt's text key (what the step was)."""
        return self.prompts[0].key if self.prompts else None
