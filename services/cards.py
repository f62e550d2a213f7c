"""Posts (岗位) and the risk-card briefing (两单两卡): who must learn which cards, and the steps.

A worker is *briefed* on their post's four cards (risk, duty, operation, emergency)
when they acknowledged each card and answered every check question right. A briefing
round starts when they join a team group (入职), when their post changes (转岗, 换岗),
or when they come back after a long absence (复岗); until it ends they are "not
briefed": the team leader is told and the pre-shift briefing lists them.

The round's state lives in the training record: every acknowledgement and answer is
a ``risk_card`` row at or after ``person.briefing_since``, so the next step is read
back from the record and an old round's buttons (another ``round`` number) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from content.post_cards import shipped_post_cards
from content.render import Renderer
from domain.org import Role, has_role_over
from domain.post_cards import CARD_KINDS, CheckQuestion, PostCards, find_post
from services.base import Actor, Outcome, Runtime
from services.buttons import Button, keyboard
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import people as people_repo
from storage import training as training_repo
from storage.models import GroupChat, Person, Unit

KIND = "risk_card"  # the training record's kind for acknowledgements and check answers
# 复岗: someone not seen in the team group for this long is briefed again on return.
RETURN_AFTER = timedelta(days=30)
Reason = Literal["join", "post", "return"]
DEEP_LINK = "cards"


@dataclass(frozen=True)
class CardStep(Button, prefix="card"):
    """``card:ack:ROUND:CARD`` acknowledges a card; ``card:ans:ROUND:Q:CHOICE`` answers.

    ``round`` is the briefing round's start (epoch seconds): buttons of an older
    round do nothing.
    """

    action: Literal["ack", "ans"]
    round: int
    item: int
    choice: int = 0


@dataclass
class Step:
    """What to show a worker next: a text and its buttons (none once briefed)."""

    html: str
    markup: dict[str, Any] | None = None
    done: bool = False


@dataclass
class StepOutcome(Outcome):
    """An acknowledgement or an answer: the outcome, the feedback and the next step."""

    feedback: str = ""
    step: Step | None = field(default=None)


def round_of(person: Person) -> int:
    """The current round's number (0 when none is open)."""
    return int(person.briefing_since.timestamp()) if person.briefing_since else 0


def cards_of(post: str | None) -> PostCards | None:
    """The cards of a post, when the bot has them."""
    return shipped_post_cards().get(post or "")


def render_card(renderer: Renderer, cards: PostCards, kind: str, lang: str) -> str:
    """One card as HTML (``cards.card_risk`` and the like)."""
    if kind == "risk":
        values = {name: cards.text(texts, lang) for name, texts in cards.risk.items()}
        return renderer.html("cards.card_risk", lang, post=cards.name_in(lang),
                             level=renderer.plain(f"risk_level.{cards.level.value}", lang),
                             **values)
    return renderer.html(f"cards.card_{kind}", lang, post=cards.name_in(lang),
                         items=cards.text(getattr(cards, kind), lang),
                         mnemonic=cards.text(cards.mnemonic, lang))


def render_question(renderer: Renderer, cards: PostCards, number: int, lang: str,
                    round_: int) -> Step:
    """A check question with one button per option."""
    question: CheckQuestion = cards.questions[number]
    options = cards.text(question.options, lang)
    html = renderer.html("cards.question", lang, number=number + 1,
                         count=len(cards.questions), question=cards.text(question.question, lang))
    return Step(html, keyboard([[(text, CardStep("ans", round_, number, index))]
                                for index, text in enumerate(options)]))


async def _progress(session: AsyncSession, person: Person,
                    cards: PostCards) -> tuple[set[str], set[int]]:
    """The cards acknowledged and the questions answered right in the current round."""
    entries = await training_repo.entries_of(session, person.id or 0,
                                             since=person.briefing_since, kinds=(KIND,))
    acked = {e.subject.split(":", 1)[1] for e in entries
             if e.result == "acknowledged" and e.subject.startswith(f"{cards.post}:")}
    right = {int(e.subject.rsplit(":q", 1)[1]) for e in entries
             if e.result == "correct" and e.subject.startswith(f"{cards.post}:q")}
    return acked, right


async def next_step(session: AsyncSession, renderer: Renderer, person: Person,
                    lang: str) -> Step | None:
    """The step the person is at: a card to acknowledge, a question, or None when briefed
    (or when there is nothing to brief on: no round open, no cards for the post)."""
    cards = cards_of(person.post)
    if person.briefing_reason is None or cards is None:
        return None
    round_ = round_of(person)
    acked, right = await _progress(session, person, cards)
    for index, kind in enumerate(CARD_KINDS):
        if kind not in acked:
            html = render_card(renderer, cards, kind, lang)
            html += "\n\n" + renderer.html("cards.please_ack", lang, number=index + 1,
                                           count=len(CARD_KINDS))
            return Step(html, keyboard([[(renderer.plain("button.card_ack", lang),
                                          CardStep("ack", round_, index))]]))
    for number in range(len(cards.questions)):
        if number not in right:
            return render_question(renderer, cards, number, lang, round_)
    return None


async def _leaders(session: AsyncSession, unit: Unit) -> list[Person]:
    return [p for p, _ in await org_repo.role_holders(session, [unit.id or 0],
                                                      [Role.TEAM_LEADER])]


async def _tell_leaders(session: AsyncSession, rt: Runtime, unit: Unit, key: str,
                        dedupe: str, now: datetime, person: Person, cards: PostCards | None,
                        reason: str = "") -> int:
    """Tell the team's leaders (privately, each in their language) about a worker's cards."""
    chats, _ = org_repo.reachable(await _leaders(session, unit), unit, None,
                                  rt.default_language)
    for chat_id, (lang, leader_id) in chats.items():
        html = rt.renderer.html(
            key, lang, unit=unit.name, person=person.name,
            post=cards.name_in(lang) if cards else "",
            reason=rt.renderer.plain(f"cards.reason_{reason}", lang) if reason else "")
        await outbox_repo.enqueue_text(session, chat_id=chat_id, now=now, person_id=leader_id,
                                       purpose="cards.leader", dedupe_key=f"{dedupe}:{chat_id}",
                                       html=html)
    return len(chats)


async def start_briefing(session: AsyncSession, rt: Runtime, person: Person, unit: Unit,
                         group: GroupChat | None, reason: Reason, now: datetime,
                         bot_username: str = "") -> int:
    """Open a briefing round: the worker gets their first card (privately, or a mention
    in the team group when they never pressed Start), the leaders are told. Returns
    the number of messages queued."""
    person.briefing_reason, person.briefing_since, person.briefed_at = reason, now, None
    person.updated_at = now
    session.add(person)
    await session.flush()
    round_ = round_of(person)
    cards = cards_of(person.post)
    group_lang = org_repo.unit_language(unit, group, rt.default_language)
    post_name = cards.name_in(group_lang) if cards else ""
    queued = await _tell_leaders(
        session, rt, unit, "cards.leader_not_briefed", f"cards-leader:{person.id}:{round_}",
        now, person, cards, reason)
    if cards is None:
        return queued  # nothing to send until a leader gives them a post
    if person.started and not person.blocked:
        lang = person.language or group_lang
        intro = rt.renderer.html("cards.intro", lang, unit=unit.name, post=cards.name_in(lang),
                                 reason=rt.renderer.plain(f"cards.reason_{reason}", lang))
        step = await next_step(session, rt.renderer, person, lang)
        assert step is not None
        await outbox_repo.enqueue_text(session, chat_id=person.telegram_id, html=intro, now=now,
                                       purpose="cards.intro", person_id=person.id,
                                       dedupe_key=f"cards-intro:{person.id}:{round_}")
        await outbox_repo.enqueue_text(session, chat_id=person.telegram_id, html=step.html,
                                       reply_markup=step.markup, now=now, purpose="cards.step",
                                       person_id=person.id,
                                       dedupe_key=f"cards-first:{person.id}:{round_}")
        return queued + 2
    if group is not None and group.active:
        markup = keyboard([[(rt.renderer.plain("button.card_open", group_lang),
                             f"https://t.me/{bot_username}?start={DEEP_LINK}")]]) \
            if bot_username else None
        await outbox_repo.enqueue_text(
            session, chat_id=group.chat_id, now=now, purpose="cards.mention",
            reply_markup=markup, dedupe_key=f"cards-mention:{person.id}:{round_}",
            html=rt.renderer.html("cards.mention", group_lang, person_id=person.telegram_id,
                                  person=person.name, post=post_name))
        return queued + 1
    return queued


async def arrivals(session: AsyncSession, rt: Runtime, group: GroupChat,
                   arrived: Sequence[tuple[Person, Reason]], now: datetime,
                   bot_username: str = "") -> int:
    """Start a round for everyone who joined (or came back to) a bound team group."""
    unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
    if unit is None or unit.kind != "team":
        return 0
    queued = 0
    for person, reason in arrived:
        queued += await start_briefing(session, rt, person, unit, group, reason, now,
                                       bot_username)
    return queued


async def brief_on_new_post(session: AsyncSession, rt: Runtime, person_id: int,
                            now: datetime) -> int:
    """A post changed outside the chat (the org file): brief the person in their team."""
    person = await session.get(Person, person_id)
    if person is None:
        return 0
    for group in await org_repo.groups_of_person(session, person_id):
        unit = await org_repo.get_unit(session, group.unit_id) if group.unit_id else None
        if unit is not None and unit.kind == "team":
            return await start_briefing(session, rt, person, unit, group, "post", now)
    return 0


async def show_next(rt: Runtime, actor: Actor) -> Step | None:
    """The worker's current step (``/start cards``), or None when nothing is open."""
    async with rt.db.session() as session:
        person = await session.get(Person, actor.person_id)
        if person is None:
            return None
        return await next_step(session, rt.renderer, person, actor.language)


async def press(rt: Runtime, actor: Actor, button: CardStep) -> StepOutcome:
    """A card acknowledged or a question answered: record it, say so, give the next step."""
    now = rt.clock.now()
    lang = actor.language
    async with rt.db.transaction() as session:
        person = await session.get(Person, actor.person_id)
        cards = cards_of(person.post) if person is not None else None
        if person is None or cards is None or person.briefing_reason is None \
                or button.round != round_of(person):
            return StepOutcome(False, "cards.stale")
        unit_id = await _team_of(session, person)
        feedback = ""
        if button.action == "ack":
            if button.item >= len(CARD_KINDS):
                return StepOutcome(False, "cards.stale")
            kind = CARD_KINDS[button.item]
            await training_repo.record(
                session, person_id=person.id or 0, unit_id=unit_id, kind=KIND,
                subject=f"{cards.post}:{kind}", result="acknowledged", at=now,
                dedupe_key=f"card:{person.id}:{button.round}:{kind}")
            feedback = rt.renderer.plain("cards.acknowledged", lang)
        else:
            if button.item >= len(cards.questions):
                return StepOutcome(False, "cards.stale")
            question = cards.questions[button.item]
            right = button.choice == question.answer
            await training_repo.record(
                session, person_id=person.id or 0, unit_id=unit_id, kind=KIND,
                subject=f"{cards.post}:q{button.item}", result="correct" if right else "wrong",
                detail=cards.text(question.question, "zh"), at=now,
                dedupe_key=f"cardq:{person.id}:{button.round}:{button.item}:{button.choice}")
            feedback = rt.renderer.html(
                "cards.right" if right else "cards.wrong", lang,
                explanation=cards.text(question.explanation, lang))
        step = await next_step(session, rt.renderer, person, lang)
        if step is None:
            await _briefed(session, rt, person, cards, unit_id, now)
            step = Step(rt.renderer.html("cards.briefed", lang, post=cards.name_in(lang),
                                         mnemonic=cards.text(cards.mnemonic, lang)), done=True)
    rt.wake()
    return StepOutcome(True, "cards.step", feedback=feedback, step=step)


async def _team_of(session: AsyncSession, person: Person) -> int | None:
    """The team the person belongs to now (their first bound team group)."""
    for group in await org_repo.groups_of_person(session, person.id or 0):
        if group.unit_id is not None:
            return group.unit_id
    return None


async def _briefed(session: AsyncSession, rt: Runtime, person: Person, cards: PostCards,
                   unit_id: int | None, now: datetime) -> None:
    """The round is complete: record it, close it, tell the leaders."""
    round_ = round_of(person)
    await training_repo.record(session, person_id=person.id or 0, unit_id=unit_id, kind=KIND,
                               subject=cards.post, result="briefed", at=now,
                               detail=person.briefing_reason,
                               dedupe_key=f"cards-briefed:{person.id}:{round_}")
    person.briefing_reason, person.briefed_at, person.updated_at = None, now, now
    session.add(person)
    unit = await org_repo.get_unit(session, unit_id) if unit_id else None
    if unit is not None:
        await _tell_leaders(session, rt, unit, "cards.leader_briefed",
                            f"cards-done:{person.id}:{round_}", now, person, cards)


async def set_post(rt: Runtime, actor: Actor, *, chat_id: int, post_text: str,
                   person_id: int | None = None, username: str | None = None,
                   bot_username: str = "") -> Outcome:
    """A team leader gives a worker of their team a post (``/post @worker welder``).

    Trust comes from roles in the org tree (team leader or above over the group's
    team, or a bot admin), never from the chat's admin rank. A new post opens a
    briefing round on its cards.
    """
    now = rt.clock.now()
    known = shipped_post_cards()
    post = find_post(known, post_text)
    if post is None:
        return Outcome.refused("post.unknown", post=post_text, known=", ".join(sorted(known)))
    async with rt.db.transaction() as session:
        group = await org_repo.get_group_chat(session, chat_id)
        unit = await org_repo.get_unit(session, group.unit_id) \
            if group is not None and group.unit_id else None
        if group is None or unit is None:
            return Outcome.refused("team.unbound")
        if not actor.is_bot_admin and not has_role_over(
                await org_repo.grants_of(session, actor.person_id), unit.path, Role.TEAM_LEADER):
            return Outcome.refused("post.not_allowed")
        target = await session.get(Person, person_id) if person_id is not None \
            else await people_repo.find_by_username(session, username or "")
        if target is None:
            return Outcome.refused("role.unknown_person", who=f"@{username}")
        name = known[post].name_in(actor.language)
        if target.post == post and target.briefing_reason is None and target.briefed_at:
            return Outcome.refused("post.already", person=target.name, post=name)
        target.post = post
        queued = await start_briefing(session, rt, target, unit, group, "post", now,
                                      bot_username)
    rt.wake()
    return Outcome.done("post.set", queued=queued, person=target.name,
                        person_id=target.telegram_id, post=name)


async def my_cards(rt: Runtime, actor: Actor, kind: str | None, lang: str) -> Outcome:
    """``/card [kind]``: the worker's own cards at once (all four, or one)."""
    async with rt.db.session() as session:
        person = await session.get(Person, actor.person_id)
    cards = cards_of(person.post if person else None)
    if cards is None:
        return Outcome.refused("cards.no_post")
    kinds = [kind] if kind in CARD_KINDS else list(CARD_KINDS)
    texts = [render_card(rt.renderer, cards, k, lang) for k in kinds]
    return Outcome.done("cards.shown", texts=texts)


def card_kind(word: str | None) -> str | None:
    """The card a word names (``emergency``, ``应急``…), or None for all of them."""
    if not word:
        return None
    words: Mapping[str, str] = {"risk": "risk", "风险": "risk", "duty": "duty", "职责": "duty",
                                "operation": "operation", "操作": "operation",
                                "emergency": "emergency", "应急": "emergency"}
    return words.get(word.strip().lower())


async def not_briefed_in(session: AsyncSession, group: GroupChat) -> list[str]:
    """Names of the group's members still to be briefed (for the pre-shift briefing)."""
    return [p.name for p in await people_repo.not_briefed_in(session, group.id or 0)]
