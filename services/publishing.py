"""Publishing a policy document to every team below the chosen units (文件规定到班组).

Publishing writes the document version, one post per team below the chosen
units (the text or the original file, then a roll call with "read and
understood"), and one receipt per member — all through the outbox, in the
caller's transaction. The chat's ``/publish`` conversation, the CLI and the
benchmark call the same functions; who may publish where is decided here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.render import Renderer
from domain.documents import DEFAULT_DUE_HOURS
from domain.org import Role, UnitKind, has_role_over, is_within
from services.base import Actor, Outcome, Runtime
from services.buttons import Button
from services.documents import ack_button, document_messages, edit_roll_call, roll_call_html
from storage import documents as doc_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage.models import DocumentPost, GroupChat, PublishedDocument, Unit

# ---------------------------------------------------------------- buttons of /publish


@dataclass(frozen=True)
class PublishChoice(Button, prefix="pubd"):
    """A library document (by its index) or an audience unit (by its id) chosen."""

    action: Literal["lib", "u"]
    item: int


@dataclass(frozen=True)
class PublishStep(Button, prefix="pubd"):
    """Audience done, publish, or cancel."""

    action: Literal["ok", "go", "x"]


# ---------------------------------------------------------------- what is published


class PublishRefused(ValueError):
    """A publication that cannot go ahead; ``code`` names the user's message."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code, self.values = code, values


@dataclass
class DocumentDraft:
    """Everything needed to publish one version (from the library, an upload or the CLI)."""

    doc_key: str
    version: int | None  # None: the next version
    texts: dict[str, dict[str, Any]]  # lang -> {title, summary, html (None: post the file)}
    source: str = "library"
    file_id: str | None = None
    file_name: str | None = None
    change_note: str | None = None
    requires_ack: bool = True
    due_hours: int = 72


@dataclass
class Publication:
    """What publishing did, to tell the publisher."""

    document: PublishedDocument
    new_version: bool
    superseded: list[PublishedDocument] = field(default_factory=list)
    posted: list[Unit] = field(default_factory=list)
    required: int = 0
    without_group: list[Unit] = field(default_factory=list)


def publication_values(publication: Publication) -> dict[str, Any]:
    """What ``publish.done`` says about a publication."""
    document = publication.document
    return {"title": doc_repo.text_in(document, "zh")["title"], "version": document.version,
            "teams": [t.name for t in publication.posted], "people": publication.required,
            "without": [t.name for t in publication.without_group],
            "replaced": [d.version for d in publication.superseded]}


# ---------------------------------------------------------------- who may publish


async def publishable_units(session: AsyncSession, person_id: int, *,
                            is_bot_admin: bool) -> list[Unit]:
    """Units a person may publish to, in tree order: all for admins, else under a manager role."""
    units = await org_repo.all_units(session)
    if is_bot_admin:
        return [u for u in units if u.kind != UnitKind.AUTHORITY]
    grants = await org_repo.grants_of(session, person_id)
    return [u for u in units if u.kind != UnitKind.AUTHORITY
            and has_role_over(grants, u.path, Role.MANAGER)]


# ---------------------------------------------------------------- the action


async def publish_document(rt: Runtime, actor: Actor | None, draft: DocumentDraft,
                           unit_keys: Sequence[str]) -> Outcome:
    """Publish ``draft`` to the units of ``unit_keys``, in one transaction.

    ``actor`` None is the operator at the command line (may publish anywhere).
    Done as ``publish.done`` with the publication's values (plus ``document_id`` and
    ``without_keys``, the teams still without a group);
    refused as ``publish.not_allowed``, ``publish.audience_unknown`` or
    ``publish.refused_<code>`` (see :func:`publish`).
    """
    async with rt.db.transaction() as session:
        allowed: list[str] | None = None
        if actor is not None:
            allowed = [u.key for u in await publishable_units(
                session, actor.person_id, is_bot_admin=actor.is_bot_admin)]
            if not allowed:
                return Outcome.refused("publish.not_allowed")
        audience = [u for key in dict.fromkeys(unit_keys)
                    if (u := await org_repo.get_unit_by_key(session, key)) is not None]
        unknown = [k for k in unit_keys if k not in {u.key for u in audience}
                   or (allowed is not None and k not in allowed)]
        if unknown:
            return Outcome.refused("publish.audience_unknown", keys=", ".join(unknown))
        try:
            publication = await publish(
                session, rt.renderer, draft, audience=audience,
                publisher_id=actor.person_id if actor else None, now=rt.clock.now(),
                default_language=rt.default_language, may_publish_to=allowed)
        except PublishRefused as refused:
            return Outcome.refused(f"publish.refused_{refused.code}", **refused.values)
        values = publication_values(publication)
        values["without_keys"] = [t.key for t in publication.without_group]
        queued = len(publication.posted)
    if queued:
        rt.wake()
    return Outcome.done("publish.done", queued, document_id=publication.document.id,
                        **values)


async def publish(session: AsyncSession, renderer: Renderer, draft: DocumentDraft, *,
                  audience: Sequence[Unit], publisher_id: int | None, now: datetime,
                  default_language: str,
                  may_publish_to: Collection[str] | None = None) -> Publication:
    """Publish a document version to ``audience`` (and everything below it), in the
    caller's transaction.

    The same version again widens its audience (the new teams get it); a newer
    version replaces the older ones everywhere they went — so it goes there too,
    whatever audience was chosen — and their roll calls say so and stop counting.

    Args:
        may_publish_to: The unit keys the publisher may publish to (None: any, as
            for the CLI). A new version must reach the old one's whole audience.

    Raises:
        PublishRefused: ``older`` (a newer version is out), ``no_audience``,
            ``note_needed`` (a new version without a change note),
            ``changed_same_version`` (a published version again with other text),
            ``not_yours`` (the old version went where the publisher may not).
    """
    if not audience:
        raise PublishRefused("no_audience")
    latest = await doc_repo.latest_version(session, draft.doc_key)
    version = draft.version if draft.version is not None else \
        ((latest.version + 1) if latest else 1)
    keys = list(dict.fromkeys((doc_repo.audience_of(latest) if latest else [])
                              + [unit.key for unit in audience]))
    if latest is not None and version < latest.version:
        raise PublishRefused("older", version=version, latest=latest.version)
    refusal = version_refusal(draft, latest, version, may_publish_to)
    if refusal is not None:
        raise refusal
    if latest is not None and version == latest.version:
        latest.audience_json = json.dumps(keys, ensure_ascii=False)
        session.add(latest)
        publication = Publication(latest, new_version=False)
    else:
        if latest is not None and not (draft.change_note or "").strip():
            raise PublishRefused("note_needed", version=version)
        document = PublishedDocument(
            doc_key=draft.doc_key, version=version, source=draft.source,
            texts_json=json.dumps(draft.texts, ensure_ascii=False), file_id=draft.file_id,
            file_name=draft.file_name, change_note=(draft.change_note or "").strip() or None,
            requires_ack=draft.requires_ack, due_hours=draft.due_hours,
            audience_json=json.dumps(keys, ensure_ascii=False), published_by=publisher_id,
            published_at=now)
        session.add(document)
        await session.flush()
        publication = Publication(document, new_version=True)
        publication.superseded = await doc_repo.supersede_older(session, document, now)
        for old in publication.superseded:
            await _mark_replaced(session, renderer, old, document.version, now)
    await deliver(session, renderer, publication, now=now, default_language=default_language)
    return publication


def version_refusal(draft: DocumentDraft, latest: PublishedDocument | None, version: int,
                    may_publish_to: Collection[str] | None) -> PublishRefused | None:
    """Why this version of ``draft`` may not follow ``latest``, if it may not.

    Checked when the document is chosen (to tell the publisher at once) and again
    when publishing (someone may have published in between).
    """
    if latest is None:
        return None
    if version > latest.version and may_publish_to is not None \
            and not set(doc_repo.audience_of(latest)) <= set(may_publish_to):
        # Not theirs to replace: most likely another unit's file of the same name.
        # (The same version again only widens its audience: harmless.)
        return PublishRefused("not_yours", title=doc_repo.text_in(latest, "zh")["title"],
                              version=latest.version)
    if version == latest.version:
        stored = doc_repo.texts_of(latest)
        if any(lang in stored and text.get("html") != stored[lang].get("html")
               for lang, text in draft.texts.items()):
            return PublishRefused("changed_same_version", version=version)
    return None


async def deliver(session: AsyncSession, renderer: Renderer, publication: Publication, *,
                  now: datetime, default_language: str,
                  teams: list[Unit] | None = None,
                  groups: dict[int, GroupChat] | None = None) -> None:
    """Post a document to every team of its audience that has a group and no post yet."""
    document = publication.document
    audience = [unit for key in doc_repo.audience_of(document)
                if (unit := await org_repo.get_unit_by_key(session, key)) is not None]
    teams = teams if teams is not None else await org_repo.units_of_kind(session, UnitKind.TEAM)
    if groups is None:  # one query, not one per team
        groups = {team.id or 0: group for team, group in await org_repo.teams_with_groups(session)}
    posted = {post.unit_id for post in await doc_repo.posts_of(session, document.id or 0)}
    targets: list[tuple[Unit, GroupChat]] = []
    for team in teams:
        if team.id in posted or not any(is_within(team.path, unit.path) for unit in audience):
            continue
        group = groups.get(team.id or 0)
        if group is None:  # never bound, or the bot was removed
            publication.without_group.append(team)
        else:
            targets.append((team, group))
    if targets:
        publication.required += await _post_all(session, renderer, document, targets, now,
                                                default_language)
        publication.posted += [team for team, _ in targets]


async def _post_all(session: AsyncSession, renderer: Renderer, document: PublishedDocument,
                    targets: list[tuple[Unit, GroupChat]], now: datetime,
                    default_language: str) -> int:
    """The teams' posts: the document, a roll call and receipts in each. Returns how many
    must read.

    A statement per kind of row, not per team: an enterprise of two thousand teams is
    published while the publisher waits.
    """
    posts = {}
    for team, group in targets:
        posts[team.id or 0] = DocumentPost(
            document_id=document.id or 0, unit_id=team.id or 0,
            language=org_repo.unit_language(team, group, default_language), posted_at=now,
            due_at=now + timedelta(hours=document.due_hours))
    session.add_all(posts.values())
    await session.flush()
    # All documents first, then all roll calls: ids in that order keep each chat's order.
    await outbox_repo.enqueue_many(session, [
        item for team, group in targets for item in document_messages(
            renderer, document, chat_id=group.chat_id, lang=posts[team.id or 0].language,
            dedupe_key=f"doc:{document.id}:{team.id}")], now=now)
    if not document.requires_ack:
        return 0
    members = await org_repo.active_member_ids(session, [group.id or 0 for _, group in targets])
    required = {team.id or 0: members.get(group.id or 0, []) for team, group in targets}
    await doc_repo.require_many(session, document_id=document.id or 0, required=required,
                                now=now)
    roll_calls = {}
    for team, group in targets:
        post = posts[team.id or 0]
        [(params, _)] = outbox_repo.text_parts(
            html=roll_call_html(renderer, document, post, 0, len(required[team.id or 0])),
            reply_markup=ack_button(renderer, post.language, document.id or 0))
        roll_calls[team.id or 0] = outbox_repo.Outgoing(
            chat_id=group.chat_id, params=params, purpose="document.roll_call",
            dedupe_key=f"doc-roll:{document.id}:{team.id}")
    await outbox_repo.enqueue_many(session, list(roll_calls.values()), now=now)
    ids = await outbox_repo.ids_by_key(session, [m.dedupe_key for m in roll_calls.values()])
    for unit_id, post in posts.items():
        post.roll_call_outbox_id = ids.get(roll_calls[unit_id].dedupe_key)
        post.next_check_at = now  # the sweep sets the first reminder from its settings
    return sum(len(people) for people in required.values())


async def _mark_replaced(session: AsyncSession, renderer: Renderer, old: PublishedDocument,
                         new_version: int, now: datetime) -> None:
    """Edit the old version's roll calls: replaced, no button (clicks are refused anyway)."""
    for post in await doc_repo.posts_of(session, old.id or 0):
        read, unread = await doc_repo.roll_call(session, old.id or 0, post.unit_id)
        await edit_roll_call(session, post, roll_call_html(
            renderer, old, post, len(read), len(read) + len(unread), replaced_by=new_version),
            None, now)


# ---------------------------------------------------------------- the /publish draft


def due_hours(data: dict[str, Any]) -> int:
    """A draft's deadline in hours."""
    # A draft started before deadlines were in hours carries "due_days".
    return int(data.get("due_hours") or 24 * int(data.get("due_days") or 0)
               or DEFAULT_DUE_HOURS)


def draft_document(data: dict[str, Any]) -> DocumentDraft:
    """The document a ``/publish`` conversation's draft data describes."""
    return DocumentDraft(doc_key=data["doc_key"], version=data["version"], texts=data["texts"],
                         source=data["source"], file_id=data.get("file_id"),
                         file_name=data.get("file_name"), change_note=data.get("note"),
                         requires_ack=bool(data.get("requires_ack", True)),
                         due_hours=due_hours(data))


async def draft_audience(session: AsyncSession, data: dict[str, Any]) -> list[Unit]:
    """The chosen units, and those an earlier version went to (the new one replaces it)."""
    chosen = [u for unit_id in data.get("units", [])
              if (u := await org_repo.get_unit(session, unit_id)) is not None]
    if not chosen:
        return []
    carried = [u for key in data.get("carried", [])
               if (u := await org_repo.get_unit_by_key(session, key)) is not None]
    return list({u.id: u for u in [*carried, *chosen]}.values())


async def audience_reach(session: AsyncSession,
                         audience: Sequence[Unit]) -> tuple[list[str], list[str], int]:
    """For the preview: teams with a group, teams without one, and how many must read."""
    teams = [t for t in await org_repo.units_of_kind(session, UnitKind.TEAM)
             if any(is_within(t.path, u.path) for u in audience)]
    with_group, without, people = [], [], 0
    for team in teams:
        group = await org_repo.chat_of_unit(session, team.id or 0)
        if group is None or not group.active:
            without.append(team.name)
        else:
            with_group.append(team.name)
            people += len(await org_repo.active_members(session, group.id or 0))
    return with_group, without, people


async def publish_draft(session: AsyncSession, rt: Runtime, data: dict[str, Any], *,
                        person_id: int, is_bot_admin: bool) -> Outcome | None:
    """Publish what a ``/publish`` draft chose, in the caller's transaction.

    None when the publisher's roles changed since the preview (the draft stays).
    """
    audience = await draft_audience(session, data)
    allowed = await publishable_units(session, person_id, is_bot_admin=is_bot_admin)
    if not audience or any(u.id not in {a.id for a in allowed} for u in audience):
        return None
    try:
        publication = await publish(session, rt.renderer, draft_document(data),
                                    audience=audience, publisher_id=person_id,
                                    now=rt.clock.now(), default_language=rt.default_language,
                                    may_publish_to=[u.key for u in allowed])
    except PublishRefused as refused:
        return Outcome.refused(f"publish.refused_{refused.code}", **refused.values)
    return Outcome.done("publish.done", len(publication.posted),
                        **publication_values(publication))
