"""Loading the checklists (``content/checklists/*.yaml``, one file per checklist)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from content.hazards import categories
from content.render import CONTENT_DIR
from domain.inspections import Checklist, ChecklistError, parse_checklist

SHIPPED_CHECKLISTS = CONTENT_DIR / "checklists"


def load_checklists(folder: Path) -> dict[str, Checklist]:
    """Every checklist in a folder, by id (the file name without ``.yaml``).

    A missing folder holds no checklists.

    Raises:
        ChecklistError: a file that is not valid YAML or not a valid checklist; the
            message starts with the file name and names the field and the item.
    """
    found: dict[str, Checklist] = {}
    if not folder.is_dir():
        return found
    keys = [c.key for c in categories()]
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ChecklistError(f"{path.name}: not valid YAML ({exc})") from exc
        try:
            found[path.stem] = parse_checklist(path.stem, data, keys)
        except ChecklistError as exc:
            raise ChecklistError(f"{path.name}: {exc}") from exc
    return found


@cache
def checklists_in(folder: Path) -> dict[str, Checklist]:
    """The checklists of a folder, read once (the ``CHECKLISTS_DIR`` setting's)."""
    return load_checklists(folder)


def shipped_checklists() -> dict[str, Checklist]:
    """The checklists shipped with the bot."""
    return checklists_in(SHIPPED_CHECKLISTS)


_folder: list[Path] = [SHIPPED_CHECKLISTS]


def use_checklists_dir(folder: Path) -> dict[str, Checklist]:
    """Make ``folder`` (the ``CHECKLISTS_DIR`` setting) the checklists from now on.

    Reads it at once, so a broken file stops the start, naming file and item.
    """
    found = checklists_in(folder)
    _folder[0] = folder
    return found


def checklists() -> dict[str, Checklist]:
    """The checklists in use, by id."""
    return checklists_in(_folder[0])
