"""Reference content for hazards: the categories and the escalation policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import CONTENT_DIR, Renderer
from domain.escalation import EscalationPolicy, parse_policy
from domain.ledger import ledger_workbook
from storage import org as org_repo
from storage.ledger import handover_rows, ledger_rows, meeting_rows
from storage.models import Unit

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


def ledger_names(renderer: Renderer, lang: str) -> Callable[[str, str], str]:
    """``(kind, key) -> name`` for the ledger: categories, severities and states."""

    def name_of(kind: str, key: str) -> str:
        if kind == "category":
            found = category(key)
            return found.name(lang) if found else key
        return renderer.plain(f"{kind}.{key}", lang)

    return name_of


@dataclass(frozen=True)
class LedgerFile:
    """The ledger workbook and how many rows each sheet has."""

    data: bytes
    hazards: int
    handovers: int
    meetings: int


async def ledger_file(session: AsyncSession, renderer: Renderer, *, roots: Sequence[Unit],
                      since: datetime, until: datetime, lang: str, timezone: str,
                      now: datetime) -> LedgerFile:
    """The XLSX ledger of everything under ``roots`` in [since, until).

    Hazards by report date, handovers by when they were made, meetings by shift start.
    """
    unit_ids = [u.id or 0 for root in roots for u in await org_repo.subtree(session, root)]
    name_of = ledger_names(renderer, lang)
    rows = await ledger_rows(session, unit_ids=unit_ids, since=since, until=until,
                             name_of=name_of)
    handovers = await handover_rows(session, unit_ids=unit_ids, since=since, until=until,
                                    name_of=name_of)
    meetings = await meeting_rows(session, unit_ids=unit_ids, since=since, until=until)
    title = "隐患台账" if lang == "zh" else "Hazard ledger"
    data = ledger_workbook(rows, lang=lang, timezone=timezone, now=now, title=title,
                           handovers=handovers, meetings=meetings)
    return LedgerFile(data, len(rows), len(handovers), len(meetings))
