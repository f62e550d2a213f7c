"""Which conversation a draft belongs to, read from its step (the edge and sweeps share it)."""

from __future__ import annotations

# How a conversation names itself when cancelled or dropped idle: "<feature>.cancelled".
FEATURES = {"pub": "publish", "ho": "handover", "sh": "shifts", "chk": "checks",
            "inc": "incident", "idea": "idea"}


def conversation_feature(step: str) -> str:
    """The text prefix naming a draft's conversation (``report``, ``handover``, …).

    The hazard report's steps have no prefix; reasons and fixes say ``conversation``.
    """
    if ":" not in step:
        return "report"
    return FEATURES.get(step.split(":", 1)[0], "conversation")
