"""Loading the post cards (``content/post_cards/*.yaml``, one file per post)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from content.render import CONTENT_DIR
from domain.orgfile import POST_PATTERN
from domain.post_cards import PostCardError, PostCards, parse_post_cards

SHIPPED_POST_CARDS = CONTENT_DIR / "post_cards"


def load_post_cards(folder: Path) -> dict[str, PostCards]:
    """Every post's cards in a folder, by post key (the file name without ``.yaml``).

    Raises:
        PostCardError: a file that is not valid YAML or not a valid card file; the
            message starts with the file name and names the field.
    """
    cards: dict[str, PostCards] = {}
    for path in sorted(folder.glob("*.yaml")):
        post = path.stem
        if not POST_PATTERN.fullmatch(post):
            raise PostCardError(f"{path.name}: the file name must be a post key such as welder")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PostCardError(f"{path.name}: not valid YAML ({exc})") from exc
        try:
            cards[post] = parse_post_cards(post, data)
        except PostCardError as exc:
            raise PostCardError(f"{path.name}: {exc}") from exc
    return cards


@cache
def shipped_post_cards() -> dict[str, PostCards]:
    """The cards shipped with the bot (read once)."""
    return load_post_cards(SHIPPED_POST_CARDS)
