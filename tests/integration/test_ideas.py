"""金点子: proposed by reply, reviewed by role (a worker pressing adopt is refused),
declined with a reason, passed up, adopted with points; double taps, forged buttons."""

from __future__ import annotations

from sqlmodel import col, select

from domain.idea import IdeaState
from storage.models import Idea
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_incidents import answer, make_plant, texts

ADOPT1, ADOPT3, ADOPT5 = "采纳 +1 分", "采纳 +3 分", "采纳 +5 分"
DECLINE, UP = "不采纳", "提交上级"


def reviews(chat, number: int) -> list:  # type: ignore[no-untyped-def]
    return [m for m in chat.bot_messages() if f"金点子 #{number}" in (m.text or "")
            and "提出：" in (m.text or "")]


def callback_text(bot: BotUnderTest, cq: str) -> str:
    return str((bot.driver.callback_answer(cq) or {}).get("text", ""))


async def ideas(bot: BotUnderTest) -> dict[int, Idea]:
    async with bot.services.db.session() as s:
        # In id order: PostgreSQL returns rows as stored, an updated row last.
        return {i.id or 0: i for i in (await s.exec(select(Idea).order_by(col(Idea.id)))).all()}


async def test_an_idea_is_declined_passed_up_and_adopted_with_points(bot: BotUnderTest) -> None:
    _, people, group = await make_plant(bot)
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    ma = d.user("Worker Ma")
    group.add_member(ma)

    # Worker Wu (never pressed Start) proposes in the group, by reply, with a photo.
    worker.send(group, "/idea")
    await bot.settle()
    assert "改进建议" in last_text(group)
    await answer(bot, worker, group, "配电室门口加装挡鼠板，防止小动物钻进柜内短路")
    await bot.restart()  # the idea in progress is a row: nothing is lost
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert any("#1 已提交" in t for t in texts(group.bot_messages()))
    [review] = reviews(group, 1)
    assert "Worker Wu" in review.text and "挡鼠板" in review.text
    assert review.buttons == [[ADOPT1, ADOPT3, ADOPT5], [DECLINE, UP]]
    assert any(m.photo and "#1" in (m.caption or "") for m in group.bot_messages())
    [private_review] = reviews(d.private_chat(leader), 1)  # the team's leader, privately

    # A worker pressing adopt is refused: nothing changes.
    cq = ma.click(review, ADOPT5)
    await bot.settle()
    assert "只有 合成甲班 的班组长" in callback_text(bot, cq)
    cq = worker.click(review, ADOPT5)  # nor the proposer
    await bot.settle()
    assert "只有 合成甲班 的班组长" in callback_text(bot, cq)
    assert (await ideas(bot))[1].state == IdeaState.SUBMITTED

    # Worker Ma's idea, typed with the command; the leader declines it with a reason.
    ma.send(group, "/idea 交接班记录本改成电子表格")
    await bot.settle()
    ma.click(group.bot_messages()[-1], "没有照片，提交")
    await bot.settle()
    [second] = reviews(group, 2)
    leader.click(second, DECLINE)
    await bot.settle()
    assert "理由" in last_text(group)
    await answer(bot, leader, group, "交接班需要双方签字，纸质记录本仍要保留")
    [told] = [m for m in group.bot_messages() if "这次未被采纳" in (m.text or "")]
    assert "纸质记录本仍要保留" in told.text and any(
        e["type"] == "text_mention" and e["user"]["id"] == ma.id for e in told.entities)
    assert second.buttons == []

    # The leader passes idea 1 up to the workshop; its safety officer hears privately.
    leader.click(private_review, UP)
    await bot.settle()
    assert review.buttons == [] and private_review.buttons == []
    [up] = reviews(d.private_chat(officer), 1)
    assert "Leader Li 已提交给 合成车间" in up.text
    assert any("已由 Leader Li 提交给 合成车间" in t for t in texts(group.bot_messages()))
    cq = leader.click_data(up, "ida:adopt:1:5")  # a team leader does not decide at the workshop
    await bot.settle()
    assert "只有 合成车间 的班组长" in callback_text(bot, cq)
    cq = leader.click_data(review, "ida:adopt:1:5")  # nor on the team's old button
    await bot.settle()
    assert "只有 合成车间" in callback_text(bot, cq)

    # The officer adopts it with 5 points; Wu hears (mentioned: he never pressed Start).
    cq = officer.click(up, ADOPT5)
    await bot.settle()
    assert up.buttons == []
    assert any("已采纳金点子 #1" in t for t in texts(d.private_chat(officer).bot_messages()))
    [adopted] = [m for m in group.bot_messages() if "已被 Officer Zhao 采纳" in (m.text or "")]
    assert "获得 5 分，累计 5 分" in adopted.text
    cq = manager.click_data(up, "ida:adopt:1:3")  # a second reviewer a moment later
    await bot.settle()
    assert "已由 Officer Zhao 于" in callback_text(bot, cq) and "已采纳" in callback_text(bot, cq)

    # The leader's own idea, privately: he may not adopt it; a forged point value is refused.
    leader.send(d.private_chat(leader), "/idea 班前会增加一分钟应急口诀抽查")
    await bot.settle()
    leader.click(d.private_chat(leader).bot_messages()[-1], "没有照片，提交")
    await bot.settle()
    [third] = reviews(group, 3)
    assert reviews(d.private_chat(leader), 3) == []  # not sent to the proposer to review
    cq = leader.click(third, ADOPT3)
    await bot.settle()
    assert callback_text(bot, cq) == "不能处理自己提出的金点子。"
    for forged in ("ida:adopt:3:7", "ida:adopt:3", "ida:up:99999", "ida:zap:3", "idd:skip"):
        cq = officer.click_data(third, forged)
        await bot.settle()
        assert callback_text(bot, cq), forged
    assert (await ideas(bot))[3].state == IdeaState.SUBMITTED
    officer.click_data(third, "ida:adopt:3:1")
    await bot.settle()
    assert any("获得 1 分，累计 1 分" in t for t in texts(d.private_messages(leader)))

    found = await ideas(bot)
    assert [(i.state, i.points) for i in found.values()] == [
        (IdeaState.ADOPTED, 5), (IdeaState.DECLINED, 0), (IdeaState.ADOPTED, 1)]
    assert found[2].reason == "交接班需要双方签字，纸质记录本仍要保留"

    leader.send(group, "/ideas")
    await bot.settle()
    listing = last_text(group)
    assert "待处理 0，已采纳 2，未采纳 1" in listing
    assert "#1" in listing and "+5 分" in listing and "未采纳" in listing
    worker.send(group, "/my")
    await bot.settle()
    assert "积分 5 分" in last_text(group)
