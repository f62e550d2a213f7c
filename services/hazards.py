"""The hazard closed loop: every step's single home.

Acknowledge, 五落实, start fixing, fix (with the after-photo), verify and close,
reopen, reject and hand up. Each function decides with ``domain.hazard``, writes
with a compare-and-set (two leaders pressing at once: one wins, the other is
told), records the history line and answers with a :class:`StepOutcome`: the
sentence to say and the buttons for what can happen next.

The steps that need one more answer (the reason of a rejection, the after-photo,
the five answers) are begun with :func:`begin` and finished by the ``*_in``
functions, which run inside the conversation's transaction; :func:`reject` and
:func:`submit_fix` do the same in a transaction of their own (CLI, sandbox, tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import escalation_policy
from domain.hazard import (
    OPEN_STATES,
    POINTS,
    HazardAction,
    HazardFacts,
    HazardState,
    Severity,
    decide,
    rights_refusal,
)
from domain.hazard import Actor as RoleActor
from domain.org import Role, highest_role_over
from services.base import Actor, Outcome, Runtime
from services.hazard_steps import (
    HANDED_UP_STEPS,
    NEXT_STEPS,
    StepName,
    labels,
    next_steps,
    step_keyboard,
)
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage.models import Hazard, Unit

# Takes the finished buttons off the team group's card (given by the edge until the
# "finished buttons" helper lives in services/; called inside the step's transaction).
CardDone = Callable[[AsyncSession, int, datetime], Awaitable[None]]

EVENT_NAMES = {HazardAction.ACKNOWLEDGE: "acknowledged", HazardAction.REJECT: "rejected",
               HazardAction.SUBMIT_FIX: "rectified", HazardAction.VERIFY: "verified",
               HazardAction.REOPEN: "reopened", HazardAction.CLOSE: "closed",
               HazardAction.START: "rectifying", HazardAction.HAND_UP: "handed_up"}
NO_ESCALATION: dict[str, Any] = {"watch": None, "watch_deadline": None,
                                 "next_escalation_at": None}
MAX_REASON = 500


@dataclass
class StepOutcome(Outcome):
    """An outcome plus the hazard it concerns and the buttons for its next steps."""

    hazard_id: int = 0
    steps: tuple[StepName, ...] = ()

    def keyboard(self, label: Callable[[str], str]) -> dict[str, Any] | None:
        """The next-step buttons (a Bot API dict), labelled in the reader's language."""
        return step_keyboard(label, self.hazard_id, self.steps)


def _done(key: str, hazard_id: int, steps: tuple[StepName, ...] = (), queued: int = 0,
          **values: Any) -> StepOutcome:
    return StepOutcome(True, key, values, queued, hazard_id, steps)


def _refused(key: str, **values: Any) -> StepOutcome:
    return StepOutcome(False, key, values)


@dataclass
class Loaded:
    """A hazard, its owning unit and what the actor may do there."""

    hazard: Hazard
    unit: Unit
    actor: Actor
    who: RoleActor

    @property
    def facts(self) -> HazardFacts:
        """The hazard as the rules see it."""
        h = self.hazard
        return HazardFacts(HazardState(h.state), h.reporter_id, h.responsible_id, h.fixer_id)


async def load(session: AsyncSession, actor: Actor, hazard_id: int) -> Loaded | None:
    """The hazard with the actor's strongest role over its unit; None when there is none."""
    hazard = await hazard_repo.get_hazard(session, hazard_id)
    unit = await org_repo.get_unit(session, hazard.unit_id) if hazard else None
    if hazard is None or unit is None:
        return None
    grants = await org_repo.grants_of(session, actor.person_id)
    return Loaded(hazard, unit, actor, RoleActor(
        actor.person_id, highest_role_over(grants, unit.path), is_bot_admin=actor.is_bot_admin))


def rectify_deadline(hazard: Hazard, now: datetime) -> datetime:
    """The hazard's rectification deadline, or the policy's default from ``now``."""
    policy = escalation_policy().for_severity(Severity(hazard.severity))
    return hazard.deadline or now + policy.rectify_within


def rectify_clock(severity: str, now: datetime,
                  deadline: datetime | None = None) -> dict[str, Any]:
    """Start the rectification clock (acknowledged, reopened, or a new 五落实 deadline)."""
    policy = escalation_policy().for_severity(Severity(severity))
    deadline = deadline or now + policy.rectify_within
    return {"deadline": deadline, **hazard_repo.start_clock(policy, "rectify", deadline, now)}


async def _transition(session: AsyncSession, loaded: Loaded, action: HazardAction,
                      now: datetime, values: dict[str, Any],
                      detail: dict[str, Any] | None = None) -> str | None:
    """Apply a decided action: compare-and-set, then the event. Returns a refusal key."""
    decision = decide(action, loaded.facts, loaded.who)
    if not decision.allowed or decision.next_state is None:
        return decision.refusal or "callback.stale"
    hazard = loaded.hazard
    before = hazard.state
    values = {"state": decision.next_state.value, "updated_at": now, **values}
    if not await hazard_repo.save_if_unchanged(session, hazard, hazard.version, values):
        return "hazard.lost_race"
    await hazard_repo.record_event(session, hazard, at=now, actor_id=loaded.actor.person_id,
                                   action=EVENT_NAMES[action], from_state=before,
                                   to_state=decision.next_state.value, detail=detail)
    return None


async def already_acknowledged(session: AsyncSession, loaded: Loaded,
                               default_timezone: str) -> dict[str, Any] | None:
    """Who acknowledged the hazard and when, if it was (None while it awaits that)."""
    hazard = loaded.hazard
    if hazard.state == HazardState.REPORTED.value or hazard.acknowledged_at is None:
        return None
    events = [e for e in await hazard_repo.history(session, hazard.id or 0)
              if e.action == EVENT_NAMES[HazardAction.ACKNOWLEDGE]]
    actor_id = events[0].actor_id if events else hazard.responsible_id
    found = await people_repo.people_by_ids(session, [actor_id]) if actor_id else []
    return {"code": hazard.code, "who": found[0].name if found else "",
            "at": hazard.acknowledged_at, "tz": loaded.unit.timezone or default_timezone}


async def acknowledge(rt: Runtime, actor: Actor, hazard_id: int, *,
                      card_done: CardDone | None = None) -> StepOutcome:
    """A leader takes the hazard on: they are responsible, the rectification clock starts.

    A press after someone else acknowledged it is refused with who did and when.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if loaded is None:
            return _refused("callback.stale")
        rights = rights_refusal(HazardAction.ACKNOWLEDGE, loaded.facts, loaded.who)
        if rights is not None:
            return _refused(rights)
        late = await already_acknowledged(session, loaded, rt.default_timezone)
        if late is not None:
            return _refused("hazard.already_acknowledged", **late)
        values = {"acknowledged_at": now, "responsible_id": actor.person_id,
                  **rectify_clock(loaded.hazard.severity, now)}
        refusal = await _transition(session, loaded, HazardAction.ACKNOWLEDGE, now, values)
        if refusal is not None:
            return _refused(refusal)
        if card_done is not None:
            await card_done(session, hazard_id, now)
        code = loaded.hazard.code
    return _done("hazard.acknowledged", hazard_id, NEXT_STEPS["acknowledged"], code=code,
                 leader=actor.name, deadline=values["deadline"])


async def start_fixing(rt: Runtime, actor: Actor, hazard_id: int) -> StepOutcome:
    """开始整改: work on the fix has begun (the rectification clock keeps running)."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if loaded is None:
            return _refused("callback.stale")
        refusal = await _transition(session, loaded, HazardAction.START, now, {})
        if refusal is not None:
            return _refused(refusal)
        hazard = loaded.hazard
    return _done("hazard.started", hazard_id, NEXT_STEPS["rectifying"], code=hazard.code,
                 who=actor.name, deadline=hazard.deadline)


async def verify(rt: Runtime, actor: Actor, hazard_id: int) -> StepOutcome:
    """The fix holds (never said by the one who fixed it): close the loop, credit the reporter."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if loaded is None:
            return _refused("callback.stale")
        refusal = await _transition(session, loaded, HazardAction.VERIFY, now,
                                    {"verified_at": now})
        if refusal is not None:
            return _refused(refusal)
        return await _close(session, loaded, now)


async def _close(session: AsyncSession, loaded: Loaded, now: datetime) -> StepOutcome:
    """Verified: close the loop and credit the reporter (once)."""
    hazard = loaded.hazard
    await hazard_repo.save_if_unchanged(session, hazard, hazard.version, {
        "state": HazardState.CLOSED.value, "closed_at": now, "updated_at": now,
        **NO_ESCALATION})
    await hazard_repo.record_event(session, hazard, at=now, actor_id=loaded.actor.person_id,
                                   action="closed", from_state=HazardState.VERIFIED.value,
                                   to_state=HazardState.CLOSED.value)
    points = POINTS[Severity(hazard.severity)]
    await hazard_repo.award_points(session, hazard=hazard, points=points, now=now)
    reporter = (await people_repo.people_by_ids(session, [hazard.reporter_id]))[0]
    return _done("hazard.closed", hazard.id or 0, code=hazard.code, who=loaded.actor.name,
                 reporter=reporter.name, points=points)


async def reopen(rt: Runtime, actor: Actor, hazard_id: int) -> StepOutcome:
    """The fix does not hold: back to rectifying, with a fresh rectification clock."""
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if loaded is None:
            return _refused("callback.stale")
        values = rectify_clock(loaded.hazard.severity, now)
        refusal = await _transition(session, loaded, HazardAction.REOPEN, now, values)
        if refusal is not None:
            return _refused(refusal)
        code = loaded.hazard.code
    return _done("hazard.reopened", hazard_id, NEXT_STEPS["reopened"], code=code,
                 deadline=values["deadline"])


async def hand_up(rt: Runtime, actor: Actor, hazard_id: int, *,
                  language: str | None = None) -> StepOutcome:
    """"Cannot fix at team level": the next unit up owns the hazard from now on.

    Its safety officers and managers are told privately, and its group: the hazard
    is theirs now, so everyone there should see it arrive.

    Args:
        language: For recipients who do not say (the asker's, by default).
    """
    now = rt.clock.now()
    lang = language or actor.language
    queued = 0
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if loaded is None:
            return _refused("callback.stale")
        decision = decide(HazardAction.HAND_UP, loaded.facts, loaded.who)
        if not decision.allowed:
            return _refused(decision.refusal or "callback.stale")
        parent, chats = await org_repo.parent_recipients(
            session, loaded.unit, [Role.SAFETY_OFFICER, Role.MANAGER], lang)
        if parent is None:
            return _refused("hazard.no_parent")
        hazard = loaded.hazard
        before = loaded.unit.key
        if not await hazard_repo.save_if_unchanged(session, hazard, hazard.version,
                                                   {"unit_id": parent.id, "updated_at": now}):
            return _refused("hazard.lost_race")
        await hazard_repo.record_event(session, hazard, at=now, actor_id=actor.person_id,
                                       action="handed_up",
                                       detail={"from": before, "to": parent.key})
        values: dict[str, Any] = {"code": hazard.code, "unit": parent.name}
        for chat_id, (clang, person_id) in chats.items():
            row = await outbox_repo.enqueue_text(
                session, chat_id=chat_id, now=now, purpose="hazard.handed_up",
                html=rt.renderer.html("hazard.handed_up", clang, **values),
                person_id=person_id,
                reply_markup=step_keyboard(labels(rt.renderer, clang), hazard_id,
                                           HANDED_UP_STEPS),
                dedupe_key=f"handed-up:{hazard_id}:{parent.id}:{chat_id}")
            queued += row is not None
    if queued:
        rt.wake()
    return _done("hazard.handed_up", hazard_id, queued=queued, **values)


Asked = Literal["rej", "fix", "five"]
ASK_KEYS: dict[str, str] = {"rej": "hazard.ask_reject_reason", "fix": "hazard.ask_after_photo",
                            "five": "five.ask_resp"}


async def begin(rt: Runtime, actor: Actor, hazard_id: int, chat_id: int,
                step: Asked) -> StepOutcome:
    """Begin a step that needs more answers (a reason, the after-photo, the five).

    Checks now whether the actor may, so nobody answers questions to be refused at
    the end; the answers arrive in a conversation draft of this chat.
    """
    now = rt.clock.now()
    async with rt.db.transaction() as session:
        loaded = await load(session, actor, hazard_id)
        if step == "five":
            if loaded is None or HazardState(loaded.hazard.state) not in OPEN_STATES:
                return _refused("hazard.refused.state")
            if not loaded.who.at_least(Role.TEAM_LEADER):
                return _refused("hazard.refused.leader_only")
            data: dict[str, Any] = {"field": "resp"}
        else:
            if loaded is None:
                return _refused("callback.stale")
            action = HazardAction.REJECT if step == "rej" else HazardAction.SUBMIT_FIX
            decision = decide(action, loaded.facts, loaded.who)
            if not decision.allowed:
                return _refused(decision.refusal or "callback.stale")
            data = {}
        await drafts_repo.start_draft(session, chat_id, actor.person_id,
                                      step=f"{step}:{hazard_id}", data=data, now=now)
        code = loaded.hazard.code
    return _done(ASK_KEYS[step], hazard_id, code=code)


async def reject_in(session: AsyncSession, actor: Actor, hazard_id: int, reason: str,
                    now: datetime, *, card_done: CardDone | None = None) -> StepOutcome:
    """Reject the hazard with a reason (not a hazard, or not ours), in the caller's transaction.

    Refused with ``hazard.reason_empty`` when there is no reason to record (ask again).
    """
    loaded = await load(session, actor, hazard_id)
    if loaded is None:
        return _refused("callback.stale")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        return _refused("hazard.reason_empty")
    refusal = await _transition(session, loaded, HazardAction.REJECT, now,
                                {"reject_reason": reason, **NO_ESCALATION},
                                detail={"reason": reason})
    if refusal is not None:
        return _refused(refusal)
    if card_done is not None:
        await card_done(session, hazard_id, now)
    return _done("hazard.rejected", hazard_id, code=loaded.hazard.code, who=actor.name,
                 reason=reason)


async def reject(rt: Runtime, actor: Actor, hazard_id: int, reason: str, *,
                 card_done: CardDone | None = None) -> StepOutcome:
    """:func:`reject_in` in a transaction of its own."""
    async with rt.db.transaction() as session:
        return await reject_in(session, actor, hazard_id, reason, rt.clock.now(),
                               card_done=card_done)


@dataclass(frozen=True)
class AfterPhoto:
    """The photo of the fix: Telegram's ids and where the bot keeps a copy (the chat edge
    downloads it after the fix is committed and records the path with :func:`keep_photos`)."""

    file_id: str
    unique_id: str
    local_path: str | None = None


async def submit_fix_in(session: AsyncSession, actor: Actor, hazard_id: int,
                        photo: AfterPhoto, now: datetime) -> StepOutcome:
    """Fixed, with the after-photo: the hazard waits for the reporter or an officer to verify."""
    loaded = await load(session, actor, hazard_id)
    if loaded is None:
        return _refused("callback.stale")
    refusal = await _transition(session, loaded, HazardAction.SUBMIT_FIX, now,
                                {"fixer_id": actor.person_id, "rectified_at": now,
                                 **NO_ESCALATION})
    if refusal is not None:
        return _refused(refusal)
    hazard = loaded.hazard
    hazard_repo.add_photo(session, hazard, kind="after", file_id=photo.file_id,
                          unique_id=photo.unique_id, local_path=photo.local_path, now=now)
    reporter = (await people_repo.people_by_ids(session, [hazard.reporter_id]))[0]
    return _done("hazard.rectified", hazard_id, NEXT_STEPS["rectified"], code=hazard.code,
                 who=actor.name, reporter=reporter.name, reporter_id=reporter.telegram_id)


async def submit_fix(rt: Runtime, actor: Actor, hazard_id: int,
                     photo: AfterPhoto) -> StepOutcome:
    """:func:`submit_fix_in` in a transaction of its own."""
    async with rt.db.transaction() as session:
        return await submit_fix_in(session, actor, hazard_id, photo, rt.clock.now())


async def keep_photos(rt: Runtime, hazard_id: int, kind: Literal["before", "after"],
                      kept: Mapping[str, str | None]) -> None:
    """Record where copies of a hazard's photos were saved, in a short transaction of its own.

    The edge downloads a photo only after the step that registered it has committed (no
    network I/O inside a transaction), then hands in ``kept``: unique id → local path,
    None for a download that failed (the ledger then names the Telegram file).
    """
    paths = {unique: path for unique, path in kept.items() if path is not None}
    if not paths:
        return
    async with rt.db.transaction() as session:
        await hazard_repo.set_photo_paths(session, hazard_id, kind, paths)


@dataclass(frozen=True)
class Five:
    """五落实: who is responsible, the measures, the funds, the deadline, the plan."""

    responsible_id: int
    responsible: str
    measures: str
    funds: str
    deadline: datetime
    plan: str


async def save_five_in(session: AsyncSession, actor: Actor, hazard_id: int, five: Five,
                       now: datetime) -> StepOutcome:
    """Save the five (a leader only); a new deadline restarts the rectification clock."""
    loaded = await load(session, actor, hazard_id)
    if loaded is None:
        return _refused("callback.stale")
    hazard = loaded.hazard
    if HazardState(hazard.state) not in OPEN_STATES:
        return _refused("hazard.refused.state")
    if not loaded.who.at_least(Role.TEAM_LEADER):
        return _refused("hazard.refused.leader_only")
    values: dict[str, Any] = {
        "responsible_id": five.responsible_id, "measures": five.measures, "funds": five.funds,
        "deadline": five.deadline, "contingency": five.plan, "updated_at": now}
    if hazard.watch == "rectify":
        values.update(rectify_clock(hazard.severity, now, five.deadline))
    if not await hazard_repo.save_if_unchanged(session, hazard, hazard.version, values):
        return _refused("hazard.lost_race")
    await hazard_repo.record_event(session, hazard, at=now, actor_id=actor.person_id,
                                   action="five_in_place",
                                   detail={"responsible": five.responsible,
                                           "measures": five.measures, "funds": five.funds,
                                           "deadline": five.deadline.isoformat(),
                                           "plan": five.plan})
    return _done("five.saved", hazard_id, next_steps(hazard.state, without=("five",)),
                 code=hazard.code, responsible=five.responsible, measures=five.measures,
                 funds=five.funds, deadline=five.deadline, plan=five.plan)
