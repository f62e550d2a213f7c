"""The hazard buttons: one typed kind, what can happen next by state, one keyboard builder.

The card in the team group, the escalation alerts, each step's message and
``/hazard CODE`` all build their buttons here, in the wire format older
messages still carry (``hz:ack:42``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from content.render import Renderer
from services.buttons import Button, keyboard

StepName = Literal["ack", "rej", "fix", "five", "up", "ver", "reo", "show", "go"]


@dataclass(frozen=True)
class HazardStep(Button, prefix="hz"):
    """A button under a hazard: one step of the closed loop (or "open" it)."""

    action: StepName
    hazard_id: int


# The label of each button (a catalog key).
LABELS: dict[str, str] = {
    "ack": "button.ack", "rej": "button.reject", "fix": "button.fix", "five": "button.five",
    "up": "button.hand_up", "ver": "button.verify", "reo": "button.reopen",
    "show": "button.open", "go": "button.start_fix"}
# The buttons for what can happen next, by state: on each step's message and under
# /hazard CODE (so a step message lost or scrolled away never strands a hazard).
NEXT_STEPS: dict[str, tuple[StepName, ...]] = {
    "reported": ("ack", "rej"), "acknowledged": ("five", "go", "fix", "up"),
    "rectifying": ("fix", "up"), "reopened": ("go", "fix", "up"), "rectified": ("ver", "reo")}
# What the team group's card offers, and what an escalation alert offers.
CARD_STEPS: tuple[StepName, ...] = ("ack", "rej", "show")
ALERT_STEPS: tuple[StepName, ...] = ("ack", "show")
HANDED_UP_STEPS: tuple[StepName, ...] = ("fix", "show")


def step_keyboard(label: Callable[[str], str], hazard_id: int, steps: Sequence[StepName],
                  per_row: int = 2) -> dict[str, Any] | None:
    """The inline keyboard (a Bot API dict) for ``steps`` of one hazard; None when empty.

    Args:
        label: Renders a button's catalog key in the reader's language.
        per_row: Two by default: four Chinese labels on one row are cut off on a phone.
    """
    if not steps:
        return None
    keys: list[tuple[str, Button | str]] = [
        (label(LABELS[step]), HazardStep(step, hazard_id)) for step in steps]
    return keyboard([list(keys[i:i + per_row]) for i in range(0, len(keys), per_row)])


def labels(renderer: Renderer, lang: str) -> Callable[[str], str]:
    """Button labels in ``lang`` (for :func:`step_keyboard`)."""
    return lambda key: renderer.plain(key, lang)


def next_steps(state: str, *, without: Sequence[str] = ()) -> tuple[StepName, ...]:
    """The buttons offered after a step leaves a hazard in ``state``."""
    return tuple(step for step in NEXT_STEPS.get(state, ()) if step not in without)
