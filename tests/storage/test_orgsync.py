"""Importing the organisation: idempotent, all-or-nothing, round-trips through export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.orgfile import dump_org, parse_org
from storage import org as org_repo
from storage.db import Database
from storage.orgsync import export_org, import_org

T0 = datetime(2026, 11, 23, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml"


async def test_import_twice_changes_nothing_and_export_round_trips(db: Database) -> None:
    spec = parse_org(EXAMPLE.read_text(encoding="utf-8"), "org.yaml")
    async with db.transaction() as s:
        first = await import_org(s, spec, now=T0)
    assert first.created["units"] == 6 and first.created["roles"] == 3
    async with db.transaction() as s:
        second = await import_org(s, spec, now=T0)
    assert not second.changed, second.summary()
    async with db.session() as s:
        exported = await export_org(s, timezone="Asia/Shanghai", language="zh")
        team = await org_repo.get_unit_by_key(s, "team-synthesis-a")
        assert team is not None
        assert [u.key for u in await org_repo.ancestors(s, team)] == [
            "acme", "ws-synthesis", "team-synthesis-a"]
    assert parse_org(dump_org(exported), "export.yaml") == spec


async def test_moving_a_workshop_rewrites_the_paths_below(db: Database) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    async with db.transaction() as s:
        await import_org(s, parse_org(text, "org.yaml"), now=T0)
    # The same enterprise, now under an industrial-park authority.
    lines = text.splitlines()
    start, end = lines.index("  - key: acme"), lines.index("people:")
    park = ["  - key: park", "    kind: authority", "    name: 园区安监办", "    children:"]
    lines[start:end] = park + ["    " + line for line in lines[start:end]]
    spec = parse_org("\n".join(lines) + "\n", "moved.yaml")
    async with db.transaction() as s:
        report = await import_org(s, spec, now=T0)
        assert report.updated.get("units moved") == 1
    async with db.session() as s:
        park = await org_repo.get_unit_by_key(s, "park")
        team = await org_repo.get_unit_by_key(s, "team-packing-1")
        assert park is not None and team is not None
        assert team.path.startswith(park.path)
        assert [u.key for u in await org_repo.subtree(s, park)][:2] == ["park", "acme"]


async def test_a_file_without_a_schedule_keeps_the_one_set_in_chat(db: Database) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    async with db.transaction() as s:
        await import_org(s, parse_org(text, "org.yaml"), now=T0)
        team_b = await org_repo.get_unit_by_key(s, "team-synthesis-b")
        assert team_b is not None and team_b.extra_json is None
        team_b.extra_json = '{"shifts": {"shifts": [{"name": "夜班", "start": "22:00", ' \
                            '"end": "06:00"}]}}'  # what /shifts in chat stores
        s.add(team_b)
    # Someone adds a person and imports the old file again; its team B has no shifts.
    async with db.transaction() as s:
        report = await import_org(s, parse_org(text, "org.yaml"), now=T0)
    assert not report.changed, report.summary()
    async with db.session() as s:
        team_b = await org_repo.get_unit_by_key(s, "team-synthesis-b")
        assert team_b is not None and "夜班" in (team_b.extra_json or "")
    # A schedule in the file replaces the stored one.
    text_b = text.replace("            name: 合成乙班\n", "            name: 合成乙班\n"
                          "            shifts:\n"
                          "              shifts: [{name: 白班, start: '08:00', end: '17:00'}]\n")
    assert text_b != text
    async with db.transaction() as s:
        report = await import_org(s, parse_org(text_b, "org.yaml"), now=T0)
    assert report.updated == {"units": 1}
    async with db.session() as s:
        team_b = await org_repo.get_unit_by_key(s, "team-synthesis-b")
        assert team_b is not None and "白班" in (team_b.extra_json or "")
        assert "夜班" not in (team_b.extra_json or "")
