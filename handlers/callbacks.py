"""Callback data: short, checked, and never trusted.

Buttons carry ``feature:action[:arg…]`` (≤ 64 bytes, Telegram's limit). Every
click is re-checked against the database and the clicker's rights, because
anyone can send any callback data.
"""

from __future__ import annotations

MAX_BYTES = 64


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
    """The ``index``-th argument as an int, or None when missing or not a number."""
    try:
        return int(parts[index])
    except (IndexError, ValueError):
        return None
