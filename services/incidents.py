"""Accident quick reports (事故快报): the report, follow-ups, the final report.

``/incident`` asks, by reply (so it works in a group with privacy mode on, or in a
private chat): what happened, where, when (default now), how many people are
hurt and how badly, the immediate action taken, and a photo if there is one. An
absurd answer (a negative count, over :data:`domain.incident.MAX_CASUALTIES`, not
a number, a time in the future) is refused with the reason and the question is
asked again; nothing is stored or sent until the reporter presses "report now".

On submit the report goes at once — no delay level — to the team group and to the
managers and safety officers of every level above the team (workshop, enterprise,
and the authority where the org file puts one above the enterprise): privately
to those who pressed Start, in the level's group where it has one, and those who
cannot be written to are mentioned in a group (the level's, else the team's).

The team's leaders and anyone above them follow up (casualty count changed,
situation under control, a free-text line) and write the final report (cause,
measures, lessons), which closes the incident. Every step is an event with who
and when, announced to the same people (``services/incident_notices.py``: who hears,
what each step says, the ledger rows). The conversation is a ``conversation_draft``
row (steps ``inc:…``), so a restart loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.incident import (
    MAX_PLACE,
    IncidentEventKind,
    IncidentState,
    Injury,
    InputError,
    check_text,
    injury_for,
    may_follow_up,
    parse_casualties,
    parse_when,
)
from services.base import Actor, Runtime
from services.buttons import Button, keyboard
from services.finished import remove_buttons
from services.incident_notices import (
    IncidentButton,
    announce,
    audience_of,
    names_of,
    zone_of,
)
from services.people import home_team
from services.prompts import Prompt, Reply
from storage import drafts as drafts_repo
from storage import incidents as incident_repo
from storage import org as org_repo
from storage.incidents import IncidentTotals
from storage.models import ConversationDraft, Incident, Unit

PREFIX = "inc"
Degree = Literal["minor", "serious", "fatal"]
HURT_DEGREES: tuple[Degree, ...] = ("minor", "serious", "fatal")  # Injury values, worst last
# Steps answered by typing (a refusal asks the same question again by reply).
TYPED = {"what": "incident.ask_what", "where": "incident.ask_where",
         "when": "incident.ask_when", "hurt": "incident.ask_hurt",
         "action": "incident.ask_action", "fhurt": "incident.ask_new_hurt",
         "fnote": "incident.ask_note", "cause": "incident.ask_cause",
         "measures": "incident.ask_measures", "lessons": "incident.ask_lessons"}


@dataclass(frozen=True)
class IncidentDraftButton(Button, prefix="icd"):
    """Buttons of the conversation: ``now`` (it happened just now), ``inj`` (how badly),
    ``skip`` (no photo), ``ok`` (report now), ``x`` (cancel)."""

    action: Literal["now", "inj", "skip", "ok", "x"]
    arg: Literal["", "minor", "serious", "fatal"] = ""


@dataclass(frozen=True)
class Answer:
    """What one message says to the conversation (read by the edge)."""

    text: str | None = None
    photo: tuple[str, str] | None = None  # file_id, file_unique_id
    too_big: bool = False
    latitude: float | None = None
    longitude: float | None = None


# ------------------------------------------------------------------ starting


async def start(rt: Runtime, actor: Actor, chat_id: int, *, team: Unit | None) -> Reply:
    """Open the report in this chat: for the group's team, or in private for the
    reporter's team (the team group they are in, else a team they hold a role on)."""
    async with rt.db.transaction() as session:
        if team is None:
            team = await home_team(session, actor.person_id)
        if team is None:
            return Reply.refuse("incident.no_team")
        await drafts_repo.start_draft(session, chat_id, actor.person_id, step=f"{PREFIX}:what",
                                      data={"unit_id": team.id}, now=rt.clock.now())
    return Reply.say("incident.ask_what", force_reply=True, unit=team.name)



def is_incident(draft: ConversationDraft) -> bool:
    """Whether a draft belongs to this feature."""
    return draft.step.startswith(f"{PREFIX}:")


# ------------------------------------------------------------------ typed answers


async def record_answer(session: AsyncSession, rt: Runtime, actor: Actor,
                        draft: ConversationDraft, answer: Answer, lang: str) -> Reply:
    """One typed answer (or photo) to the conversation, inside the caller's transaction.

    A refused answer changes nothing and asks again.
    """
    step = draft.step.split(":", 1)[1]
    data = drafts_repo.draft_data(draft)
    now = rt.clock.now()
    try:
        return await _answer(session, rt, actor, draft, step, data, answer, lang, now)
    except InputError as error:
        key = {"hurt": "incident.bad_count", "fhurt": "incident.bad_count",
               "when": "incident.bad_when"}.get(step, "incident.bad_text")
        return Reply([Prompt(key, {"code": error.code, **error.params}, force_reply=True)])


async def _answer(session: AsyncSession, rt: Runtime, actor: Actor, draft: ConversationDraft,
                  step: str, data: dict[str, Any], answer: Answer, lang: str,
                  now: datetime) -> Reply:
    def advance(next_step: str, reply: Reply) -> Reply:
        drafts_repo.save_draft(session, draft, step=f"{PREFIX}:{next_step}", data=data,
                               now=now)
        return reply

    if step == "what":
        data["what"] = check_text(answer.text)
        return advance("where", Reply.say("incident.ask_where", force_reply=True))
    if step == "where":
        if answer.latitude is not None and answer.longitude is not None:
            data["place"] = f"{answer.latitude:.5f}, {answer.longitude:.5f}"
        else:
            data["place"] = check_text(answer.text, MAX_PLACE)
        return advance("when", _ask_when(rt, lang))
    if step == "when":
        team = await org_repo.get_unit(session, int(data["unit_id"]))
        data["occurred_at"] = parse_when(answer.text, now, zone_of(rt, team)).isoformat()
        return advance("hurt", Reply.say("incident.ask_hurt", force_reply=True))
    if step == "hurt":
        data["injured"] = parse_casualties(answer.text)
        if data["injured"] == 0:
            data["injury"] = Injury.NONE.value
            return advance("action", Reply.say("incident.ask_action", force_reply=True))
        return advance("injury", _ask_injury(rt, lang, data["injured"]))
    if step == "action":
        data["action"] = check_text(answer.text)
        return advance("photo", _ask_photo(rt, lang))
    if step == "photo":
        if answer.photo is None:
            return Reply([Prompt("incident.too_big" if answer.too_big
                                 else "incident.ask_photo_again", force_reply=True)])
        data["photo"] = list(answer.photo)
        return advance("confirm", await _confirm(session, rt, lang, data))
    if step == "fhurt":
        injured = parse_casualties(answer.text)
        if injured == 0:
            await drafts_repo.drop_draft(session, draft)
            return await _follow_up(session, rt, actor, int(data["incident_id"]),
                                    IncidentEventKind.CASUALTIES, injured=0,
                                    injury=Injury.NONE)
        data["injured"] = injured
        return advance("finjury", _ask_injury(rt, lang, injured))
    if step == "fnote":
        text = check_text(answer.text)
        await drafts_repo.drop_draft(session, draft)
        return await _follow_up(session, rt, actor, int(data["incident_id"]),
                                IncidentEventKind.NOTE, text=text)
    if step in ("cause", "measures"):
        data[step] = check_text(answer.text)
        following = "measures" if step == "cause" else "lessons"
        return advance(following, Reply.say(TYPED[following], force_reply=True))
    if step == "lessons":
        data["lessons"] = check_text(answer.text)
        await drafts_repo.drop_draft(session, draft)
        return await _close(session, rt, actor, data)
    # A step answered with buttons (how badly, confirm): show them again.
    if step in ("injury", "finjury"):
        return _ask_injury(rt, lang, int(data.get("injured", 1)))
    if step == "confirm":
        return await _confirm(session, rt, lang, data)
    return Reply()


def _ask_when(rt: Runtime, lang: str) -> Reply:
    now = keyboard([[(rt.renderer.plain("button.incident_now", lang),
                      IncidentDraftButton("now"))]])
    return Reply([Prompt("incident.ask_when", force_reply=True),
                  Prompt("incident.when_now", keyboard=now)])


def _ask_injury(rt: Runtime, lang: str, injured: int) -> Reply:
    row: list[tuple[str, Button | str]] = [
        (rt.renderer.plain(f"injury.{degree}", lang), IncidentDraftButton("inj", degree))
        for degree in HURT_DEGREES]
    return Reply.say("incident.ask_injury", keyboard=keyboard([row]), injured=injured)


def _ask_photo(rt: Runtime, lang: str) -> Reply:
    skip = keyboard([[(rt.renderer.plain("button.skip", lang), IncidentDraftButton("skip"))]])
    return Reply([Prompt("incident.ask_photo", force_reply=True),
                  Prompt("incident.skip_photo", keyboard=skip)])


async def _confirm(session: AsyncSession, rt: Runtime, lang: str, data: dict[str, Any]) -> Reply:
    team = await org_repo.get_unit(session, int(data["unit_id"]))
    buttons = keyboard([[(rt.renderer.plain("button.incident_submit", lang),
                          IncidentDraftButton("ok")),
                         (rt.renderer.plain("button.cancel", lang), IncidentDraftButton("x"))]])
    return Reply.say("incident.confirm", keyboard=buttons,
                     unit=team.name if team else "", what=data["what"], place=data["place"],
                     at=datetime.fromisoformat(data["occurred_at"]), tz=zone_of(rt, team),
                     injured=data["injured"],
                     injury=rt.renderer.plain(f"injury.{data['injury']}", lang),
                     action=data["action"], photo=bool(data.get("photo")))


# ------------------------------------------------------------------ the conversation's buttons


async def press(rt: Runtime, actor: Actor, chat_id: int, button: IncidentDraftButton,
                lang: str) -> Reply:
    """A button of the conversation: only its owner's, only at its step."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        draft = await drafts_repo.get_draft(session, chat_id, actor.person_id)
        if draft is None or not is_incident(draft):
            return Reply.refuse("incident.no_draft")
        step = draft.step.split(":", 1)[1]
        data = drafts_repo.draft_data(draft)
        expected = {"now": ("when",), "inj": ("injury", "finjury"), "skip": ("photo",),
                    "ok": ("confirm",), "x": (step,)}[button.action]
        if step not in expected or (button.action == "inj" and not button.arg):
            return Reply.refuse("callback.stale")

        def advance(next_step: str, reply: Reply) -> Reply:
            drafts_repo.save_draft(session, draft, step=f"{PREFIX}:{next_step}", data=data,
                                   now=now)
            return reply

        if button.action == "x":
            await drafts_repo.drop_draft(session, draft)
            reply = Reply.say("incident.cancelled")
        elif button.action == "now":
            data["occurred_at"] = now.isoformat()
            reply = advance("hurt", Reply.say("incident.ask_hurt", force_reply=True))
        elif button.action == "inj" and step == "injury":
            data["injury"] = Injury(button.arg).value
            reply = advance("action", Reply.say("incident.ask_action", force_reply=True))
        elif button.action == "inj":
            await drafts_repo.drop_draft(session, draft)
            reply = await _follow_up(session, rt, actor, int(data["incident_id"]),
                                     IncidentEventKind.CASUALTIES,
                                     injured=int(data["injured"]), injury=Injury(button.arg))
        elif button.action == "skip":
            data["photo"] = None
            reply = advance("confirm", await _confirm(session, rt, lang, data))
        else:
            await drafts_repo.drop_draft(session, draft)
            reply = await _submit(session, rt, actor, draft.chat_id, data)
    if reply.queued:
        rt.wake()
    return reply


async def _submit(session: AsyncSession, rt: Runtime, actor: Actor, chat_id: int,
                  data: dict[str, Any]) -> Reply:
    """Register the incident and announce it to every level at once."""
    now = rt.clock.now()
    team = await org_repo.get_unit(session, int(data["unit_id"]))
    if team is None:
        return Reply.refuse("incident.no_team")
    injured = int(data["injured"])
    injury = injury_for(injured, Injury(data["injury"]))
    if injury is None:  # a draft from before a rule change: never store a mismatch
        return Reply.refuse("callback.stale")
    day = now.astimezone(ZoneInfo(zone_of(rt, team))).strftime("%Y%m%d")
    photo = data.get("photo") or [None, None]
    incident = await incident_repo.create(
        session, day=day, unit_id=team.id or 0, reporter_id=actor.person_id, chat_id=chat_id,
        what=data["what"], place=data["place"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]), injured=injured,
        injury=injury, action_taken=data["action"], photo_file_id=photo[0],
        photo_unique_id=photo[1], reported_at=now)
    event = await incident_repo.add_event(session, incident, kind=IncidentEventKind.REPORTED,
                                          actor_id=actor.person_id, at=now, injured=injured,
                                          injury=injury)
    audience = await audience_of(session, rt, team)
    queued = await announce(session, rt, incident, team, event, actor.name, audience)
    return Reply.say("incident.sent", queued=queued, code=incident.code,
                     levels=audience.levels)


# ------------------------------------------------------------------ follow-ups


async def press_follow_up(rt: Runtime, actor: Actor, chat_id: int, button: IncidentButton,
                          lang: str) -> Reply:
    """A follow-up button: the team's leaders and anyone above them, while it is open.

    "Under control" is recorded at once (once); the others ask by reply here.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        found = await _open_incident(session, rt, actor, button.incident_id)
        if isinstance(found, Reply):
            return found
        incident, team = found
        if button.action == "ctrl":
            if not await incident_repo.mark_controlled(session, incident,
                                                       person_id=actor.person_id, now=now):
                return await _already_controlled(session, rt, incident, team)
            await session.refresh(incident)
            reply = await _record(session, rt, actor, incident, team,
                                  IncidentEventKind.CONTROLLED)
            reply.prompts = [Prompt("incident.followed_up", {"code": incident.code})]
            reply.toast = True
        else:
            step = {"hurt": "fhurt", "note": "fnote", "close": "cause"}[button.action]
            await drafts_repo.start_draft(session, chat_id, actor.person_id,
                                          step=f"{PREFIX}:{step}",
                                          data={"incident_id": incident.id}, now=now)
            reply = Reply.say(TYPED[step], force_reply=True, code=incident.code,
                              injured=incident.injured,
                              injury=rt.renderer.plain(f"injury.{incident.injury}", lang))
    if reply.queued:
        rt.wake()
    return reply


async def _open_incident(session: AsyncSession, rt: Runtime, actor: Actor,
                         incident_id: int) -> tuple[Incident, Unit] | Reply:
    """The incident and its team, or the refusal: unknown, closed, or not a leader."""
    incident = await incident_repo.get(session, incident_id)
    team = await org_repo.get_unit(session, incident.unit_id) if incident else None
    if incident is None or team is None:
        return Reply.refuse("callback.stale")
    if incident.state == IncidentState.CLOSED:
        closer = await names_of(session, [incident.closed_by or 0])
        return Reply.refuse("incident.closed_already", code=incident.code,
                            who=closer.get(incident.closed_by or 0, ""),
                            at=incident.closed_at, tz=zone_of(rt, team))
    grants = await org_repo.grants_of(session, actor.person_id)
    if not may_follow_up(grants, team.path, is_bot_admin=actor.is_bot_admin):
        return Reply.refuse("incident.leaders_only")
    return incident, team


async def _already_controlled(session: AsyncSession, rt: Runtime, incident: Incident,
                              team: Unit) -> Reply:
    await session.refresh(incident)
    who = await names_of(session, [incident.controlled_by or 0])
    return Reply.refuse("incident.already_controlled", code=incident.code,
                        who=who.get(incident.controlled_by or 0, ""),
                        at=incident.controlled_at, tz=zone_of(rt, team))


async def _follow_up(session: AsyncSession, rt: Runtime, actor: Actor, incident_id: int,
                     kind: IncidentEventKind, *, injured: int | None = None,
                     injury: Injury | None = None, text: str | None = None) -> Reply:
    """A casualty change or a note, inside the caller's transaction (rights checked again:
    a role may have gone since the button was pressed)."""
    found = await _open_incident(session, rt, actor, incident_id)
    if isinstance(found, Reply):
        return found
    incident, team = found
    if kind == IncidentEventKind.CASUALTIES:
        assert injured is not None and injury is not None
        if not await incident_repo.set_casualties(session, incident, injured, injury):
            return Reply.refuse("callback.stale")
        await session.refresh(incident)
    reply = await _record(session, rt, actor, incident, team, kind, injured=injured,
                          injury=injury, text=text)
    reply.prompts = [Prompt("incident.followed_up", {"code": incident.code})]
    return reply


async def _record(session: AsyncSession, rt: Runtime, actor: Actor, incident: Incident,
                  team: Unit, kind: IncidentEventKind, **facts: Any) -> Reply:
    event = await incident_repo.add_event(session, incident, kind=kind, actor_id=actor.person_id,
                                          at=rt.clock.now(), **facts)
    audience = await audience_of(session, rt, team)
    return Reply(queued=await announce(session, rt, incident, team, event, actor.name,
                                        audience))


async def _close(session: AsyncSession, rt: Runtime, actor: Actor,
                 data: dict[str, Any]) -> Reply:
    """The final report: closes the incident (once), announces it with the whole history,
    and takes the follow-up buttons off every earlier announcement."""
    now = rt.clock.now()
    found = await _open_incident(session, rt, actor, int(data["incident_id"]))
    if isinstance(found, Reply):
        return found
    incident, team = found
    if not await incident_repo.close(session, incident, person_id=actor.person_id, now=now,
                                     cause=data["cause"], measures=data["measures"],
                                     lessons=data["lessons"]):
        return Reply.refuse("callback.stale")
    await session.refresh(incident)
    keys = await incident_repo.message_keys(session, incident.id or 0)
    await remove_buttons(session, keys, now=now, purpose="incident.buttons_off")
    event = await incident_repo.add_event(session, incident, kind=IncidentEventKind.CLOSED,
                                          actor_id=actor.person_id, at=now)
    history = await incident_repo.events_of(session, [incident.id or 0])
    audience = await audience_of(session, rt, team)
    queued = await announce(session, rt, incident, team, event, actor.name, audience, history)
    return Reply.say("incident.closed_ok", queued=queued + len(keys), code=incident.code)


# ------------------------------------------------------------------ figures


async def figures(rt: Runtime, unit_ids: Sequence[int], since: datetime,
                  until: datetime) -> IncidentTotals:
    """Incidents of these units that happened in [since, until): count, people hurt,
    fatal ones, still open (for the monthly report; one aggregate query)."""
    async with rt.db.session() as session:
        return await incident_repo.totals(session, unit_ids, since, until)
