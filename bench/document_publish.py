"""Benchmark: publishing one document to an enterprise of 2,000 teams.

The publisher waits while the posts, roll calls and receipts are written (the
sending happens later, through the outbox at Telegram's rate). Target: ≤ 5 s
for 2,000 teams of three (it was 28 s with a few statements per team).

    .venv/bin/python bench/document_publish.py
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from content.render import Renderer
from domain.org import UnitKind
from services.publishing import DocumentDraft, publish
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.migrate import upgrade

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


async def publish_seconds(teams: int, members: int = 3) -> float:
    """Seconds to publish one document to ``teams`` teams under 100 workshops."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'publish.db'}")
        await upgrade(db)
        async with db.transaction() as s:
            acme = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE,
                                              name="Acme", parent=None, now=NOW)
            person_id = 1
            for w in range(100):
                ws = await org_repo.create_unit(s, key=f"ws{w}", kind=UnitKind.WORKSHOP,
                                                name=f"WS {w}", parent=acme, now=NOW)
                for t in range(teams // 100):
                    team = await org_repo.create_unit(s, key=f"t{w}-{t}", kind=UnitKind.TEAM,
                                                      name=f"Team {w}-{t}", parent=ws, now=NOW)
                    group = await org_repo.upsert_group_chat(
                        s, chat_id=-1000 - person_id, title=team.name, chat_type="group",
                        now=NOW)
                    await org_repo.bind_chat(s, group, team, now=NOW)
                    for _ in range(members):
                        person = await people_repo.upsert_person(
                            s, telegram_id=person_id, name=f"Worker {person_id}",
                            username=None, language_code="zh", now=NOW)
                        await org_repo.record_membership(s, chat=group, person=person,
                                                         active=True, now=NOW)
                        person_id += 1
        draft = DocumentDraft(doc_key="hot-work", version=1, texts={
            "zh": {"title": "动火作业安全管理规定", "summary": "动火前必须办票",
                   "html": "<b>一、适用范围</b>\n\n本规定适用于全厂动火作业。"}})
        started = time.perf_counter()
        async with db.transaction() as s:
            enterprise = await org_repo.get_unit_by_key(s, "acme")
            assert enterprise is not None
            done = await publish(s, Renderer(), draft, audience=[enterprise],
                                 publisher_id=None, now=NOW, default_language="zh")
        elapsed = time.perf_counter() - started
        assert len(done.posted) == teams and done.required == teams * members
        await db.dispose()
        return elapsed


async def main() -> None:
    small = await publish_seconds(100)
    big = await publish_seconds(2000)
    print(f"publish to 100 teams: {small:.2f} s")
    print(f"publish to 2,000 teams: {big:.2f} s (target ≤ 5 s)")
    print(f"ratio to the target: {big / 5:.2f} (≤ 1 passes)")


if __name__ == "__main__":
    asyncio.run(main())
