"""The shift handover (交接班): the states a handover record passes through."""

from __future__ import annotations

from enum import StrEnum


class HandoverState(StrEnum):
    """Written by the outgoing leader, then accepted by the incoming one."""

    AWAITING = "awaiting"
    ACCEPTED = "accepted"
