"""Outbox claims across processes: a restarted instance takes its own back, never others'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from storage import outbox as outbox_repo
from storage.db import Database
from storage.models import OutboxMessage

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


async def _claim(db: Database, chat_id: int, owner: str) -> None:
    async with db.transaction() as s:
        await outbox_repo.enqueue_text(s, chat_id=chat_id, html="x", now=T0, purpose="t")
        await outbox_repo.claim_due(s, now=T0, owner=owner, lease=LEASE)


async def _owners(db: Database) -> dict[int, tuple[str, str | None]]:
    async with db.session() as s:
        rows = (await s.exec(select(OutboxMessage))).all()
        return {r.chat_id: (r.status, r.lease_owner) for r in rows}


async def test_take_back_frees_only_the_dead_predecessors_claims(db: Database) -> None:
    await _claim(db, 1, "host-a#dead00000000")  # this instance's killed process
    await _claim(db, 2, "host-a#live00000000")  # this instance's current process
    await _claim(db, 3, "host-ab#other0000000")  # another instance, prefix alike
    await _claim(db, 4, "host_a#other0000000")  # '_' is not a LIKE wildcard here
    async with db.transaction() as s:
        assert await outbox_repo.take_back(s, instance="host-a",
                                           owner="host-a#live00000000") == 1
    assert await _owners(db) == {1: ("pending", None), 2: ("sending", "host-a#live00000000"),
                                 3: ("sending", "host-ab#other0000000"),
                                 4: ("sending", "host_a#other0000000")}
    async with db.transaction() as s:  # due again at once, for the live process
        claimed = await outbox_repo.claim_due(s, now=T0, owner="host-a#live00000000",
                                              lease=LEASE)
        assert [r.chat_id for r in claimed] == [1]


async def test_a_renewed_claim_is_not_taken_by_another_instance(db: Database) -> None:
    await _claim(db, 1, "a#000000000001")
    async with db.transaction() as s:
        assert await outbox_repo.renew_claims(s, owner="a#000000000001",
                                              until=T0 + LEASE + timedelta(minutes=1)) == 1
        assert await outbox_repo.renew_claims(s, owner="b#000000000001",
                                              until=T0 + LEASE * 10) == 0
    async with db.transaction() as s:  # past the first lease, within the renewed one
        assert await outbox_repo.claim_due(s, now=T0 + LEASE + timedelta(seconds=30),
                                           owner="b#000000000001", lease=LEASE) == []
    async with db.transaction() as s:  # the sender died: its renewed lease runs out too
        taken = await outbox_repo.claim_due(s, now=T0 + LEASE + timedelta(minutes=2),
                                            owner="b#000000000001", lease=LEASE)
        assert [r.chat_id for r in taken] == [1]
