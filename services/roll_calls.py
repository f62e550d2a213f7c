"""Roll calls edited in place, for briefings and documents alike, by one mechanism.

A button press (check-in, "read and understood") marks its roll call dirty and,
when the roll call was not edited within ``EDIT_EVERY``, queues the edit at once
through the outbox. Otherwise the roll-call sweep (scheduler/roll_calls.py), which
runs every ``EDIT_EVERY``, queues it once the window has passed: at most one edit
per window per message, and the last state is always shown. No Telegram here: the
edits are outbox rows. A briefing's roll call is drawn by services/meetings.py, a
document's by services/documents.py; this module names the pair the sweep uses.
"""

from __future__ import annotations

from services.documents import refresh_roll_call as refresh_document_roll_call
from services.meetings import queue_held_edit as queue_meeting_held
from services.meetings import refresh_roll_call as refresh_meeting_roll_call

__all__ = ["queue_meeting_held", "refresh_document_roll_call", "refresh_meeting_roll_call"]
