"""Durations as people write them in policy files: ``30s``, ``15m``, ``4h``, ``3d``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str | int) -> timedelta:
    """Read ``"4h"``, ``"1h30m"``, ``"3d"`` or a number of seconds.

    Raises:
        ValueError: when the text is not a positive duration.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError(f"duration must be positive: {text}")
        return timedelta(seconds=text)
    value = str(text).strip().lower().replace(" ", "")
    if not value or _PART.sub("", value):
        raise ValueError(f"not a duration: {text!r} (write e.g. 30s, 15m, 4h, 3d)")
    total = timedelta()
    for amount, unit in _PART.findall(value):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta(0):
        raise ValueError(f"duration must be positive: {text!r}")
    return total


def format_duration(value: timedelta) -> str:
    """The shortest way to write ``value`` in the same notation (``90m`` → ``1h30m``)."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"
