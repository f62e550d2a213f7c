"""services.hazard_reports without Telegram: a report start to finish, on both databases."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from content.render import Renderer
from domain.clock import ManualClock
from services import hazard_reports as reports
from services import hazards as hazard_service
from services.base import Actor, Runtime
from services.hazard_reports import Answer, ReportStep
from storage import drafts as drafts_repo
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage.db import Database
from storage.models import Hazard, HazardEvent, OutboxMessage, Person
from tests.storage.test_documents_repo import T0, _plant

GROUP = -100  # team A's group in _plant


def _actor(person: Person) -> Actor:
    return Actor(person_id=person.id or 0, telegram_id=person.telegram_id, name=person.name,
                 language="zh")


async def _answer(rt: Runtime, actor: Actor, chat_id: int, answer: Answer) -> str | None:
    async with rt.db.transaction() as s:
        draft = await drafts_repo.get_draft(s, chat_id, actor.person_id)
        assert draft is not None
        return reports.continue_in(s, draft, answer, rt.clock.now()).key


async def _walk(rt: Runtime, actor: Actor, chat_id: int, photo: tuple[str, str],
                first_message: int | None = None) -> None:
    """Photo, place, category, severity, no description: ready to submit."""
    ids = iter(range(first_message or 1, 1000))
    assert await _answer(rt, actor, chat_id, Answer(photo=photo, message_id=next(ids))) \
        == "report.ask_location"
    assert await _answer(rt, actor, chat_id, Answer(text="泵房", message_id=next(ids))) \
        == "report.ask_category"
    for button, key in ((ReportStep("cat", "electrical"), "report.ask_severity"),
                        (ReportStep("sev", "serious"), "report.ask_description"),
                        (ReportStep("skip"), "report.confirm")):
        assert (await reports.press(rt, actor, chat_id, button)).key == key


async def test_a_report_from_start_to_card_and_the_same_photo_linked(db: Database) -> None:
    people = await _plant(db)
    clock = ManualClock(T0)
    woken: list[int] = []
    rt = Runtime(db=db, renderer=Renderer(), clock=clock, wake=lambda: woken.append(1))
    wu, li = _actor(people["Wu"]), _actor(people["Li"])

    # Wu reports in the private chat; the team is his group's.
    assert (await reports.start(rt, wu, wu.telegram_id)).key == "report.ask_photo"
    assert (await reports.press(rt, li, wu.telegram_id, ReportStep("ok"))).key \
        == "report.not_yours"
    await _walk(rt, wu, wu.telegram_id, ("F1", "U1"))
    done = await reports.submit(rt, wu, wu.telegram_id)
    assert done.ok and done.key == "report.submitted" and done.values["code"].startswith("YH-")
    assert woken == [1] and done.queued == 2 and not done.tidy
    # The edge downloads the new hazard's photos after the commit, then records the paths.
    assert done.hazard_id is not None and done.photos == (("F1", "U1"),)
    await hazard_service.keep_photos(rt, done.hazard_id, "before",
                                     {"U1": "/media/U1.jpg", "U9": None})
    async with db.session() as s:
        [hazard] = (await s.exec(select(Hazard))).all()
        assert (hazard.severity, hazard.category, hazard.location_text) == (
            "serious", "electrical", "泵房")
        [photo] = await hazard_repo.photos_of(s, hazard.id or 0)
        assert photo.local_path == "/media/U1.jpg"
        rows = (await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == GROUP))).all()
        assert [r.method for r in rows] == ["sendPhoto", "sendMessage"]
        assert f"hz:ack:{hazard.id}" in rows[1].payload
    # Submitting again: nothing to submit.
    assert (await reports.submit(rt, wu, wu.telegram_id)).key == "report.not_yours"

    # Li, in the group an hour later, with the same photo: linked, not registered twice.
    clock.advance(timedelta(hours=1))
    await reports.start(rt, li, GROUP)
    await _walk(rt, li, GROUP, ("F2", "U1"))
    linked = await reports.submit(rt, li, GROUP)
    assert linked.key == "report.duplicate" and linked.values["code"] == hazard.code
    assert linked.photos == () and linked.hazard_id is None  # nothing to download
    async with db.session() as s:
        assert len((await s.exec(select(Hazard))).all()) == 1
        actions = [e.action for e in (await s.exec(select(HazardEvent))).all()]
        assert "duplicate_report" in actions


async def test_a_tidy_group_report_queues_the_deletion_of_its_trail(db: Database) -> None:
    people = await _plant(db)
    rt = Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0))
    wu = _actor(people["Wu"])
    await reports.start(rt, wu, GROUP, tidy_from=10)
    await reports.remember_messages(rt, wu.person_id, GROUP, [11])
    await _walk(rt, wu, GROUP, ("F1", "U1"), first_message=12)
    await reports.remember_messages(rt, wu.person_id, GROUP, [20, 21])
    done = await reports.submit(rt, wu, GROUP)
    assert done.tidy and done.key == "report.submitted" and done.queued == 3
    async with db.session() as s:
        rows = (await s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == GROUP))).all()
        [tidy] = [r for r in rows if r.method == "deleteMessages"]
        assert json.loads(tidy.payload)["message_ids"] == [10, 11, 12, 13, 20, 21]


async def test_a_deep_link_names_the_team_only_for_its_members(db: Database) -> None:
    people = await _plant(db)
    rt = Runtime(db=db, renderer=Renderer(), clock=ManualClock(T0))
    zhou = _actor(people["Zhou"])  # in no team's group
    assert reports.unit_of_payload(reports.deep_link_payload(7)) == 7
    assert reports.unit_of_payload("report_x") is None and reports.unit_of_payload("x") is None
    async with db.session() as s:
        team = await org_repo.get_unit_by_key(s, "a")
        assert team is not None
    await reports.start(rt, zhou, zhou.telegram_id, unit_id=team.id)
    await _walk(rt, zhou, zhou.telegram_id, ("F9", "U9"))
    assert (await reports.submit(rt, zhou, zhou.telegram_id)).key == "report.no_team"


async def test_an_idle_report_is_dropped_and_its_chat_told(db: Database) -> None:
    from domain.conversations import conversation_feature
    from services.idle_drafts import DRAFT_IDLE
    from services.idle_drafts import drop_idle_drafts as drop_idle

    people = await _plant(db)
    clock = ManualClock(T0)
    woken: list[int] = []
    rt = Runtime(db=db, renderer=Renderer(), clock=clock, wake=lambda: woken.append(1))
    wu = _actor(people["Wu"])
    await reports.start(rt, wu, GROUP)
    assert await drop_idle(rt, T0 + DRAFT_IDLE - timedelta(seconds=1)) == 0 and woken == []
    assert await drop_idle(rt, T0 + DRAFT_IDLE + timedelta(seconds=1)) == 1 and woken == [1]
    async with db.session() as s:
        assert await drafts_repo.get_draft(s, GROUP, wu.person_id) is None
        [told] = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.purpose == "report.dropped"))).all()
        assert told.chat_id == GROUP and "作废" in told.payload
    assert [conversation_feature(step) for step in ("photo", "ho:ask", "fix:12")] == [
        "report", "handover", "conversation"]
