"""Reference content for hazards: the categories and the escalation policy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from content.render import CONTENT_DIR
from domain.escalation import EscalationPolicy, parse_policy

POLICY_FILE = CONTENT_DIR / "escalation.yaml"


@dataclass(frozen=True)
class Category:
    """A hazard category with its names."""

    key: str
    names: dict[str, str]

    def name(self, lang: str) -> str:
        """The category's name in ``lang`` (Chinese if missing)."""
        return self.names.get(lang) or self.names["zh"]


@cache
def categories() -> tuple[Category, ...]:
    """The categories offered when reporting, in order."""
    data = yaml.safe_load((CONTENT_DIR / "hazard_categories.yaml").read_text(encoding="utf-8"))
    return tuple(Category(str(item["key"]), {"zh": str(item["zh"]), "en": str(item["en"])})
                 for item in data)


def category(key: str) -> Category | None:
    """The category with this key."""
    return next((c for c in categories() if c.key == key), None)


def load_escalation_policy(path: Path) -> EscalationPolicy:
    """Read an escalation policy file.

    Raises:
        PolicyError: the file is not a complete policy.
        OSError: the file cannot be read.
    """
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


_policy_file: list[Path] = [POLICY_FILE]


def use_escalation_file(path: Path) -> None:
    """Make ``path`` (the ``ESCALATION_FILE`` setting) the policy from now on."""
    if path != _policy_file[0]:
        _policy_file[0] = path
        escalation_policy.cache_clear()


@cache
def escalation_policy() -> EscalationPolicy:
    """The escalation policy in force (``ESCALATION_FILE``; by default the shipped
    ``content/escalation.yaml``)."""
    return load_escalation_policy(_policy_file[0])
