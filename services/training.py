"""The training record (安全培训档案) read back: a worker's own (/myrecord) and a team's sheet.

Nothing here deletes: the record is kept at least six years, and deleting a
person anonymises their chat identity but keeps their rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from content.post_cards import shipped_post_cards
from content.quizzes import shipped_bank
from content.render import Renderer
from domain.training import DOCUMENT, MEETING, TrainingRow, counts_by_kind, newest_first
from services.base import Actor, Outcome, Runtime
from storage import training as training_repo

SHOWN = 15  # the newest entries /myrecord lists; the export has them all
KINDS = ("quiz", "risk_card", MEETING, DOCUMENT, "drill")


@dataclass(frozen=True)
class Described:
    """A row in words: what kind, what, which result."""

    kind: str
    what: str
    result: str


def _catalog_or(renderer: Renderer, key: str, lang: str, fallback: str) -> str:
    return renderer.plain(key, lang) if key in renderer.keys(lang) else fallback


def describe(renderer: Renderer, row: TrainingRow, lang: str) -> Described:
    """A training row named in ``lang`` (cards by their post and card, documents by title)."""
    kind = _catalog_or(renderer, f"training.kind_{row.kind}", lang, row.kind)
    result = _catalog_or(renderer, f"training.result_{row.result}", lang, row.result)
    what = row.subject
    if row.kind == "risk_card":
        post_key, _, part = row.subject.partition(":")
        cards = shipped_post_cards().get(post_key)
        post = cards.name_in(lang) if cards else post_key
        if not part:
            what = post
        elif part.startswith("q"):
            what = f"{post} · " + renderer.plain("training.check_question", lang,
                                                  number=int(part[1:]) + 1
                                                  if part[1:].isdigit() else 0)
        else:
            what = f"{post} · " + _catalog_or(renderer, f"training.card_{part}", lang, part)
    elif row.kind == DOCUMENT:
        titles: dict[str, str] = json.loads(row.detail) if row.detail else {}
        what = titles.get(lang) or next(iter(titles.values()), row.subject)
    elif row.kind == MEETING:
        what = f"{row.subject.split('/')[0]} {row.detail}".strip()
    elif row.kind == "quiz":  # the question's topic, then the daily poll or a /quiz round
        what = _quiz_answer(renderer, row, lang)
    elif row.kind == "drill":  # "onsite#12": the drill's type and number, then its scenario
        drill_kind, _, number = row.subject.partition("#")
        what = _catalog_or(renderer, f"drill.type_{drill_kind}", lang, drill_kind) + \
            f" #{number}" + (f" · {row.detail}" if row.detail else "")
    elif row.detail:
        what = f"{row.subject} · {row.detail}"
    return Described(kind, what, result)


def _quiz_answer(renderer: Renderer, row: TrainingRow, lang: str) -> str:
    """A quiz answer in words: its topic and where it was given. The row stores the
    question id and "daily poll <day>" or "quiz <id> round <n>" (services/quizzes.py)."""
    bank = shipped_bank()
    question = bank.by_id(row.subject)
    topic = bank.topic(question.topic) if question is not None else None
    what = topic.title(lang) if topic is not None else row.subject
    words = row.detail.split()
    if words[:2] == ["daily", "poll"]:
        return f"{what} · " + renderer.plain("training.quiz_daily", lang)
    if words[:1] == ["quiz"] and len(words) == 4:
        return f"{what} · " + renderer.plain("training.quiz_round", lang,
                                             round=int(words[3]) if words[3].isdigit() else 1)
    return what


async def my_record(rt: Runtime, actor: Actor) -> Outcome:
    """``/myrecord``: the newest entries of one's own record and how many of each kind."""
    async with rt.db.session() as session:
        rows = await training_repo.record_rows(session, person_id=actor.person_id)
    if not rows:
        return Outcome.refused("record.empty")
    lang = actor.language
    counts = counts_by_kind(rows)
    kinds = [k for k in (*KINDS, *sorted(set(counts) - set(KINDS))) if k in counts]
    summary = [{"kind": _catalog_or(rt.renderer, f"training.kind_{kind}", lang, kind),
                "count": counts[kind]} for kind in kinds]
    entries = []
    for row in newest_first(rows)[:SHOWN]:
        named = describe(rt.renderer, row, lang)
        entries.append({"at": row.at, "kind": named.kind, "what": named.what,
                        "result": named.result})
    return Outcome.done("record.private", name=actor.name, total=len(rows), summary=summary,
                       entries=entries, more=max(0, len(rows) - SHOWN))


async def sheet_rows(session: AsyncSession, renderer: Renderer, *, unit_ids: Sequence[int],
                     since: datetime, until: datetime,
                     lang: str) -> list[tuple[TrainingRow, Described]]:
    """The training rows of units in [since, until), oldest first, named in ``lang``."""
    rows = await training_repo.record_rows(session, unit_ids=unit_ids, since=since,
                                           until=until)
    return [(row, describe(renderer, row, lang)) for row in rows]
