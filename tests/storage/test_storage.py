"""Repositories on SQLite and PostgreSQL: the same code, the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel

from domain.delivery import OutboxStatus
from domain.org import Role, UnitKind
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import updates as updates_repo
from storage.db import Database
from storage.migrate import current_revision, head_revision
from storage.models import OutboxMessage

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def _tree(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        ent = await org_repo.create_unit(s, key="acme", kind=UnitKind.ENTERPRISE, name="Acme",
                                         parent=None, now=T0)
        ws = await org_repo.create_unit(s, key="ws", kind=UnitKind.WORKSHOP, name="WS",
                                        parent=ent, now=T0)
        a = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A", parent=ws,
                                       now=T0)
        b = await org_repo.create_unit(s, key="b", kind=UnitKind.TEAM, name="B", parent=ws,
                                       now=T0)
        return {"acme": ent.id or 0, "ws": ws.id or 0, "a": a.id or 0, "b": b.id or 0}


async def test_migrations_match_the_models(db: Database) -> None:
    assert await current_revision(db) == head_revision()

    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)

    async with db.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_tree_paths_subtree_and_ancestors(db: Database) -> None:
    ids = await _tree(db)
    async with db.session() as s:
        ws = await org_repo.get_unit(s, ids["ws"])
        team = await org_repo.get_unit(s, ids["a"])
        assert ws is not None and team is not None
        assert team.path == f"/{ids['acme']}/{ids['ws']}/{ids['a']}/"
        assert [u.key for u in await org_repo.subtree(s, ws)] == ["ws", "a", "b"]
        assert [u.key for u in await org_repo.ancestors(s, team)] == ["acme", "ws", "a"]
        assert [u.key for u in await org_repo.unbound_teams(s)] == ["a", "b"]


async def test_roles_are_granted_once_and_revoked(db: Database) -> None:
    ids = await _tree(db)
    async with db.transaction() as s:
        person = await people_repo.upsert_person(s, telegram_id=5, name="王", username="Wang",
                                                 language_code="zh", now=T0)
        team = await org_repo.get_unit(s, ids["a"])
        assert team is not None
        assert await org_repo.grant_role(s, person=person, unit=team, role=Role.TEAM_LEADER,
                                         now=T0)
        assert not await org_repo.grant_role(s, person=person, unit=team,
                                             role=Role.TEAM_LEADER, now=T0)
    async with db.session() as s:
        found = await people_repo.find_by_username(s, "@wang")
        assert found is not None and found.telegram_id == 5
        grants = await org_repo.grants_of(s, found.id or 0)
        assert [(g.role, g.unit_id) for g in grants] == [(Role.TEAM_LEADER, ids["a"])]
    async with db.transaction() as s:
        team = await org_repo.get_unit(s, ids["a"])
        person = await people_repo.get_person(s, 5)
        assert team is not None and person is not None
        assert await org_repo.revoke_role(s, person=person, unit=team, role=Role.TEAM_LEADER)
        assert not await org_repo.revoke_role(s, person=person, unit=team,
                                              role=Role.TEAM_LEADER)


async def test_migration_keeps_binding_and_members_in_either_order(db: Database) -> None:
    ids = await _tree(db)
    for first_new_chat_speaks in (False, True):
        old_id, new_id = (-11, -10011) if first_new_chat_speaks else (-12, -10012)
        async with db.transaction() as s:
            chat = await org_repo.upsert_group_chat(s, chat_id=old_id, title="A", chat_type="group",
                                                    now=T0)
            team = await org_repo.get_unit(s, ids["a" if first_new_chat_speaks else "b"])
            assert team is not None
            await org_repo.bind_chat(s, chat, team, now=T0)
            person = await people_repo.upsert_person(s, telegram_id=100 + old_id * -1,
                                                     name="P", username=None,
                                                     language_code=None, now=T0)
            await org_repo.record_membership(s, chat=chat, person=person, active=True, now=T0)
            if first_new_chat_speaks:
                await org_repo.upsert_group_chat(s, chat_id=new_id, title="A",
                                                 chat_type="supergroup", now=T0)
        for _ in range(2):  # both service messages arrive; the second changes nothing
            async with db.transaction() as s:
                await org_repo.migrate_chat(s, old_chat_id=old_id, new_chat_id=new_id, now=T0)
        async with db.session() as s:
            moved = await org_repo.get_group_chat(s, new_id)
            assert moved is not None and moved.unit_id == team.id
            assert [p.name for p in await org_repo.active_members(s, moved.id or 0)] == ["P"]
            old = await org_repo.get_group_chat(s, old_id)
            assert old is None or old.unit_id is None
            # A notice still queued for the old id is sent there, not dropped as if the
            # bot had been removed: Telegram's answer names the new id to follow.
            assert await org_repo.inactive_chat_ids(s, {old_id, new_id}) == set()


async def test_outbox_claim_send_retry_and_dedupe(db: Database) -> None:
    async with db.transaction() as s:
        rows = await outbox_repo.enqueue_text(s, chat_id=-5, html="<b>hi</b>", now=T0,
                                              purpose="test", dedupe_key="k1")
        assert len(rows) == 1
        assert await outbox_repo.enqueue_text(s, chat_id=-5, html="again", now=T0,
                                              purpose="test", dedupe_key="k1") == []
    async with db.transaction() as s:
        claimed = await outbox_repo.claim_due(s, now=T0, owner="a", lease=timedelta(minutes=1))
        assert [r.id for r in claimed] == [rows[0].id]
    async with db.transaction() as s:  # a second sender sees nothing while the lease holds
        assert await outbox_repo.claim_due(s, now=T0, owner="b", lease=timedelta(minutes=1)) == []
    async with db.transaction() as s:
        assert await outbox_repo.mark_retry(s, rows[0].id or 0, owner="a",
                                            next_attempt_at=T0 + timedelta(seconds=3),
                                            error="flood", attempts=1)
    async with db.transaction() as s:
        assert await outbox_repo.claim_due(s, now=T0 + timedelta(seconds=2), owner="a",
                                           lease=timedelta(minutes=1)) == []
        again = await outbox_repo.claim_due(s, now=T0 + timedelta(seconds=3), owner="a",
                                            lease=timedelta(minutes=1))
        assert len(again) == 1
    async with db.transaction() as s:
        await outbox_repo.mark_sent_many(s, [(rows[0].id or 0, 7, 2)], owner="a", now=T0)
        # exactly once: a late second "sent" from a sender without the claim does nothing
        await outbox_repo.mark_sent_many(s, [(rows[0].id or 0, 8, 3)], owner="a", now=T0)
    async with db.session() as s:
        assert await outbox_repo.count_by_status(s) == {OutboxStatus.SENT.value: 1}
        sent = await s.get(OutboxMessage, rows[0].id)
        assert sent is not None and (sent.telegram_message_id, sent.attempts) == (7, 2)


async def test_expired_lease_returns_the_row(db: Database) -> None:
    async with db.transaction() as s:
        await outbox_repo.enqueue_text(s, chat_id=9, html="x", now=T0, purpose="t")
        await outbox_repo.claim_due(s, now=T0, owner="crashed", lease=timedelta(minutes=2))
    async with db.transaction() as s:
        assert await outbox_repo.claim_due(s, now=T0 + timedelta(minutes=1), owner="b",
                                           lease=timedelta(minutes=2)) == []
        rows = await outbox_repo.claim_due(s, now=T0 + timedelta(minutes=3), owner="b",
                                           lease=timedelta(minutes=2))
        assert len(rows) == 1 and rows[0].lease_owner == "b"


async def test_long_text_is_split_and_buttons_go_last(db: Database) -> None:
    para = "安全第一，预防为主。" * 40
    html = "\n\n".join([para] * 12)  # about 4,800 characters
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "x"}]]}
    async with db.transaction() as s:
        rows = await outbox_repo.enqueue_text(s, chat_id=-1, html=html, now=T0, purpose="doc",
                                              reply_markup=markup, dedupe_key="doc1")
    params = [outbox_repo.params_of(r) for r in rows]
    assert len(rows) == 2
    assert all(len(p["text"]) <= 4096 for p in params)
    assert "reply_markup" not in params[0] and params[1]["reply_markup"] == markup
    assert [r.dedupe_key for r in rows] == ["doc1", "doc1#2"]


async def test_processed_updates(db: Database) -> None:
    async with db.transaction() as s:
        assert not await updates_repo.was_processed(s, bot_id=1, update_id=10)
        await updates_repo.mark_processed(s, bot_id=1, update_id=10, now=T0)
    async with db.transaction() as s:
        assert await updates_repo.was_processed(s, bot_id=1, update_id=10)
        await updates_repo.mark_processed(s, bot_id=1, update_id=10, now=T0)  # no error
        await updates_repo.forget_before(s, T0 + timedelta(days=2))
    async with db.session() as s:
        assert not await updates_repo.was_processed(s, bot_id=1, update_id=10)


async def test_two_senders_racing_for_the_same_rows_never_both_win(db: Database) -> None:
    import asyncio

    async with db.transaction() as s:
        for n in range(20):
            await outbox_repo.enqueue_text(s, chat_id=-1, html=f"m{n}", now=T0, purpose="t")

    async def claim(owner: str) -> list[int]:
        async with db.transaction() as s:
            rows = await outbox_repo.claim_due(s, now=T0, owner=owner, lease=timedelta(minutes=1))
            return [r.id or 0 for r in rows]

    first, second = await asyncio.gather(claim("a"), claim("b"))
    assert not set(first) & set(second)
    assert len(first) + len(second) == 20


async def test_bulk_queueing_skips_keys_already_queued(db: Database) -> None:
    item = outbox_repo.Outgoing(chat_id=5, params={"text": "a"}, purpose="t", dedupe_key="k")
    other = outbox_repo.Outgoing(chat_id=6, params={"text": "b"}, purpose="t", dedupe_key="j")
    async with db.transaction() as s:
        await outbox_repo.enqueue_many(s, [item], now=T0)
    async with db.transaction() as s:
        await outbox_repo.enqueue_many(s, [item, other], now=T0)  # "k" again: skipped
    async with db.session() as s:
        assert await outbox_repo.count_by_status(s) == {"pending": 2}


async def test_a_report_in_progress_survives_the_upgrade_to_conversation_drafts(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from storage.migrate import upgrade

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    await upgrade(database, "0003")
    async with database.engine.begin() as connection:
        await connection.execute(text(
            "INSERT INTO person (telegram_id, name, started, blocked, is_admin, created_at, "
            "updated_at) VALUES (7, 'P', 0, 0, 0, '2026-11-23', '2026-11-23')"))
        await connection.execute(text(
            "INSERT INTO hazard_draft (chat_id, person_id, step, data, updated_at) "
            "VALUES (-1, 1, 'location', '{}', '2026-11-23')"))
    await upgrade(database)
    from storage import drafts as drafts_repo

    async with database.session() as s:
        draft = await drafts_repo.get_draft(s, -1, 1)
        assert draft is not None and draft.step == "location"
    await database.dispose()


async def test_states_are_read_as_enums_and_unknown_ones_are_refused(db: Database) -> None:
    async with db.transaction() as s:
        row = await outbox_repo.enqueue(s, chat_id=-1, method="sendMessage",
                                        params={"text": "x"}, now=T0, purpose="test")
    assert row is not None
    async with db.session() as s:
        stored = await s.get(OutboxMessage, row.id)
        assert stored is not None and stored.status is OutboxStatus.PENDING
    with pytest.raises(StatementError, match="not a valid OutboxStatus"):
        async with db.transaction() as s:
            stored = await s.get(OutboxMessage, row.id)
            assert stored is not None
            stored.status = "sent-ish"  # type: ignore[assignment]
            s.add(stored)
