"""The rows of the team ledger, as plain values, and the rule for days overdue.

The ledger has three parts: the hazard ledger (隐患台账: one row per hazard with
the registration facts, the five in place 五落实, the state, the date of each
step and the days overdue), the shift handovers (交接班记录) and the pre-shift
meetings with who checked in (班前会签到, part of the training record). The
spreadsheet itself is written by ``services/ledger_xlsx.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LedgerRow:
    """One hazard as the ledger shows it (names already in the reader's language)."""

    code: str
    reported_at: datetime
    team: str
    reporter: str
    location: str
    category: str
    severity: str
    description: str
    responsible: str
    measures: str
    funds: str
    deadline: datetime | None
    contingency: str
    state: str
    acknowledged_at: datetime | None
    rectified_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    open: bool
    photos: Sequence[str]


@dataclass(frozen=True)
class HandoverRow:
    """One shift handover as the ledger shows it."""

    created_at: datetime
    team: str
    outgoing: str
    incoming: str
    equipment: str
    work_in_progress: str
    safety_notes: str
    open_hazards: str
    notes: str
    state: str
    accepted_at: datetime | None
    accepted_by: str
    reminded_at: datetime | None
    escalated_at: datetime | None


@dataclass(frozen=True)
class MeetingRow:
    """One pre-shift meeting and who checked in."""

    starts_at: datetime
    team: str
    shift: str
    posted_at: datetime
    held_at: datetime | None
    held_by: str
    escalated_at: datetime | None
    attendees: Sequence[str]


def overdue_days(deadline: datetime | None, finished: datetime | None, now: datetime,
                 is_open: bool) -> int:
    """Whole days past the deadline: until now while open, until the fix when done."""
    if deadline is None:
        return 0
    end = now if is_open else (finished or now)
    return max((end - deadline).days, 0) if end > deadline else 0
