"""Publishing and read receipts on SQLite and PostgreSQL: counts, late members, the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from content.render import Renderer
from domain.org import Role, UnitKind
from scheduler.documents import document_sweep
from services.publishing import DocumentDraft, PublishRefused, publish
from storage import documents as doc_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database
from storage.models import DocumentPost, OutboxMessage, Person

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


async def _plant(db: Database) -> dict[str, Person]:
    """acme → ws → team A (group with Wu, Li) and team B (no group); Zhao officer of ws."""
    async with db.transaction() as s:
        acme = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                          parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=acme, now=T0)
        a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A", parent=ws,
                                       now=T0)
        await org_repo.create_unit(s, key="b", kind=UnitKind.TEAM, name="B", parent=ws, now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=-100, title="A", chat_type="group",
                                                 now=T0)
        await org_repo.bind_chat(s, group, a, now=T0)
        people = {}
        for tid, name in ((1, "Wu"), (2, "Li"), (3, "Zhao"), (4, "Zhou")):
            people[name] = await people_repo.upsert_person(s, telegram_id=tid, name=name,
                                                           username=None, language_code="zh",
                                                           now=T0)
        for name in ("Wu", "Li"):
            await org_repo.record_membership(s, chat=group, person=people[name], active=True,
                                             now=T0)
        people["Zhao"].started = True
        await org_repo.grant_role(s, person=people["Zhao"], unit=ws, role=Role.SAFETY_OFFICER,
                                  now=T0)
        return people


def _draft(version: int | None = 1, note: str | None = None) -> DocumentDraft:
    return DocumentDraft(doc_key="hot-work", version=version, change_note=note,
                         texts={"zh": {"title": "动火", "summary": "", "html": "正文"}})


async def test_publish_counts_late_members_and_versions(db: Database) -> None:
    people = await _plant(db)
    renderer = Renderer()
    async with db.transaction() as s:
        ws = await org_repo.get_unit_by_key(s, "ws")
        assert ws is not None
        done = await publish(s, renderer, _draft(), audience=[ws], publisher_id=None, now=T0,
                             default_language="zh")
        assert [u.key for u in done.posted] == ["a"] and done.required == 2
        assert [u.key for u in done.without_group] == ["b"]
    document_id = done.document.id or 0
    async with db.transaction() as s:
        changed = await doc_repo.acknowledge(s, document_id=document_id,
                                             person_id=people["Wu"].id or 0, now=T0)
        assert len(changed) == 1
        assert not await doc_repo.acknowledge(s, document_id=document_id,
                                              person_id=people["Wu"].id or 0, now=T0)
        # Zhou joins the group later; the sweep asks Zhou too.
        group = await org_repo.get_group_chat(s, -100)
        assert group is not None
        await org_repo.record_membership(s, chat=group, person=people["Zhou"], active=True,
                                         now=T0)
    sweep = document_sweep(db, renderer, default_language="zh",
                           reminders=(timedelta(days=1), timedelta(days=2)),
                           reminder_grace=timedelta(minutes=30), wake=lambda: None)
    await sweep(T0 + timedelta(minutes=1))
    await sweep(T0 + timedelta(minutes=2))  # once
    async with db.session() as s:
        a = await org_repo.get_unit_by_key(s, "a")
        assert a is not None
        read, unread = await doc_repo.roll_call(s, document_id, a.id or 0)
        assert [p.name for p in read] == ["Wu"] and [p.name for p in unread] == ["Li", "Zhou"]
        assert await doc_repo.team_counts(s, document_id) == {a.id: (1, 3)}
        [(doc, unread_count)] = await doc_repo.unread_in_team(s, a.id or 0)
        assert doc.id == document_id and unread_count == 2
        assert [d.id for d in await doc_repo.unread_of_person(s, people["Zhou"].id or 0)] == \
            [document_id]
        late = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "document.late"))).all()
        assert len(late) == 1 and late[0].chat_id == -100  # Zhou never pressed Start

    # Li leaves: no longer counted. Three days on, the workshop hears about Zhou once.
    async with db.transaction() as s:
        group = await org_repo.get_group_chat(s, -100)
        assert group is not None
        await org_repo.record_membership(s, chat=group, person=people["Li"], active=False,
                                         now=T0)
    await sweep(T0 + timedelta(days=3))
    await sweep(T0 + timedelta(days=3, minutes=1))
    async with db.session() as s:
        assert await doc_repo.team_counts(s, document_id) == {a.id: (1, 2)}
        overdue = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "document.overdue"))).all()
        assert [row.chat_id for row in overdue] == [3] and "Zhou" in overdue[0].payload

    # The same version again only widens the audience; an older one and a new one without
    # a note are refused; a new one with a note replaces it.
    async with db.transaction() as s:
        acme = await org_repo.get_unit_by_key(s, "acme")
        assert acme is not None
        again = await publish(s, renderer, _draft(), audience=[acme], publisher_id=None,
                              now=T0, default_language="zh")
        assert not again.new_version and doc_repo.audience_of(again.document) == ["ws", "acme"]
    for draft, code in ((_draft(version=None), "note_needed"), (_draft(version=0), "older")):
        async with db.transaction() as s:
            try:
                await publish(s, renderer, draft, audience=[acme], publisher_id=None, now=T0,
                              default_language="zh")
            except PublishRefused as refused:
                assert refused.code == code
            else:
                raise AssertionError(f"{code} was not refused")
    async with db.transaction() as s:
        newer = await publish(s, renderer, _draft(version=None, note="更严"), audience=[acme],
                              publisher_id=None, now=T0, default_language="zh")
        assert newer.document.version == 2 and [d.version for d in newer.superseded] == [1]
    async with db.session() as s:
        # Only the new version counts now; Wu, who read version 1, must read it again.
        assert [(d.version, n) for d, n in await doc_repo.unread_in_team(s, a.id or 0)] == \
            [(2, 2)]


async def test_a_new_version_goes_where_the_old_went_and_only_its_owners_may_publish_it(
        db: Database) -> None:
    await _plant(db)
    renderer = Renderer()
    async with db.transaction() as s:
        beta = await org_repo.create_unit(s, key="beta", kind=UnitKind.ENTERPRISE, name="Beta",
                                          parent=None, now=T0)
        c = await org_repo.create_unit(s, key="c", kind=UnitKind.TEAM, name="C", parent=beta,
                                       now=T0)
        group = await org_repo.upsert_group_chat(s, chat_id=-300, title="C", chat_type="group",
                                                 now=T0)
        await org_repo.bind_chat(s, group, c, now=T0)
        ws = await org_repo.get_unit_by_key(s, "ws")
        assert ws is not None
        await publish(s, renderer, _draft(), audience=[ws], publisher_id=None, now=T0,
                      default_language="zh")
    # Beta's manager, who may publish only under Beta, uploads a file of the same name.
    for draft, code in ((_draft(version=None, note="另一份"), "not_yours"),
                        # …and version 1 again with other text is refused for everyone
                        (DocumentDraft(doc_key="hot-work", version=1, texts={
                            "zh": {"title": "动火", "summary": "", "html": "改过的正文"}}),
                         "changed_same_version")):
        async with db.transaction() as s:
            try:
                await publish(s, renderer, draft, audience=[beta], publisher_id=None, now=T0,
                              default_language="zh", may_publish_to=["beta", "c"])
            except PublishRefused as refused:
                assert refused.code == code
            else:
                raise AssertionError(f"{code} was not refused")
    async with db.session() as s:
        a = await org_repo.get_unit_by_key(s, "a")
        assert a is not None
        assert [(d.version, n) for d, n in await doc_repo.unread_in_team(s, a.id or 0)] == \
            [(1, 2)]  # team A keeps its obligation
    # Someone who may (the CLI here) publishes version 2 to Beta only: it reaches WS too,
    # because it replaces version 1 there.
    async with db.transaction() as s:
        newer = await publish(s, renderer, _draft(version=None, note="更严"), audience=[beta],
                              publisher_id=None, now=T0, default_language="zh")
        assert sorted(u.key for u in newer.posted) == ["a", "c"]
        assert doc_repo.audience_of(newer.document) == ["ws", "beta"]


async def test_a_sweep_reminds_every_due_post_however_many(db: Database,
                                                           monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import scheduler.documents as documents_sweep

    await _plant(db)
    renderer = Renderer()
    async with db.transaction() as s:
        ws = await org_repo.get_unit_by_key(s, "ws")
        assert ws is not None
        for key in ("hot-work", "confined-space", "lifting"):
            await publish(s, renderer, DocumentDraft(doc_key=key, version=1, texts={
                "zh": {"title": key, "summary": "", "html": "正文"}}), audience=[ws],
                publisher_id=None, now=T0, default_language="zh")
    monkeypatch.setattr(documents_sweep, "BATCH", 2)  # three posts due: two batches
    sweep = document_sweep(db, renderer, default_language="zh",
                           reminders=(timedelta(days=1), timedelta(days=2)),
                           reminder_grace=timedelta(minutes=30), wake=lambda: None)
    await sweep(T0 + timedelta(days=1, minutes=1))
    async with db.session() as s:
        posts = (await s.exec(select(DocumentPost))).all()
        assert [p.reminders_done for p in posts] == [1, 1, 1]
        reminders = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "document.reminder"))).all()
        assert len(reminders) == 3  # one per post, into team A's group (nobody pressed Start)
