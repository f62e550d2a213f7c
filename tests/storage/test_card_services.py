"""Posts and cards without Telegram: the org file's post change, the record read back."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import select

from services import membership, training
from services.org import export_file, import_file
from storage import training as training_repo
from storage.db import Database
from storage.models import OutboxMessage, Person, PublishedDocument, ReadReceipt
from tests.storage.test_org_services import EXAMPLE, GROUP, T0, _actor, _runtime


def _payloads(rows: list[OutboxMessage]) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in rows]


async def test_a_post_from_the_org_file_briefs_a_team_member(db: Database) -> None:
    rt = await _runtime(db)
    # The file binds the example's team group; a worker joins it (no post yet).
    text = EXAMPLE.read_text(encoding="utf-8")
    bound = text.replace("name: 合成甲班\n", "name: 合成甲班\n            chat_id: -1001\n", 1)
    await import_file(rt, bound, "org.yaml")
    await _actor(rt, 300001, "Worker Wu", started=True)
    await membership.members_changed(rt, GROUP, [membership.Member(300001, "Worker Wu")],
                                     present=True)
    async with db.session() as s:
        before = {r.id for r in (await s.exec(select(OutboxMessage))).all()}
    with_post = bound + "  - telegram_id: 300001\n    name: Worker Wu\n    post: welder\n"
    report = await import_file(rt, with_post, "org.yaml")
    assert report.updated.get("posts") == 1
    async with db.session() as s:
        person = (await s.exec(select(Person).where(Person.telegram_id == 300001))).one()
        sent = _payloads([r for r in (await s.exec(select(OutboxMessage))).all()
                          if r.chat_id == 300001 and r.id not in before])
    assert person.post == "welder" and person.briefing_reason is not None
    assert any("电焊工" in p["text"] and "reply_markup" in p for p in sent)
    assert "post: welder" in await export_file(rt)
    again = await import_file(rt, with_post, "org.yaml")  # unchanged: no second round
    assert not again.new_posts


async def test_the_record_joins_check_ins_and_documents_read(db: Database) -> None:
    rt = await _runtime(db)
    actor = await _actor(rt, 300002, "Reader Ren")
    async with db.transaction() as s:
        document = PublishedDocument(doc_key="fire-rules", version=2, published_at=T0,
                                     texts_json=json.dumps({"zh": {"title": "消防规定"},
                                                            "en": {"title": "Fire rules"}}))
        s.add(document)
        await s.flush()
        s.add(ReadReceipt(document_id=document.id or 0, unit_id=1, person_id=actor.person_id,
                          required_at=T0, read_at=T0 + timedelta(hours=2)))
        s.add(ReadReceipt(document_id=document.id or 0, unit_id=2, person_id=actor.person_id,
                          required_at=T0))  # not read: not in the record
        await training_repo.record(s, person_id=actor.person_id, unit_id=1, kind="quiz",
                                   subject="ppe-001", result="wrong", at=T0,
                                   dedupe_key="quiz:x")
    done = await training.my_record(rt, actor)
    assert done.ok and done.values["total"] == 2
    entries = done.values["entries"]
    assert [(e["kind"], e["what"], e["result"]) for e in entries] == [
        ("文件学习", "消防规定", "已阅读理解"), ("答题", "ppe-001", "错误")]
    async with db.session() as s:
        rows = await training_repo.record_rows(s, unit_ids=[2], since=T0,
                                               until=T0 + timedelta(days=1))
        later = await training_repo.record_rows(s, unit_ids=[1], since=T0 + timedelta(hours=1),
                                                until=T0 + timedelta(days=1))
    assert rows == [] and [r.kind for r in later] == ["document"]
