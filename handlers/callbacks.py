"""Callback data: short, checked, and never trusted.

Buttons carry ``feature:action[:arg…]`` (≤ 64 bytes, Telegram's limit). Every
click is re-checked against the database and the clicker's rights, because
anyone can send any callback data.
"""

from __future__ import annotations

MAX_BYTES = 64
# Row ids are 32-bit integers on PostgreSQL (and SQLite refuses anything past 2**63):
# a forged button with a bigger number is simply not ours, never a database error.
MAX_ARG = 2**31 - 1
_DIGITS = frozenset("0123456789")


def pack(*parts: str | int) -> str:
    """Join parts into callback data, refusing anything Telegram would reject."""
    data = ":".join(str(part) for part in parts)
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data must be 1..{MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str | None, feature: str) -> list[str] | None:
    """Split callback data of ``feature``; None if it is not ours or malformed."""
    if not data:
        return None
    parts = data.split(":")
    if parts[0] != feature or len(parts) < 2:
        return None
    return parts[1:]


def int_arg(parts: list[str], index: int) -> int | None:
    """The ``index``-th argument as an int in 0..``MAX_ARG``, or None when missing or not one.

    Only ASCII digits count: ``int()`` would also read "-1", " 7", "1_0" and "١".
    """
    if index >= len(parts) or index < -len(parts):
        return None
    text = parts[index]
    if not text or len(text) > 10 or not set(text) <= _DIGITS:
        return None
    value = int(text)
    return value if value <= MAX_ARG else None
