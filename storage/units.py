"""Units of the organisation: the tree, kept as materialised paths."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.org import UnitKind, child_path, path_ids
from storage.models import GroupChat, Unit


async def get_unit(session: AsyncSession, unit_id: int) -> Unit | None:
    """The unit with this id."""
    return await session.get(Unit, unit_id)


async def get_unit_by_key(session: AsyncSession, key: str) -> Unit | None:
    """The unit with this org-file key."""
    result = await session.exec(select(Unit).where(Unit.key == key))
    return result.first()


async def create_unit(
    session: AsyncSession,
    *,
    key: str,
    kind: UnitKind,
    name: str,
    parent: Unit | None,
    now: datetime,
    language: str | None = None,
    timezone: str | None = None,
) -> Unit:
    """Add a unit under ``parent`` and give it its materialised path."""
    unit = Unit(key=key, kind=kind, name=name,
                parent_id=parent.id if parent else None, language=language,
                timezone=timezone, created_at=now)
    session.add(unit)
    await session.flush()  # the id is part of the path
    assert unit.id is not None
    unit.path = child_path(parent.path if parent else None, unit.id)
    session.add(unit)
    return unit


async def ancestors(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit and every unit above it, root first."""
    ids = path_ids(unit.path)
    result = await session.exec(select(Unit).where(col(Unit.id).in_(ids)))
    by_id = {u.id: u for u in result.all()}
    return [by_id[i] for i in ids if i in by_id]


async def subtree(session: AsyncSession, unit: Unit) -> list[Unit]:
    """The unit and everything below it (one prefix query on the path index)."""
    result = await session.exec(
        select(Unit).where(col(Unit.path).startswith(unit.path)).order_by(col(Unit.path))
    )
    return list(result.all())


async def units_of_kind(session: AsyncSession, kind: UnitKind) -> list[Unit]:
    """All units of one kind, in tree order."""
    result = await session.exec(
        select(Unit).where(Unit.kind == kind.value).order_by(col(Unit.path))
    )
    return list(result.all())


async def all_units(session: AsyncSession) -> list[Unit]:
    """Every unit in tree order (parents before children)."""
    result = await session.exec(select(Unit).order_by(col(Unit.path)))
    return list(result.all())


async def unbound_teams(session: AsyncSession) -> list[Unit]:
    """Teams that no group chat is bound to yet."""
    bound = select(GroupChat.unit_id).where(col(GroupChat.unit_id).is_not(None))
    result = await session.exec(
        select(Unit).where(Unit.kind == UnitKind.TEAM.value, col(Unit.id).not_in(bound))
        .order_by(col(Unit.path))
    )
    return list(result.all())


async def teams_with_groups(session: AsyncSession) -> list[tuple[Unit, GroupChat]]:
    """Every team bound to a group the bot is still in, with that group, in one query.

    Sweeps that run every minute over thousands of teams read this instead of one
    query per team.
    """
    result = await session.exec(
        select(Unit, GroupChat).join(GroupChat, col(GroupChat.unit_id) == col(Unit.id))
        .where(Unit.kind == UnitKind.TEAM.value, col(GroupChat.active).is_(True))
        .order_by(col(Unit.path)))
    return [(unit, group) for unit, group in result.all()]


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Unit]:
    """Units by id, in one query (the chains of many teams at once)."""
    if not ids:
        return {}
    result = await session.exec(select(Unit).where(col(Unit.id).in_(list(ids))))
    return {unit.id or 0: unit for unit in result.all()}
