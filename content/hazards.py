"""Reference content for hazards: the categories and the escalation policy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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


@cache
def escalation_policy() -> EscalationPolicy:
    """The shipped escalation policy (``content/escalation.yaml``)."""
    return parse_policy(POLICY_FILE.read_text(encoding="utf-8"), str(POLICY_FILE))
