"""/my: a worker sees their own reports, points and unread documents, nobody else's."""

from __future__ import annotations

from content.hazards import escalation_policy
from content.render import Renderer
from domain.hazard import HazardState, Severity
from services.publishing import DocumentDraft, publish
from storage import hazards as hazard_repo
from storage import org as org_repo
from storage import people as people_repo
from tests.integration.conftest import BotUnderTest
from tests.integration.test_hazards import setup_plant


async def _reported(bot: BotUnderTest, reporter_tid: int, state: HazardState,
                    points: int = 0) -> str:
    """A hazard reported by someone, moved straight to ``state``; returns its code."""
    now = bot.clock.now()
    async with bot.services.db.transaction() as s:
        person = await people_repo.get_person(s, reporter_tid)
        team = await org_repo.get_unit_by_key(s, "team-a")
        assert person is not None and team is not None
        hazard = await hazard_repo.create_hazard(
            s, unit_id=team.id or 0, reporter_id=person.id or 0, severity=Severity.GENERAL,
            category="electrical", location_text="泵房", latitude=None, longitude=None,
            description=None, photos=[], now=now, day=f"{now:%Y%m%d}",
            policy=escalation_policy().for_severity(Severity.GENERAL))
        hazard.state = state.value
        s.add(hazard)
        if points:
            await hazard_repo.award_points(s, hazard=hazard, points=points, now=now)
        return hazard.code


async def test_my_reports_points_and_unread_documents_and_nobody_elses(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, d = people["Worker Wu"], bot.driver
    other = d.user("Worker Zhou")
    group.chat.statuses[other.id] = "member"
    for person in (worker, other):
        person.send(group, "/whoami")  # both are learned as members of the team
    await bot.settle()
    reported = await _reported(bot, worker.id, HazardState.REPORTED)
    fixing = await _reported(bot, worker.id, HazardState.RECTIFYING)
    closed = await _reported(bot, worker.id, HazardState.CLOSED, points=3)
    rejected = await _reported(bot, worker.id, HazardState.REJECTED)
    not_mine = await _reported(bot, other.id, HazardState.REPORTED)
    async with bot.services.db.transaction() as s:
        ws = await org_repo.get_unit_by_key(s, "ws")
        assert ws is not None
        await publish(s, Renderer(), DocumentDraft(
            doc_key="hot-work", version=2, change_note="新增监护要求",
            texts={"zh": {"title": "动火作业规定", "summary": "", "html": "正文"}}),
            audience=[ws], publisher_id=None, now=bot.clock.now(), default_language="zh")

    private = d.private_chat(worker)
    worker.send(private, "/my")
    await bot.settle()
    text = d.private_messages(worker)[-1].text
    assert "Worker Wu 的随手拍 · 积分 3 分" in text
    assert f"{reported} 待受理" in text and f"{fixing} 整改中" in text
    assert f"{closed} 已关闭" in text and f"{rejected} 已驳回" in text
    assert "未关闭（2）" in text and "已办结（2）" in text
    assert "《动火作业规定》第 2 版" in text
    assert not_mine not in text
    lines = text.split("\n")
    for code in (reported, fixing, closed, rejected):
        assert len([line for line in lines if code in line]) == 1  # one line each

    # The other worker sees only their own.
    other.send(d.private_chat(other), "/my")
    await bot.settle()
    theirs = d.private_messages(other)[-1].text
    assert not_mine in theirs and reported not in theirs and "积分 0 分" in theirs

    # In the group: one short line and a button to the private view, no list.
    worker.send(group, "/my")
    await bot.settle()
    short = group.bot_messages()[-1]
    assert short.text.startswith(
        "Worker Wu：未关闭的上报 2 条，已办结 2 条，积分 3 分，待读文件 1 份")
    assert "\n" not in short.text and reported not in short.text
    [[button]] = (short.reply_markup or {})["inline_keyboard"]
    assert button["url"].endswith("?start=my")
    # The button opens the private chat with /start my: the same full view.
    worker.send(private, "/start my")
    await bot.settle()
    assert d.private_messages(worker)[-1].text == text


async def test_my_with_nothing_is_a_friendly_answer(bot: BotUnderTest) -> None:
    d = bot.driver
    newcomer = d.user("Newcomer Sun")
    newcomer.send(d.private_chat(newcomer), "/my")
    await bot.settle()
    answer = d.private_messages(newcomer)[-1].text
    assert answer.startswith("Newcomer Sun，你还没有上报过隐患，也没有待读的文件")
    assert "/report" in answer
