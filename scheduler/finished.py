"""Moved to :mod:`services.finished` (handlers and services use it from there)."""

from services.finished import MAX_PARTS, last_part, remove_buttons

__all__ = ["MAX_PARTS", "last_part", "remove_buttons"]
