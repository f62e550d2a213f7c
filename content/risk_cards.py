"""Loading the risk notification cards (``content/risk_cards.yaml`` or the plant's own)."""

from __future__ import annotations

from pathlib import Path

import yaml

from content.render import CONTENT_DIR
from domain.risk_cards import RiskCard, RiskCardError, parse_risk_cards

SHIPPED_RISK_CARDS = CONTENT_DIR / "risk_cards.yaml"


def load_risk_cards(path: Path) -> list[RiskCard]:
    """The cards of a file; no file means no cards.

    Raises:
        RiskCardError: the file is not valid YAML or not a valid card file.
    """
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RiskCardError(f"{path.name}: not valid YAML ({exc})") from exc
    try:
        return parse_risk_cards(data)
    except RiskCardError as exc:
        raise RiskCardError(f"{path.name}: {exc}") from exc
