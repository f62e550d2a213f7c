"""Updates the bot did not expect: repeated and late button presses, unknown buttons,
edited commands, and the sweeps that must run as soon as the bot is up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from telegram.ext import ApplicationBuilder, CallbackQueryHandler

from bot import lifecycle
from bot.app import build_application
from domain.clock import ManualClock
from handlers.routes import outdated_button
from scheduler.timetable import Timetable
from storage import updates as updates_repo
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.integration.conftest import START, BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import hazards, report, setup_plant
from tgserver import TelegramTestServer

ERRORS_LOGGER = "safetybot.errors"


class BotWithTimetable(BotUnderTest):
    """The bot as production runs it: the sweeps on PTB's JobQueue, not run by the test.

    ``sweeps_done`` counts finished sweep runs by name, so a test waits on them as
    events instead of sleeping.
    """

    def __init__(self, server: TelegramTestServer, tmp_path: Path) -> None:
        super().__init__(server, tmp_path)
        self.install_timetable = False
        self.sweeps_done: dict[str, int] = {}

    async def start(self) -> None:
        self.db = Database(self.db_url)
        self.app = build_application(self.settings(), db=self.db, clock=self.clock,
                                     install_timetable=self.install_timetable)
        self.app.after_update.append(self._on_handled)
        self.services.timetable.after_run.append(self._on_sweep)
        await lifecycle.start_polling(self.app, poll_timeout=5)

    def _on_sweep(self, name: str) -> None:
        self.sweeps_done[name] = self.sweeps_done.get(name, 0) + 1
        self.server.world.touch()  # wakes driver.wait_for


@pytest.fixture
async def timetabled(server: TelegramTestServer, tmp_path: Path
                     ) -> AsyncIterator[BotWithTimetable]:
    under_test = BotWithTimetable(server, tmp_path)
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.stop()


def answer_errors(bot: BotUnderTest) -> list[str]:
    return [e.description for e in bot.driver.errors if e.method.lower() == "answercallbackquery"]


# ---- D: "message is not modified" is success, and no query is answered twice


async def test_the_group_language_button_pressed_twice(
        bot: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    d = bot.driver
    admin = d.user("Admin Li")
    group = d.group("甲班", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    admin.send(group, "/language")
    await bot.settle()
    menu = group.bot_messages()[-1]
    caplog.set_level(logging.INFO)

    # A double tap: both presses come from the menu as the client showed it.
    first = admin.click(menu, "English")
    second = admin.click_data(menu, "lang:g:en")
    await bot.settle()

    assert d.callback_answer(first) is not None and d.callback_answer(second) is not None
    assert answer_errors(bot) == []
    assert last_text(group) == "This group now uses English."
    assert not [m for m in group.bot_messages() if "went wrong" in (m.text or "")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_error_after_the_answer_does_not_answer_again(
        bot: BotUnderTest, server: TelegramTestServer,
        caplog: pytest.LogCaptureFixture) -> None:
    d = bot.driver
    admin = d.user("Admin Li")
    group = d.group("甲班", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    admin.send(group, "/language")
    await bot.settle()
    caplog.set_level(logging.INFO)
    server.faults.add("editMessageText", status=500)  # the edit after the answer fails

    query = admin.click(group.bot_messages()[-1], "English")
    await bot.settle()

    assert d.callback_answer(query) == {"text": None, "show_alert": False}
    assert answer_errors(bot) == []
    # A real error keeps its traceback, with a short summary of the update, not its JSON.
    [record] = [r for r in caplog.records if r.name == ERRORS_LOGGER]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    message = record.getMessage()
    assert len(message) < 300 and "callback_query" in message and str(group.id) in message


# ---- 11: a press answered too late is one short line


async def test_a_query_answered_too_late_is_one_short_line(
        bot: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    d = bot.driver
    admin = d.user("Admin Li")
    group = d.group("甲班", members=[admin], admins=[admin])
    group.add_bot(by=admin)
    admin.send(group, "/language")
    await bot.settle()
    caplog.set_level(logging.DEBUG, logger="safetybot")

    query = admin.click_late(group.bot_messages()[-1], "lang:g:en")
    await bot.settle()

    assert len(answer_errors(bot)) == 1  # the one late answer; nothing tried again
    assert d.callback_answer(query) is None
    mentions = [r for r in caplog.records if query in r.getMessage()]
    assert len(mentions) == 1
    assert len(mentions[0].getMessage()) < 200 and mentions[0].exc_info is None
    assert mentions[0].levelno < logging.ERROR
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # The press itself still counts: only its answer came too late.
    assert last_text(group) == "This group now uses English."


# ---- E: buttons no handler knows are answered, not left spinning


@pytest.mark.parametrize(("language", "expected"),
                         [("zh", "这个按钮已失效"), ("en", "no longer valid")])
async def test_unknown_buttons_are_answered_as_out_of_date(
        bot: BotUnderTest, language: str, expected: str) -> None:
    d = bot.driver
    alice = d.user("Alice", language_code=language)
    private = d.private_chat(alice)
    alice.send(private, "/language")
    await bot.settle()
    menu = private.bot_messages()[-1]
    for data in ("garbage", "🙂", "oldfeature:x:1", ":", "lang"):
        query = alice.click_data(menu, data)
        await bot.settle()
        answer = d.callback_answer(query)
        assert answer is not None and expected in (answer["text"] or ""), data
    # Buttons a feature knows still reach it.
    alice.click(menu, "中文")
    await bot.settle()
    assert "中文" in (private.bot_messages()[-1].text or "")
    assert answer_errors(bot) == []


async def test_the_catch_all_comes_after_every_button_handler(bot: BotUnderTest) -> None:
    # PTB runs the first matching handler of a group: a feature's button handler
    # added after the catch-all would never see a press.
    assert bot.app is not None
    button_handlers = [h for group in bot.app.handlers.values() for h in group
                       if isinstance(h, CallbackQueryHandler)]
    assert button_handlers[-1].callback is outdated_button
    assert all(h.pattern is not None for h in button_handlers[:-1])
    assert bot.app.handlers[0][-1] is button_handlers[-1]


# ---- F: an edited message is not a new one


async def test_an_edited_command_is_not_run_again(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    await report(bot, worker, group)
    [hazard] = await hazards(bot)
    command = worker.send(group, f"/hazard {hazard.code}")
    await bot.settle()
    before = len(group.bot_messages())
    assert hazard.code in last_text(group)

    worker.edit(command, f"/hazard {hazard.code.lower()}")
    await bot.settle()
    assert len(group.bot_messages()) == before

    alice = bot.driver.user("Alice", language_code="en")
    private = bot.driver.private_chat(alice)
    command = alice.send(private, "/language")
    await bot.settle()
    alice.edit(command, "/language zh")
    await bot.settle()
    assert [m.text for m in private.bot_messages()] == ["Choose a language:"]


async def test_an_edited_answer_is_not_taken_for_the_next_one(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    worker.send(group, "/report")
    await bot.settle()
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    place = worker.send(group, "3号泵房东侧", reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.click(group.bot_messages()[-1], "电气")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "较大")
    await bot.settle()
    before = [(m.message_id, m.text, m.edits) for m in group.bot_messages()]

    # The report now waits for a description; fixing a typo in the place is not one.
    worker.edit(place, "3号泵房西侧")
    await bot.settle()
    assert [(m.message_id, m.text, m.edits) for m in group.bot_messages()] == before


# ---- 1 and 12: every sweep runs once as soon as the bot is up


async def test_an_escalation_due_during_a_restart_goes_out_at_start(
        timetabled: BotWithTimetable) -> None:
    bot = timetabled
    _, people, group = await setup_plant(bot)
    await report(bot, people["Worker Wu"], group)
    officer = people["Officer Zhao"]
    await bot.stop()
    bot.clock.advance(timedelta(hours=3))  # past the two hours to acknowledge

    bot.install_timetable = True
    await bot.start()
    # The sweeps repeat every minute; the catch-up must not wait for the first repeat.
    await bot.driver.wait_for(
        lambda: any("超过受理时限" in (m.text or "") for m in bot.driver.private_messages(officer)),
        timeout=15)
    assert bot.sweeps_done.get("escalate-hazards") == 1


async def test_old_handled_updates_are_forgotten_at_start(
        timetabled: BotWithTimetable) -> None:
    bot = timetabled
    assert bot.app is not None
    bot_id = bot.app.bot.id
    now = bot.clock.now()
    async with bot.services.db.transaction() as session:
        await updates_repo.mark_processed(session, bot_id=bot_id, update_id=1,
                                          now=now - timedelta(days=3))
        await updates_repo.mark_processed(session, bot_id=bot_id, update_id=2,
                                          now=now - timedelta(hours=1))
    await bot.stop()

    bot.install_timetable = True
    await bot.start()
    await bot.driver.wait_for(lambda: bot.sweeps_done.get("forget-old-updates", 0) >= 1,
                              timeout=15)
    async with bot.services.db.session() as session:
        kept = [row.update_id for row in (await session.exec(select(ProcessedUpdate))).all()]
    assert kept == [2]


async def test_the_start_up_run_is_never_dropped_as_late() -> None:
    # The job queue starts a moment after the sweeps are installed; APScheduler drops
    # a run more than a second late unless the job says otherwise.
    async def nothing(_now: object) -> None:
        return None

    app = ApplicationBuilder().token("1:TEST").build()
    assert app.job_queue is not None
    timetable = Timetable(ManualClock(START))
    timetable.add("nothing", timedelta(minutes=1), nothing)
    timetable.install(app.job_queue)
    jobs = {job.name: job.job for job in app.job_queue.jobs()}
    assert set(jobs) == {"sweeps:catch-up", "sweep:nothing"}
    assert all(job.misfire_grace_time is None for job in jobs.values())
