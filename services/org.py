"""The organisation as a whole: importing and exporting the org file.

The other organisation actions have their own modules: binding groups and
invitation codes (services/binding.py), roles (services/roles.py), languages
(services/people.py) and group membership (services/membership.py).
"""

from __future__ import annotations

from domain.orgfile import OrgSpec
from services import cards
from services.base import Runtime
from services.orgfile import dump_org, parse_org
from storage.orgsync import ImportReport, export_org, import_org

__all__ = ["ImportReport", "export_file", "import_file", "import_spec"]


async def import_file(rt: Runtime, text: str, filename: str) -> ImportReport:
    """Create or update units, bindings, people, admins and roles from an org file.

    Raises:
        domain.orgfile.OrgFileError: the file is not a valid org file (nothing written).
    """
    return await import_spec(rt, parse_org(text, filename))


async def import_spec(rt: Runtime, spec: OrgSpec) -> ImportReport:
    """Like :func:`import_file`, for a file already read (the CLI reads it to check it)."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        report = await import_org(session, spec, now=now)
        # 转岗 from the file: people already in a team group get the new post's cards
        # (the running bot sends them from the outbox); the others when they join.
        for person_id in report.new_posts:
            await cards.brief_on_new_post(session, rt, person_id, now)
    if report.new_posts:
        rt.wake()
    return report


async def export_file(rt: Runtime) -> str:
    """The organisation in the database as an org file (it imports back unchanged)."""
    async with rt.db.session() as session:
        spec = await export_org(session, timezone=rt.default_timezone,
                                language=rt.default_language)
    return dump_org(spec)
