"""Every prompt that waits for an answer in a group is a selective ForceReply.

The test server runs the bot with privacy mode on (as BotFather sets it by
default): in a group the bot sees commands, replies to its own messages and
mentions only. So each question must open a reply for the one who is asked
(after a button, the prompt mentions them: a selective ForceReply answering the
bot's own message would target nobody), and the answer, given as a reply,
moves the conversation on.
"""

from __future__ import annotations

from typing import Any

from domain.org import Role
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import grant, last_text
from tests.integration.test_handover import ANSWERS
from tests.integration.test_hazards import hazards, report, setup_plant

FORCE_REPLY = {"force_reply": True, "selective": True}


def asks(message: Any, user: Any, *, mentions: bool) -> None:
    """The message waits for ``user``'s reply: a selective ForceReply (mentioning them)."""
    assert message.reply_markup == FORCE_REPLY, (message.text, message.reply_markup)
    if mentions:
        assert any(e["type"] == "text_mention" and e["user"]["id"] == user.id
                   for e in message.entities), message.text


def prompt(group: Any, text: str) -> Any:
    """The latest bot message containing ``text``."""
    return next(m for m in reversed(group.bot_messages()) if text in (m.text or ""))


async def test_a_hazard_report_asks_every_question_by_selective_force_reply(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    assert not bot.account.can_read_all_group_messages  # privacy mode on

    worker.send(group, "/report")
    await bot.settle()
    asks(group.bot_messages()[-1], worker, mentions=True)
    worker.send_document(group, "big.jpg", b"x", "image/jpeg", file_size=30 * 1024 * 1024,
                         reply_to=group.bot_messages()[-1])
    await bot.settle()
    asks(prompt(group, "超过 20 MB"), worker, mentions=False)  # too big: asked again
    worker.send(group, "不是照片", reply_to=group.bot_messages()[-1])
    await bot.settle()
    asks(prompt(group, "请发送隐患照片"), worker, mentions=False)
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    asks(prompt(group, "隐患在哪里"), worker, mentions=False)
    worker.send(group, "地" * 300, reply_to=group.bot_messages()[-1])
    await bot.settle()
    asks(prompt(group, "200 字以内"), worker, mentions=False)
    worker.send(group, "二号罐区", reply_to=prompt(group, "200 字以内"))
    await bot.settle()
    worker.click(group.bot_messages()[-1], "电气")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "一般")
    await bot.settle()
    # after a button: the question mentions the clicker; "skip" comes right after it
    ask = prompt(group, "补充说明（可选")
    asks(ask, worker, mentions=True)
    assert group.bot_messages()[-1].buttons == [["跳过"]]
    worker.send(group, "没有回复的消息：隐私模式下机器人看不到")  # not a reply: never arrives
    await bot.settle()
    assert group.bot_messages()[-1].buttons == [["跳过"]]
    worker.send(group, "说" * 1200, reply_to=ask)
    await bot.settle()
    asks(prompt(group, "最多 1000 字"), worker, mentions=False)
    worker.send(group, "阀门漏气", reply_to=prompt(group, "最多 1000 字"))
    await bot.settle()
    assert "阀门漏气" in last_text(group)
    worker.click(group.bot_messages()[-1], "✅ 提交")
    await bot.settle()
    [hazard] = await hazards(bot)
    assert hazard.description == "阀门漏气"


async def test_reject_reason_and_after_photo_are_asked_by_selective_force_reply(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    leader.click(card, "驳回")
    await bot.settle()
    ask = group.bot_messages()[-1]
    assert "驳回" in ask.text and "理由" in ask.text
    asks(ask, leader, mentions=True)
    leader.send(group, " ", reply_to=ask)  # empty: asked again, still by reply
    await bot.settle()
    asks(group.bot_messages()[-1], leader, mentions=False)
    leader.send(group, "已隔离的旧设备", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "已被 Leader Li 驳回" in last_text(group)

    await report(bot, worker, group, description=None)
    card = next(m for m in reversed(group.bot_messages()) if "请班组长在" in (m.text or ""))
    leader.click(card, "受理")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "提交整改")
    await bot.settle()
    ask = group.bot_messages()[-1]
    assert "整改后的照片" in ask.text
    asks(ask, leader, mentions=True)
    leader.send(group, "修好了", reply_to=ask)  # no photo: asked again, by reply
    await bot.settle()
    asks(prompt(group, "必须附整改后的照片"), leader, mentions=False)
    leader.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "已由 Leader Li 整改" in last_text(group)


async def test_handover_and_shift_questions_are_asked_by_selective_force_reply(
        bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    leader = people["Leader Li"]
    await grant(bot, bot.driver.user("Leader Sun"), ids["a"], Role.TEAM_LEADER)
    leader.send(group, "/handover")
    await bot.settle()
    asks(group.bot_messages()[-1], leader, mentions=False)
    leader.send(group, "x" * 1001, reply_to=group.bot_messages()[-1])  # too long
    await bot.settle()
    asks(group.bot_messages()[-1], leader, mentions=False)
    for answer in ANSWERS:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
        if answer != ANSWERS[-1]:
            asks(group.bot_messages()[-1], leader, mentions=False)
    assert group.bot_messages()[-1].buttons == [["Leader Sun"], ["任一班组长"]]

    leader.send(group, "/shifts")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "修改班次")
    await bot.settle()
    asks(group.bot_messages()[-1], leader, mentions=True)
    leader.send(group, "早班 08:00-16:00\n中班 15:00-23:00", reply_to=group.bot_messages()[-1])
    await bot.settle()
    asks(group.bot_messages()[-1], leader, mentions=False)  # refused: asked again
    leader.send(group, "早班 08:00-16:00", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "早班 08:00–16:00" in last_text(group)
