"""The training record's rows as the record is read (安全培训档案): who, when, what, result.

Entries come from three tables: ``training_record`` (quiz answers, risk-card
acknowledgements, drills), ``attendance`` (pre-shift meeting check-ins) and
``read_receipt`` (document acknowledgements); they are read as one list of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MEETING, DOCUMENT = "meeting", "document"  # the kinds read from their own tables


@dataclass(frozen=True)
class TrainingRow:
    """One entry: ``subject`` and ``result`` are raw keys; services name them."""

    at: datetime
    person_id: int
    person: str
    team: str
    kind: str
    subject: str
    result: str
    detail: str = ""


def newest_first(rows: list[TrainingRow]) -> list[TrainingRow]:
    """Rows sorted from the newest entry back."""
    return sorted(rows, key=lambda row: row.at, reverse=True)


def counts_by_kind(rows: list[TrainingRow]) -> dict[str, int]:
    """How many entries of each kind, for a summary line."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return counts
