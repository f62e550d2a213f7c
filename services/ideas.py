"""Suggestions (金点子): proposing an idea, its review, the proposer's points.

``/idea`` (anyone in a team, in its group or privately) asks for the idea by
reply, then an optional photo. It then waits at the proposer's team: its group
and its leaders (privately, when they pressed Start) get it with the buttons
"adopt +1 / +3 / +5 points", "decline" (asks for the reason) and "pass up".
Passing up hands it to the unit above, whose safety officers and managers review
it the same way. Only those may decide (domain.idea.may_review), never on their
own idea; a worker pressing is refused. Every decision happens once (two
reviewers pressing at once: one wins, the other is told who decided). The
proposer hears the outcome, privately or by a mention in the team group.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.idea import MAX_IDEA, MAX_REASON, POINT_CHOICES, IdeaState, may_review, reviewer_role
from domain.incident import InputError, check_text
from domain.org import Role, role_rank
from services.base import Actor, Runtime
from services.buttons import Button, keyboard
from services.finished import remove_buttons
from services.people import home_team
from services.prompts import Prompt, Reply
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import ideas as idea_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.ideas import IdeaTotals
from storage.models import ConversationDraft, Idea, Person, Unit

log = logging.getLogger(__name__)

PREFIX = "idea"
LISTED = 20


@dataclass(frozen=True)
class IdeaDraftButton(Button, prefix="idd"):
    """The conversation's buttons: ``skip`` (no photo), ``x`` (cancel)."""

    action: Literal["skip", "x"]


@dataclass(frozen=True)
class IdeaButton(Button, prefix="ida"):
    """The review's buttons: adopt with points, decline (asks why), pass up."""

    action: Literal["adopt", "decline", "up"]
    idea_id: int
    points: int = 0


def review_keyboard(rt: Runtime, lang: str, idea_id: int, *, can_pass_up: bool) -> dict[str, Any]:
    """Adopt (one button per point value), decline, and pass up where there is a level above."""
    plain = rt.renderer.plain
    rows: list[list[tuple[str, Button | str]]] = [
        [(plain("button.idea_adopt", lang, points=points), IdeaButton("adopt", idea_id, points))
         for points in POINT_CHOICES],
        [(plain("button.idea_decline", lang), IdeaButton("decline", idea_id))]]
    if can_pass_up:
        rows[1].append((plain("button.idea_up", lang), IdeaButton("up", idea_id)))
    return keyboard(rows)


def is_idea(draft: ConversationDraft) -> bool:
    """Whether a draft belongs to this feature."""
    return draft.step.startswith(f"{PREFIX}:")


# ------------------------------------------------------------------ proposing


async def start(rt: Runtime, actor: Actor, chat_id: int, *, team: Unit | None,
                text: str | None, lang: str) -> Reply:
    """Open an idea in this chat (for the group's team, or in private the proposer's team);
    ``/idea text`` gives the idea at once and asks only for the photo."""
    async with rt.db.transaction() as session:
        if team is None:
            team = await home_team(session, actor.person_id)
        if team is None:
            return Reply.refuse("idea.no_team")
        data: dict[str, Any] = {"unit_id": team.id}
        step, reply = "text", Reply.say("idea.ask_text", force_reply=True, unit=team.name)
        if text and text.strip():
            try:
                data["text"] = check_text(text, MAX_IDEA)
            except InputError as error:
                return _bad_text(error)
            step, reply = "photo", _ask_photo(rt, lang)
        await drafts_repo.start_draft(session, chat_id, actor.person_id, step=f"{PREFIX}:{step}",
                                      data=data, now=rt.clock.now())
    return reply



def _bad_text(error: InputError) -> Reply:
    """The refusal of a typed answer, asking again."""
    return Reply([Prompt("idea.bad_text", {"code": error.code, **error.params},
                         force_reply=True)])


def _ask_photo(rt: Runtime, lang: str) -> Reply:
    skip = keyboard([[(rt.renderer.plain("button.idea_no_photo", lang),
                       IdeaDraftButton("skip"))]])
    return Reply([Prompt("idea.ask_photo", force_reply=True),
                  Prompt("idea.skip_photo", keyboard=skip)])


async def record_answer(session: AsyncSession, rt: Runtime, actor: Actor,
                        draft: ConversationDraft, *, text: str | None,
                        photo: tuple[str, str] | None, lang: str) -> Reply:
    """One answer, inside the caller's transaction: the idea's text, its photo, or a
    decline's reason."""
    step = draft.step.split(":", 1)[1]
    data = drafts_repo.draft_data(draft)
    now = rt.clock.now()
    try:
        if step == "text":
            data["text"] = check_text(text, MAX_IDEA)
            drafts_repo.save_draft(session, draft, step=f"{PREFIX}:photo", data=data, now=now)
            return _ask_photo(rt, lang)
        if step == "photo":
            if photo is None:
                return Reply.say("idea.ask_photo_again", force_reply=True)
            data["photo"] = list(photo)
            await drafts_repo.drop_draft(session, draft)
            return await _submit(session, rt, actor, draft.chat_id, data)
        if step == "reason":
            reason = check_text(text, MAX_REASON)
            await drafts_repo.drop_draft(session, draft)
            return await _decline(session, rt, actor, int(data["idea_id"]), reason)
    except InputError as error:
        return _bad_text(error)
    return Reply()


async def press(rt: Runtime, actor: Actor, chat_id: int, button: IdeaDraftButton) -> Reply:
    """Skip the photo (and submit), or cancel: only the owner's draft, at its step."""
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        if draft is None or not is_idea(draft):
            return Reply.refuse("idea.no_draft")
        if button.action == "x":
            await drafts_repo.drop_draft(session, draft)
            return Reply.say("idea.cancelled")
        if draft.step != f"{PREFIX}:photo":
            return Reply.refuse("callback.stale")
        data = drafts_repo.draft_data(draft)
        await drafts_repo.drop_draft(session, draft)
        reply = await _submit(session, rt, actor, chat_id, data)
    if reply.queued:
        rt.wake()
    return reply


async def _submit(session: AsyncSession, rt: Runtime, actor: Actor, chat_id: int,
                  data: dict[str, Any]) -> Reply:
    team = await org_repo.get_unit(session, int(data["unit_id"]))
    if team is None:
        return Reply.refuse("idea.no_team")
    photo = data.get("photo") or [None, None]
    idea = await idea_repo.create(session, unit_id=team.id or 0, proposer_id=actor.person_id,
                                  chat_id=chat_id, text=data["text"], photo_file_id=photo[0],
                                  photo_unique_id=photo[1], submitted_at=rt.clock.now())
    queued = await _ask_review(session, rt, idea, team, actor.name)
    return Reply.say("idea.submitted", queued=queued, number=idea.id, unit=team.name)


async def _ask_review(session: AsyncSession, rt: Runtime, idea: Idea, level: Unit,
                      proposer: str, passed_by: str | None = None) -> int:
    """The idea with its review buttons, to the level's group and its reviewers privately."""
    now = rt.clock.now()
    team = await org_repo.get_unit(session, idea.unit_id)
    roles = [r for r in Role if role_rank(r) >= role_rank(reviewer_role(level.kind))
             and r is not Role.ADMIN]
    holders = [p for p, _ in await org_repo.role_holders(session, [level.id or 0], roles)
               if p.id != idea.proposer_id]
    chats, unreachable = org_repo.reachable(
        holders, level, await org_repo.chat_of_unit(session, level.id or 0), rt.default_language)
    if not chats:
        log.warning("idea %s waits at %s, where nobody can be told (%s)", idea.id, level.key,
                    "; ".join(unreachable) or "no reviewers, no group")
    queued = 0
    for chat_id, (lang, person_id) in chats.items():
        html = rt.renderer.html("idea.review", lang, number=idea.id, unit=team.name if team
                                else "", level=level.name, proposer=proposer, text=idea.text,
                                at=idea.submitted_at, passed_by=passed_by,
                                tz=(team.timezone if team else None) or rt.default_timezone)
        if idea.photo_file_id:
            queued += await outbox_repo.enqueue(
                session, chat_id=chat_id, method="sendPhoto", now=now, person_id=person_id,
                params={"photo": idea.photo_file_id, "caption": f"💡 #{idea.id}"},
                purpose="idea.photo",
                dedupe_key=f"idea-photo:{idea.id}:{level.id}:{chat_id}") is not None
        queued += len(await outbox_repo.enqueue_text(
            session, chat_id=chat_id, html=html, now=now, purpose="idea.review",
            person_id=person_id, dedupe_key=f"idea-review:{idea.id}:{level.id}:{chat_id}",
            reply_markup=review_keyboard(rt, lang, idea.id or 0,
                                         can_pass_up=level.parent_id is not None)))
    return queued


# ------------------------------------------------------------------ reviewing


async def review(rt: Runtime, actor: Actor, chat_id: int, button: IdeaButton) -> Reply:
    """A review button: adopt (with the button's points), decline (asks the reason here),
    or pass up. Refused for anyone who may not review at the idea's level, for the
    proposer, and once it was decided."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        found = await _reviewable(session, rt, actor, button.idea_id)
        if isinstance(found, Reply):
            return found
        idea, level = found
        if button.action == "adopt":
            if button.points not in POINT_CHOICES:
                return Reply.refuse("callback.stale")
            if not await idea_repo.adopt(session, idea, person_id=actor.person_id,
                                         points=button.points, now=now):
                return await _already(session, rt, button.idea_id)
            queued = await _decided(session, rt, idea, actor, "idea.adopted_proposer",
                                    points=button.points)
            reply = Reply.say("idea.adopted", queued=queued, number=idea.id,
                              points=button.points)
        elif button.action == "decline":
            await drafts_repo.start_draft(session, chat_id, actor.person_id,
                                          step=f"{PREFIX}:reason", data={"idea_id": idea.id},
                                          now=now)
            reply = Reply.say("idea.ask_reason", force_reply=True, number=idea.id)
        else:
            above = await org_repo.get_unit(session, level.parent_id) if level.parent_id \
                else None
            if above is None:
                return Reply.refuse("idea.top")
            if not await idea_repo.pass_up(session, idea, to_unit_id=above.id or 0,
                                           person_id=actor.person_id, now=now):
                return await _already(session, rt, button.idea_id)
            await session.refresh(idea)
            queued = await _take_buttons_off(session, rt, idea)
            proposer = await _person(session, idea.proposer_id)
            queued += await _ask_review(session, rt, idea, above,
                                        proposer.name if proposer else "", actor.name)
            queued += await _tell_proposer(session, rt, idea, "idea.passed_up_proposer",
                                           who=actor.name, level=above.name)
            reply = Reply.say("idea.passed_up", queued=queued, number=idea.id, level=above.name)
    if reply.queued:
        rt.wake()
    return reply


async def _reviewable(session: AsyncSession, rt: Runtime, actor: Actor,
                      idea_id: int) -> tuple[Idea, Unit] | Reply:
    idea = await idea_repo.get(session, idea_id)
    level = await org_repo.get_unit(session, idea.reviewing_unit_id) if idea else None
    if idea is None or level is None:
        return Reply.refuse("callback.stale")
    if idea.state != IdeaState.SUBMITTED:
        return await _already(session, rt, idea_id)
    grants = await org_repo.grants_of(session, actor.person_id)
    if not may_review(grants, level.path, level.kind, is_bot_admin=actor.is_bot_admin):
        return Reply.refuse("idea.reviewers_only", level=level.name)
    if idea.proposer_id == actor.person_id:
        return Reply.refuse("idea.own")
    return idea, level


async def _already(session: AsyncSession, rt: Runtime, idea_id: int) -> Reply:
    """A press after someone else decided (or passed it up): who did what, when."""
    idea = await idea_repo.get(session, idea_id)
    if idea is None:
        return Reply.refuse("callback.stale")
    await session.refresh(idea)
    if idea.state == IdeaState.SUBMITTED:  # passed up meanwhile
        level = await org_repo.get_unit(session, idea.reviewing_unit_id)
        return Reply.refuse("idea.moved", number=idea.id, level=level.name if level else "")
    who = await _person(session, idea.decided_by or 0)
    return Reply.refuse("idea.already_decided", number=idea.id, state=idea.state.value,
                        who=who.name if who else "", at=idea.decided_at,
                        tz=rt.default_timezone)


async def _decline(session: AsyncSession, rt: Runtime, actor: Actor, idea_id: int,
                   reason: str) -> Reply:
    """Decline with the reason typed, inside the caller's transaction (rights checked again)."""
    found = await _reviewable(session, rt, actor, idea_id)
    if isinstance(found, Reply):
        return found
    idea, _ = found
    if not await idea_repo.decline(session, idea, person_id=actor.person_id, reason=reason,
                                   now=rt.clock.now()):
        return await _already(session, rt, idea_id)
    queued = await _decided(session, rt, idea, actor, "idea.declined_proposer", reason=reason)
    return Reply.say("idea.declined", queued=queued, number=idea.id)


async def _decided(session: AsyncSession, rt: Runtime, idea: Idea, actor: Actor, key: str,
                   **values: Any) -> int:
    """After a decision: the review buttons come off, the proposer hears."""
    await session.refresh(idea)
    queued = await _take_buttons_off(session, rt, idea)
    total = await idea_repo.points_of(session, idea.proposer_id) + \
        await hazard_repo.points_of(session, idea.proposer_id)
    return queued + await _tell_proposer(session, rt, idea, key, who=actor.name, total=total,
                                         **values)


async def _take_buttons_off(session: AsyncSession, rt: Runtime, idea: Idea) -> int:
    keys = await idea_repo.message_keys(session, idea.id or 0)
    return int(await remove_buttons(session, keys, now=rt.clock.now(), purpose="idea.buttons_off"))


async def _tell_proposer(session: AsyncSession, rt: Runtime, idea: Idea, key: str,
                         **values: Any) -> int:
    """The proposer privately when they pressed Start, else a mention in the team group."""
    proposer = await _person(session, idea.proposer_id)
    if proposer is None:
        return 0
    now = rt.clock.now()
    dedupe = f"idea-outcome:{idea.id}:{key}:{idea.reviewing_unit_id}"
    if proposer.started and not proposer.blocked:
        lang = proposer.language or rt.default_language
        html = rt.renderer.html(key, lang, number=idea.id, text=idea.text, **values)
        return len(await outbox_repo.enqueue_text(session, chat_id=proposer.telegram_id,
                                                  html=html, now=now, purpose="idea.outcome",
                                                  person_id=proposer.id, dedupe_key=dedupe))
    team = await org_repo.get_unit(session, idea.unit_id)
    group = await org_repo.chat_of_unit(session, idea.unit_id)
    if team is None or group is None or not group.active:
        log.warning("idea %s: the proposer cannot be told (no Start, no team group)", idea.id)
        return 0
    lang = org_repo.unit_language(team, group, rt.default_language)
    html = rt.renderer.html("idea.mention", lang, person_id=proposer.telegram_id,
                            person=proposer.name) + " " + \
        rt.renderer.html(key, lang, number=idea.id, text=idea.text, **values)
    return len(await outbox_repo.enqueue_text(session, chat_id=group.chat_id, html=html, now=now,
                                              purpose="idea.outcome", dedupe_key=dedupe))


async def _person(session: AsyncSession, person_id: int) -> Person | None:
    found = await people_repo.people_by_ids(session, [person_id])
    return found[0] if found else None


# ------------------------------------------------------------------ listing


@dataclass(frozen=True)
class IdeaList:
    """A unit's (or a person's) ideas for ``/ideas``: the units, counts by state, the latest."""

    title: str
    counts: dict[str, int]
    ideas: list[dict[str, Any]]


async def listing(rt: Runtime, actor: Actor, *, unit: Unit | None, lang: str) -> IdeaList:
    """``/ideas``: in a group, its unit and everything below; privately, the units one
    leads (team leader and above), else one's own ideas."""
    async with rt.db.session() as session:
        roots: list[Unit]
        if unit is not None:
            roots = [unit]
        else:
            roots = [u for g, u in await org_repo.role_rows_of(session, actor.person_id)
                     if role_rank(g.role) >= role_rank(Role.TEAM_LEADER)]
        if roots:
            unit_ids = sorted({u.id or 0 for root in roots
                               for u in await org_repo.subtree(session, root)})
            ideas = await idea_repo.in_units(session, unit_ids, LISTED)
            counts = await idea_repo.state_counts(session, unit_ids)
            title = " / ".join(r.name for r in roots)
        else:
            ideas = await idea_repo.of_proposer(session, actor.person_id, LISTED)
            counts = {}
            for idea in ideas:
                counts[idea.state.value] = counts.get(idea.state.value, 0) + 1
            title = actor.name
        units = {u.id: u for u in await org_repo.all_units(session)} if ideas else {}
        people = {p.id: p.name for p in await people_repo.people_by_ids(
            session, {i.proposer_id for i in ideas})}
    return IdeaList(title, counts, [_line(rt, lang, idea, units, people) for idea in ideas])


def _line(rt: Runtime, lang: str, idea: Idea, units: dict[int | None, Unit],
          people: dict[int | None, str]) -> dict[str, Any]:
    text = idea.text if len(idea.text) <= 40 else idea.text[:39] + "…"
    waiting = units.get(idea.reviewing_unit_id)
    team = units.get(idea.unit_id)
    return {"number": idea.id, "state": rt.renderer.plain(f"idea_state.{idea.state}", lang),
            "submitted": idea.state == IdeaState.SUBMITTED, "points": idea.points,
            "level": waiting.name if waiting else "", "team": team.name if team else "",
            "proposer": people.get(idea.proposer_id, ""), "text": text,
            "at": idea.submitted_at,
            "tz": (team.timezone if team else None) or rt.default_timezone}


# ------------------------------------------------------------------ figures


async def figures(rt: Runtime, unit_ids: Sequence[int], since: datetime,
                  until: datetime) -> IdeaTotals:
    """Ideas of these units submitted and adopted in [since, until), with the points
    given (for the monthly report; one aggregate query)."""
    async with rt.db.session() as session:
        return await idea_repo.totals(session, unit_ids, since, until)
