"""Durations as people write them in policy files: ``30s``, ``15m``, ``4h``, ``3d``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Five years is longer than anything the bot times (a deadline, a reminder, an
# escalation step) and far inside what ``datetime`` can add to today's date.
MAX_DURATION = timedelta(days=5 * 365)
_MAX_TEXT = 64  # "1d2h3m4s" fits many times over; longer text is not a duration


class DurationError(ValueError):
    """A text that is not a duration the bot accepts.

    ``code`` (``format``, ``not_positive``, ``too_long``) and ``params`` let a chat
    say why in the user's language; the message says it in English for files.
    """

    def __init__(self, message: str, code: str = "format", **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def parse_duration(text: str | int, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """Read ``"4h"``, ``"1h30m"``, ``"3d"`` or a number of seconds, at most ``maximum``.

    Raises:
        DurationError: when the text is not a positive duration up to ``maximum``.
    """
    limit = int(maximum.total_seconds())
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise DurationError(f"duration must be positive: {text}", "not_positive")
        if text > limit:
            raise DurationError(f"duration {text}s is longer than {format_duration(maximum)}",
                                "too_long", value=str(text), maximum=format_duration(maximum))
        return timedelta(seconds=text)
    value = str(text).strip().lower().replace(" ", "")
    if not value or len(value) > _MAX_TEXT or _PART.sub("", value):
        raise DurationError(f"not a duration: {str(text)[:_MAX_TEXT]!r} "
                            "(write e.g. 30s, 15m, 4h, 3d)", "format",
                            value=str(text)[:_MAX_TEXT])
    seconds = 0
    for amount, unit in _PART.findall(value):
        # Whole seconds, compared before any timedelta exists: "99999999999d" is
        # refused here instead of overflowing datetime arithmetic later.
        seconds += int(amount) * _UNITS[unit]
        if seconds > limit:
            raise DurationError(f"duration {value!r} is longer than "
                                f"{format_duration(maximum)}", "too_long", value=value,
                                maximum=format_duration(maximum))
    if seconds <= 0:
        raise DurationError(f"duration must be positive: {text!r}", "not_positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest way to write ``value`` in the same notation (``90m`` → ``1h30m``)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def as_duration(value: str | int | timedelta) -> timedelta:
    """A duration already read (a timedelta, passed through) or one to read."""
    return value if isinstance(value, timedelta) else parse_duration(value)


def as_durations(value: str | Sequence[timedelta]) -> tuple[timedelta, ...]:
    """``"1d,2d"`` or durations already read, as a tuple of timedeltas."""
    if isinstance(value, str):
        return tuple(parse_duration(part.strip()) for part in value.split(",") if part.strip())
    return tuple(value)
