"""One-time invitation codes for binding a group (see domain.invites)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.invites import digest
from storage.models import GroupInvite


async def create(session: AsyncSession, *, code: str, unit_id: int, new_team: bool,
                 created_by: int, now: datetime, expires_at: datetime) -> GroupInvite:
    """Store an invitation; the code itself is kept only as its digest."""
    invite = GroupInvite(code_digest=digest(code), unit_id=unit_id, new_team=new_team,
                         created_by=created_by, created_at=now, expires_at=expires_at)
    session.add(invite)
    await session.flush()
    return invite


async def find(session: AsyncSession, code: str) -> GroupInvite | None:
    """The invitation with this (normalised) code, used or not."""
    result = await session.exec(select(GroupInvite).where(
        GroupInvite.code_digest == digest(code)))
    return result.first()


async def spend(session: AsyncSession, invite: GroupInvite, *, person_id: int, chat_id: int,
                now: datetime) -> bool:
    """Use an invitation once: False if it was used meanwhile or has expired.

    One conditional update, so two groups racing for the same code cannot both win.
    """
    result = await session.exec(
        update(GroupInvite).where(col(GroupInvite.id) == invite.id,
                                  col(GroupInvite.used_at).is_(None),
                                  col(GroupInvite.expires_at) > now)
        .values(used_at=now, used_by=person_id, used_chat_id=chat_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
