"""Document services without Telegram, on SQLite and PostgreSQL: publish, read, replace, refuse.

Each test calls the service functions the chat, the timetable and the CLI call,
with a Runtime and an Actor, and looks at what they queued in the outbox.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlmodel import select

from content.render import Renderer
from domain.clock import ManualClock
from domain.org import Role, UnitKind
from services.base import Actor, Runtime
from services.buttons import parse_button
from services.documents import DocumentButton, acknowledge, read_status
from services.publishing import DocumentDraft, PublishChoice, PublishStep, publish_document
from storage import documents as doc_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import DocumentPost, OutboxMessage, Person, PublishedDocument

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
GROUP = -100


async def _plant(db: Database) -> dict[str, Person]:
    """acme → ws → team A (group with Wu, Li); Qian manages ws; Sun manages ws2."""
    async with db.transaction() as s:
        acme = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                          parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=acme, now=T0)
        ws2 = await org_repo.create_unit(s, key="ws2", kind=UnitKind.WORKSHOP, name="WS2",
                                         parent=acme, now=T0)
        a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A", parent=ws,
                                       now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=GROUP, title="A",
                                                 chat_type="group", now=T0)
        await org_repo.bind_chat(s, group, a, now=T0)
        people = {}
        for tid, name in ((1, "Wu"), (2, "Li"), (3, "Qian"), (4, "Sun")):
            people[name] = await people_repo.upsert_person(s, telegram_id=tid, name=name,
                                                           username=None, language_code="zh",
                                                           now=T0)
        for name in ("Wu", "Li"):
            await org_repo.record_membership(s, chat=group, person=people[name], active=True,
                                             now=T0)
        await org_repo.grant_role(s, person=people["Qian"], unit=ws, role=Role.MANAGER, now=T0)
        await org_repo.grant_role(s, person=people["Sun"], unit=ws2, role=Role.MANAGER, now=T0)
        return people


def _actor(person: Person) -> Actor:
    return Actor(person_id=person.id or 0, telegram_id=person.telegram_id, name=person.name,
                 language="zh")


def _draft(version: int | None = 1, note: str | None = None) -> DocumentDraft:
    return DocumentDraft(doc_key="hot-work", version=version, change_note=note,
                         texts={"zh": {"title": "动火", "summary": "", "html": "正文"}})


class _Wakes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def _runtime(db: Database, wake: _Wakes | None = None) -> Runtime:
    return Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0),
                   wake=wake or (lambda: None))


async def _outbox(db: Database, purpose: str) -> list[OutboxMessage]:
    async with db.session() as s:
        return list((await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == purpose))).all())


async def test_publishing_to_a_unit_queues_the_posts_and_the_receipts(db: Database) -> None:
    people = await _plant(db)
    wakes = _Wakes()
    outcome = await publish_document(_runtime(db, wakes), _actor(people["Qian"]), _draft(),
                                     ["ws"])
    assert outcome.ok and outcome.key == "publish.done"
    assert outcome.values["teams"] == ["A"] and outcome.values["people"] == 2
    assert outcome.queued == 1 and wakes.count == 1
    [post] = await _outbox(db, "document.post")
    [roll_call] = await _outbox(db, "document.roll_call")
    assert post.chat_id == roll_call.chat_id == GROUP
    assert (post.id or 0) < (roll_call.id or 0)  # the document before its roll call
    # The roll call carries the typed "read and understood" button, same wire format.
    data = json.loads(roll_call.payload)["reply_markup"]["inline_keyboard"][0][0]
    assert data["callback_data"] == f"doc:ack:{outcome.values['document_id']}"
    assert parse_button(data["callback_data"]) == \
        DocumentButton("ack", outcome.values["document_id"])
    async with db.session() as s:
        team = await org_repo.get_unit_by_key(s, "a")
        assert team is not None
        read, unread = await doc_repo.roll_call(s, outcome.values["document_id"], team.id or 0)
        assert read == [] and sorted(p.name for p in unread) == ["Li", "Wu"]


async def test_a_read_counts_once_and_edits_the_roll_call_once(db: Database) -> None:
    people = await _plant(db)
    rt = _runtime(db)
    published = await publish_document(rt, _actor(people["Qian"]), _draft(), ["ws"])
    document_id = published.values["document_id"]
    async with db.transaction() as s:  # the roll call went out: now it can be edited
        [row] = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "document.roll_call"))).all()
        row.telegram_message_id = 77
        s.add(row)

    first = await acknowledge(rt, _actor(people["Wu"]), document_id, GROUP)
    again = await acknowledge(rt, _actor(people["Wu"]), document_id, GROUP)

    assert (first.ok, first.key, first.queued) == (True, "document.acknowledged", 1)
    assert (again.ok, again.key, again.queued) == (True, "document.already", 0)
    [edit] = await _outbox(db, "document.roll_call_edit")
    assert edit.method == "editMessageText" and edit.chat_id == GROUP
    async with db.session() as s:
        team = await org_repo.get_unit_by_key(s, "a")
        assert team is not None
        read, unread = await doc_repo.roll_call(s, document_id, team.id or 0)
        assert [p.name for p in read] == ["Wu"] and [p.name for p in unread] == ["Li"]
    # Someone without a receipt, pressing in a private chat, is not asked to read it.
    stranger = await acknowledge(rt, _actor(people["Sun"]), document_id,
                                 people["Sun"].telegram_id)
    assert (stranger.ok, stranger.key) == (False, "document.not_yours")


async def test_a_new_version_replaces_the_old_one_everywhere(db: Database) -> None:
    people = await _plant(db)
    rt = _runtime(db)
    first = await publish_document(rt, _actor(people["Qian"]), _draft(), ["a"])
    without_note = await publish_document(rt, _actor(people["Qian"]), _draft(version=None),
                                          ["a"])
    assert (without_note.ok, without_note.key) == (False, "publish.refused_note_needed")

    second = await publish_document(rt, _actor(people["Qian"]), _draft(None, "更严"), ["a"])

    assert second.ok and second.values["version"] == 2 and second.values["replaced"] == [1]
    async with db.session() as s:
        old = await s.get(PublishedDocument, first.values["document_id"])
        assert old is not None and old.superseded_at == T0
        posts = (await s.exec(select(DocumentPost))).all()
        assert sorted(p.document_id for p in posts) == sorted(
            [first.values["document_id"], second.values["document_id"]])
    stale = await acknowledge(rt, _actor(people["Wu"]), first.values["document_id"], GROUP)
    assert (stale.ok, stale.key) == (False, "document.superseded")
    fresh = await acknowledge(rt, _actor(people["Wu"]), second.values["document_id"], GROUP)
    assert fresh.key == "document.acknowledged"


async def test_a_publisher_without_rights_is_refused_and_nothing_is_queued(
        db: Database) -> None:
    people = await _plant(db)
    rt = _runtime(db)

    worker = await publish_document(rt, _actor(people["Wu"]), _draft(), ["ws"])
    elsewhere = await publish_document(rt, _actor(people["Sun"]), _draft(), ["ws"])

    assert (worker.ok, worker.key) == (False, "publish.not_allowed")
    assert (elsewhere.ok, elsewhere.key, elsewhere.values) == \
        (False, "publish.audience_unknown", {"keys": "ws"})
    assert await _outbox(db, "document.post") == []
    async with db.session() as s:
        assert await doc_repo.latest_version(s, "hot-work") is None
    # The operator at the command line (no actor) may publish anywhere.
    assert (await publish_document(rt, None, _draft(), ["ws"])).ok


async def test_read_status_shows_the_team_to_its_manager_only(db: Database) -> None:
    people = await _plant(db)
    rt = _runtime(db)
    await publish_document(rt, _actor(people["Qian"]), _draft(), ["ws"])

    shown = await read_status(rt, _actor(people["Qian"]), group_chat_id=None, wanted=None,
                              lang="zh")
    refused = await read_status(rt, _actor(people["Wu"]), group_chat_id=GROUP, wanted=None,
                                lang="zh")

    assert shown.ok and [s["key"] for s in shown.values["sections"]] == ["hot-work"]
    assert [r["name"] for r in shown.values["sections"][0]["rows"]] == ["WS", "A"]
    assert (refused.ok, refused.key) == (False, "readstatus.not_allowed")


def test_publish_buttons_keep_their_wire_format() -> None:
    assert PublishChoice("lib", 0).pack() == "pubd:lib:0"
    assert PublishChoice("u", 12).pack() == "pubd:u:12"
    assert [PublishStep(a).pack() for a in ("ok", "go", "x")] == \
        ["pubd:ok", "pubd:go", "pubd:x"]
    assert parse_button("pubd:lib:3") == PublishChoice("lib", 3)
    assert parse_button("pubd:go") == PublishStep("go")
    assert parse_button("pubd:lib") is None and parse_button("doc:ack:x") is None
