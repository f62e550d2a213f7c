"""两单两卡: a newcomer gets their post's cards, confirms them, passes the check and is briefed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.cli import main
from storage.models import Person, TrainingRecord
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import last_text
from tests.integration.test_hazards import read_sheet, setup_plant
from tests.integration.test_meetings import briefings, give_schedule

CARD_TITLES = ("岗位风险告知卡", "岗位职责清单", "岗位操作卡", "应急处置卡")


async def test_a_newcomer_is_briefed_on_the_cards_of_their_post(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    await give_schedule(bot, "team-a")
    leader.start_bot()
    newcomer = d.user("New Ning", username="ning")
    newcomer.start_bot()
    await bot.settle()

    # 入职: the newcomer joins; they have no post yet, so the leader is asked to give one.
    group.add_member(newcomer, by=leader)
    await bot.settle()
    told = [m.text for m in d.private_messages(leader) if "尚未完成岗位风险告知" in m.text]
    assert len(told) == 1 and "New Ning" in told[0] and "/post" in told[0]

    # The briefing lists who is not briefed yet.
    bot.clock.advance(timedelta(minutes=15))  # 08:45
    await bot.run_sweeps()
    [briefing] = briefings(group)
    assert "尚未完成岗位风险告知：New Ning" in briefing.text
    newcomer.click(briefing, "签到")
    await bot.settle()
    bot.clock.advance(timedelta(minutes=1))

    # A worker cannot set posts; an unknown post is named; the leader can.
    worker.send(group, "/post @ning welder")
    await bot.settle()
    assert last_text(group) == "只有本班组的班组长可以设置岗位。"
    leader.send(group, "/post @ning astronaut")
    await bot.settle()
    assert "astronaut" in last_text(group) and "welder" in last_text(group)
    leader.send(group, "/post @ning 电焊工")
    await bot.settle()
    assert "New Ning 的岗位已设为电焊工" in last_text(group)

    # The cards arrive privately, one at a time; each is confirmed with its button.
    chat = d.private_chat(newcomer)
    for number, title in enumerate(CARD_TITLES, 1):
        card = d.private_messages(newcomer)[-1]
        assert title in card.text and f"第 {number}/4 张卡" in card.text
        newcomer.click(card, "✅ 本卡已阅读并理解")
        await bot.settle()
        assert card.buttons == []
    # The check questions: a wrong answer explains and asks again.
    question = d.private_messages(newcomer)[-1]
    assert "检查题 1/3" in question.text and "动火" in question.text
    kept = question.reply_markup["inline_keyboard"][0][0]["callback_data"]  # the right one
    newcomer.click(question, "只要带上灭火器")
    await bot.settle()
    texts = [m.text for m in d.private_messages(newcomer)[-2:]]
    assert texts[0].startswith("❌") and "检查题 1/3" in texts[1]
    for answer in ("办理动火作业票并检测可燃气体", "检查现场并守候30分钟确认无火种", "先切断电源"):
        newcomer.click(d.private_messages(newcomer)[-1], answer)
        await bot.settle()
    assert "你已完成电焊工岗位告知" in d.private_messages(newcomer)[-1].text
    assert any("New Ning 已确认全部电焊工岗位卡" in m.text for m in d.private_messages(leader))
    async with bot.services.db.session() as s:
        person = (await s.exec(select(Person).where(Person.username == "ning"))).one()
        assert person.post == "welder" and person.briefing_reason is None and person.briefed_at
        rows = (await s.exec(select(TrainingRecord).where(
            TrainingRecord.person_id == person.id))).all()
    results = sorted(r.result for r in rows)
    assert results == ["acknowledged"] * 4 + ["briefed"] + ["correct"] * 3 + ["wrong"]
    assert all(r.kind == "risk_card" and r.unit_id for r in rows)

    # A button of the finished round is refused, never recorded twice.
    cq = newcomer.click_data(question, kept)
    await bot.settle()
    assert "已经结束" in (d.callback_answer(cq) or {}).get("text", "")

    # /card emergency in the group: the card at once.
    newcomer.send(group, "/card emergency")
    await bot.settle()
    assert "应急处置卡 · 电焊工" in last_text(group) and "口诀" in last_text(group)
    newcomer.send(chat, "/card")
    await bot.settle()
    shown = "\n".join(m.text for m in d.private_messages(newcomer)[-2:])
    assert all(title in shown for title in CARD_TITLES)

    # The training record: the worker's own view and the team's sheet in the export.
    newcomer.send(chat, "/myrecord")
    await bot.settle()
    record = d.private_messages(newcomer)[-1].text
    assert "共 10 条" in record and "班前会 1" in record and "岗位风险卡 9" in record
    assert "电焊工 · 应急处置卡 — 已确认" in record and "早班" in record
    assert record.index("完成告知") < record.index("已签到")  # newest first
    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    rows = read_sheet(bot.server.world.files[sent.document["file_id"]].content, "安全培训档案")
    assert rows[0]["类别"] == "班前会" and rows[0]["结果"] == "已签到"
    assert [r["姓名"] for r in rows] == ["New Ning"] * 10
    assert rows[-1]["内容"] == "电焊工" and rows[-1]["结果"] == "完成告知"


async def test_a_newcomer_who_never_pressed_start_is_mentioned(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    leader = people["Leader Li"]
    d = bot.driver
    shy = d.user("Shy Shen", username="shen")
    group.add_member(shy, by=leader)
    await bot.settle()
    leader.send(group, "/post @shen forklift-driver")
    await bot.settle()
    mention = next(m for m in group.bot_messages() if "风险卡需要阅读确认" in m.text)
    assert mention.buttons == [["📇 打开我的岗位卡"]]
    assert any(e["type"] == "text_mention" for e in mention.entities)
    # The deep link opens the private chat on the current step.
    shy.send(d.private_chat(shy), "/start cards")
    await bot.settle()
    assert "岗位风险告知卡 · 叉车司机" in d.private_messages(shy)[-1].text


async def test_training_record_and_export(bot: BotUnderTest, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """/myrecord lists card confirmations; the ledger (chat and CLI) has a training sheet."""
    _, people, group = await setup_plant(bot)
    leader, worker = people["Leader Li"], people["Worker Wu"]
    d = bot.driver
    newcomer = d.user("New Ning", username="ning")
    newcomer.start_bot()
    group.add_member(newcomer, by=leader)
    await bot.settle()
    leader.send(group, "/post @ning electrician")
    await bot.settle()
    newcomer.click(d.private_messages(newcomer)[-1], "✅ 本卡已阅读并理解")
    await bot.settle()
    newcomer.send(d.private_chat(newcomer), "/myrecord")
    await bot.settle()
    record = d.private_messages(newcomer)[-1].text
    assert "安全培训档案" in record and "岗位风险告知卡" in record and "电工" in record
    leader.start_bot()
    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    rows = read_sheet(bot.server.world.files[sent.document["file_id"]].content, "安全培训档案")
    assert [(r["姓名"], r["类别"], r["结果"]) for r in rows] == [
        ("New Ning", "岗位风险卡", "已确认")]

    # The operator's export (CLI) has the same sheet, in English.
    worker.send(group, "/myrecord")  # in a group: not here, the record is personal
    await bot.settle()
    assert "/myrecord" in last_text(group)
    monkeypatch.setenv("DATABASE_URL", bot.db_url)
    out = tmp_path / "team.xlsx"
    code = await asyncio.to_thread(main, ["ledger", "export", "--unit", "team-a", "--from",
                                          "2026-11-01", "--to", "2026-11-30", "--lang", "en",
                                          "--out", str(out)])
    assert code == 0
    [row] = read_sheet(out.read_bytes(), "Training record")
    assert (row["Who"], row["Kind"], row["What"], row["Result"]) == (
        "New Ning", "Risk cards", "Electrician · risk notification card", "confirmed")


async def test_back_after_a_long_absence_the_cards_come_again(bot: BotUnderTest) -> None:
    """复岗: a briefed worker unseen for 30 days speaks again and is briefed again."""
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    worker.start_bot()
    leader.start_bot()
    worker.send(group, "/whoami")  # privacy mode: the bot sees commands
    await bot.settle()
    async with bot.services.db.transaction() as s:
        person = (await s.exec(select(Person).where(Person.telegram_id == worker.id))).one()
        person.post, person.briefed_at = "chemical-operator", bot.clock.now()
        s.add(person)
    bot.clock.advance(timedelta(days=29))
    worker.send(group, "/whoami")
    await bot.settle()
    assert not any("岗位风险告知卡" in m.text for m in d.private_messages(worker))
    bot.clock.advance(timedelta(days=30, minutes=1))
    worker.send(group, "/hazards")
    await bot.settle()
    intro, card = d.private_messages(worker)[-2:]
    assert "长期离岗后复岗" in intro.text and "化工操作工" in intro.text
    assert "岗位风险告知卡 · 化工操作工" in card.text
    async with bot.services.db.session() as s:
        person = (await s.exec(select(Person).where(Person.telegram_id == worker.id))).one()
        assert person.briefing_reason == "return" and person.briefed_at is None
    told = [m.text for m in d.private_messages(leader) if "尚未完成岗位风险告知" in m.text]
    assert len(told) == 1 and "Worker Wu（长期离岗后复岗，化工操作工）" in told[0]
