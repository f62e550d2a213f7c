"""Invitation codes on SQLite and PostgreSQL: stored as digests, spent once, never late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import invites
from domain.org import UnitKind
from storage import invites as invite_repo
from storage import org as org_repo
from storage import people as people_repo
from storage.db import Database

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


async def test_a_code_is_spent_once_and_not_after_it_expires(db: Database) -> None:
    async with db.transaction() as s:
        team = await org_repo.create_unit(s, key="a", kind=UnitKind.TEAM, name="A",
                                          parent=None, now=T0)
        person = await people_repo.upsert_person(s, telegram_id=1, name="P", username=None,
                                                 language_code=None, now=T0)
        codes = [invites.new_code() for _ in range(2)]
        for code in codes:
            await invite_repo.create(s, code=code, unit_id=team.id or 0, new_team=False,
                                     created_by=person.id or 0, now=T0,
                                     expires_at=T0 + timedelta(hours=24))
        person_id = person.id or 0
    async with db.transaction() as s:
        first = await invite_repo.find(s, codes[0])
        assert first is not None and first.code_digest == invites.digest(codes[0])
        assert await invite_repo.spend(s, first, person_id=person_id, chat_id=-5,
                                       now=T0 + timedelta(hours=1))
    async with db.transaction() as s:
        # A second use, even from a copy of the row read before the first: refused.
        again = await invite_repo.find(s, codes[0])
        assert again is not None and again.used_at is not None and again.used_chat_id == -5
        assert not await invite_repo.spend(s, again, person_id=person_id, chat_id=-6,
                                           now=T0 + timedelta(hours=2))
        late = await invite_repo.find(s, codes[1])
        assert late is not None
        assert not await invite_repo.spend(s, late, person_id=person_id, chat_id=-6,
                                           now=T0 + timedelta(hours=24))
        assert await invite_repo.find(s, invites.new_code()) is None


def test_codes_are_random_typable_and_read_case_blind() -> None:
    codes = {invites.new_code() for _ in range(1000)}
    assert len(codes) == 1000
    code = codes.pop()
    assert invites.normalise(code) == code
    assert invites.normalise(f" {code.lower()} ") == code
    assert invites.normalise(code[:4] + "-" + code[4:]) == code
    for bad in ("", "short", code + "X", "<b>ABCDEFGH</b>", "ÄBCDEFGHJKMN", "U" * 12,
                "A" * 65):
        assert invites.normalise(bad) is None, bad
