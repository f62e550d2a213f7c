"""检查: a daily check falls due, is answered item by item (one item not OK becomes a hazard
with its photo), survives a restart, lands in the ledger; a weekly check is missed and
escalated once; late answers, double taps and other people's presses are refused."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from openpyxl import load_workbook
from sqlmodel import select

from content.checklists import SHIPPED_CHECKLISTS
from domain.org import Role
from services import inspections as inspection_service
from services import ledger
from storage.models import Hazard, HazardPhoto, Inspection, InspectionAnswer
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import grant, last_text
from tests.integration.test_hazards import setup_plant
from tgserver import TelegramTestServer

START_CHECK, OK, NOT_OK = "▶️ 开始检查", "✅ 正常", "❌ 不正常"
DAILY = {
    "id": "daily-round", "title": {"zh": "日常巡检", "en": "Daily round"},
    "who": {"role": "team_leader", "at": "team"}, "when": {"daily": "09:00"},
    "deadline": "2h", "category": "machinery",
    "items": [
        {"text": {"zh": "泵的护罩完好", "en": "Pump guards intact"}},
        {"text": {"zh": "夹套蒸汽压力", "en": "Jacket steam pressure"}, "kind": "number",
         "min": 0.2, "max": 0.6, "unit": "MPa", "severity": "serious"},
        {"text": {"zh": "通道畅通", "en": "Walkways clear"}, "category": "housekeeping"}]}


def checklists_with(tmp_path: Path, *, daily: bool = False, weekly: bool = False) -> Path:
    folder = tmp_path / "checklists"
    folder.mkdir()
    if daily:
        (folder / "daily-round.yaml").write_text(yaml.safe_dump(DAILY, allow_unicode=True),
                                                 encoding="utf-8")
    if weekly:
        shutil.copy(SHIPPED_CHECKLISTS / "team-weekly.yaml", folder)
    return folder


def texts(messages: list) -> list[str]:  # type: ignore[type-arg]
    return [m.text or m.caption or "" for m in messages]


def with_text(messages: list, part: str) -> list:  # type: ignore[type-arg]
    return [m for m in messages if part in (m.text or m.caption or "")]


async def test_a_daily_check_is_answered_and_an_item_not_ok_becomes_a_hazard(
        server: TelegramTestServer, tmp_path: Path) -> None:
    bot = BotUnderTest(server, tmp_path, checklists_dir=checklists_with(tmp_path, daily=True))
    await bot.start()
    try:
        await _daily_check(bot)
    finally:
        await bot.stop()


async def _daily_check(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    leader, worker = people["Leader Li"], people["Worker Wu"]
    leader.start_bot()
    await bot.settle()
    private = d.private_chat(leader)

    def mine() -> list:  # type: ignore[type-arg]
        return d.private_messages(leader)

    await bot.run_sweeps()
    assert with_text(mine(), "日常巡检") == []  # 08:30: not due yet
    bot.clock.advance(timedelta(minutes=30))  # 09:00
    await bot.run_sweeps()
    await bot.run_sweeps()  # the sweep again: the check falls due once
    [notice] = with_text(mine(), "日常巡检")
    assert "合成甲班" in notice.text and "共 3 项" in notice.text
    assert notice.buttons == [[START_CHECK]]
    assert with_text(group.bot_messages(), "日常巡检") == []  # privately, not in the group

    leader.click(notice, START_CHECK)
    await bot.settle()
    first = mine()[-1]
    assert "第 1/3 项" in first.text and "泵的护罩完好" in first.text
    assert first.buttons == [[OK, NOT_OK]]
    cq = leader.click(notice, START_CHECK)  # a double tap on start: the question is above
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "问题已在上面，请接着回答。", "show_alert": False}
    assert len(with_text(mine(), "第 1/3 项")) == 1

    cq = worker.click_data(first, first.reply_markup["inline_keyboard"][0][0]["callback_data"])
    await bot.settle()  # a worker of the team forging the leader's button
    assert d.callback_answer(cq) == {"text": "这项检查不归你负责。", "show_alert": True}

    ok_data = first.reply_markup["inline_keyboard"][0][0]["callback_data"]
    cq = leader.click(first, OK)
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已记录：正常", "show_alert": False}
    assert "✅ 正常（Leader Li）" in first.text and first.buttons == []  # edited in place
    cq = leader.click_data(first, ok_data)  # the same tap delivered again
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "这一项已经回答过了。", "show_alert": False}

    number = mine()[-1]
    assert "夹套蒸汽压力" in number.text and "请回复读数" in number.text
    assert number.reply_markup == {"force_reply": True, "selective": True}
    leader.send(private, "大概零点八", reply_to=number)
    await bot.settle()
    assert texts(mine())[-2] == "这不是一个数字，请只回复读数，例如 0.45。"
    again = mine()[-1]
    assert "夹套蒸汽压力" in again.text and again.reply_markup["force_reply"]

    await bot.restart()  # the answers so far, and where the check stands, are in the database
    leader.send(private, "0.8", reply_to=again)
    await bot.settle()
    assert "0.8 MPa 超出允许范围" in texts(mine())[-2]
    assert "现场照片" in texts(mine())[-1]
    leader.send_photo(private, reply_to=mine()[-1])
    await bot.settle()
    assert "请简要说明第 2 项的问题" in texts(mine())[-1]
    leader.send(private, "夹套进汽阀内漏，压力偏高", reply_to=mine()[-1])
    await bot.settle()
    assert "已登记隐患 YH-20261123-0001" in "".join(texts(mine())[-2:])
    third = mine()[-1]
    assert "第 3/3 项" in third.text and third.buttons == [[OK, NOT_OK]]

    async with bot.services.db.session() as s:
        [hazard] = (await s.exec(select(Hazard))).all()
        [photo] = (await s.exec(select(HazardPhoto))).all()
    assert hazard.state == "reported" and hazard.severity == "serious"
    assert hazard.category == "machinery" and hazard.reporter_id is not None
    assert "0.8 MPa" in (hazard.description or "") and "内漏" in (hazard.description or "")
    assert hazard.location_text == "日常巡检 第 2 项"
    assert photo.local_path and photo.local_path.endswith(".jpg")  # the evidence is kept
    assert list((bot.media_dir / "hazards").glob("*.jpg"))
    card = with_text(group.bot_messages(), "请班组长在")
    assert card and any(m.photo for m in group.bot_messages())  # the usual closed loop

    leader.click(third, NOT_OK)
    await bot.settle()
    assert "现场照片" in texts(mine())[-1]
    leader.send(private, "通道被托盘堵了", reply_to=mine()[-1])  # a text, not a photo
    await bot.settle()
    assert texts(mine())[-1] == "这里需要一张照片，请回复照片。"
    leader.send_photo(private, reply_to=mine()[-1])
    await bot.settle()
    leader.send(private, "东侧通道堆放托盘", reply_to=mine()[-1])
    await bot.settle()
    done = texts(mine())[-1]
    assert "日常巡检已完成：3 项，2 项不正常" in done
    assert "YH-20261123-0001、YH-20261123-0002" in done

    cq = leader.click(notice, START_CHECK)  # an answer to a check that is done
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "这项检查已经完成了。", "show_alert": True}

    leader.send(group, "/checks")
    await bot.settle()
    assert "✅ 日常巡检（合成甲班）Leader Li 于" in last_text(group)

    async with bot.services.db.session() as s:
        [check] = (await s.exec(select(Inspection).where(
            Inspection.unit_id == ids["a"]))).all()
        answers = (await s.exec(select(InspectionAnswer)
                                .order_by(InspectionAnswer.item_index))).all()
    assert check.state == "done" and [a.ok for a in answers] == [True, False, False]
    assert answers[1].value == 0.8

    since = datetime(2026, 11, 1, tzinfo=UTC)
    book = await ledger.export_units(bot.services.runtime(), ["team-a"], since=since,
                                     until=since + timedelta(days=30), lang="zh")
    sheet = load_workbook(io.BytesIO(book.data))["检查记录"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert book.checks == 3
    assert [r[10] for r in rows] == ["泵的护罩完好", "夹套蒸汽压力", "通道畅通"]
    assert [r[11] for r in rows] == ["✅ 正常", "0.8", "❌ 不正常"]
    assert rows[1][15] == "YH-20261123-0001" and rows[2][13] == "东侧通道堆放托盘"


async def test_a_weekly_check_is_missed_and_escalated_once(server: TelegramTestServer,
                                                           tmp_path: Path) -> None:
    bot = BotUnderTest(server, tmp_path, checklists_dir=checklists_with(tmp_path, weekly=True))
    await bot.start()
    try:
        await _weekly_check(bot)
    finally:
        await bot.stop()


async def _weekly_check(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)  # Monday 08:30; Li never pressed Start
    d = bot.driver
    leader, worker, officer = people["Leader Li"], people["Worker Wu"], people["Officer Zhao"]
    other_leader = d.user("Leader Zhou")  # leads the other team, and happens to be here
    await grant(bot, other_leader, ids["b"], Role.TEAM_LEADER)
    group.add_member(other_leader)

    def missed(person) -> list:  # type: ignore[no-untyped-def,type-arg]
        # 合成乙班 (no group, its leader never pressed Start) misses its check too.
        return with_text(d.private_messages(person), "合成甲班 的班组周检未在")

    bot.clock.advance(timedelta(days=4, hours=6, minutes=29))  # Friday 14:59
    await bot.run_sweeps()
    assert with_text(group.bot_messages(), "班组周检") == []
    bot.clock.advance(timedelta(minutes=1))  # Friday 15:00
    await bot.run_sweeps()
    [notice] = with_text(group.bot_messages(), "班组周检")  # a mention: Li has no private chat
    assert "Leader Li" in notice.text and "请在" in notice.text
    assert [e["user"]["id"] for e in notice.entities if e["type"] == "text_mention"] == [
        leader.id]
    assert notice.buttons == [[START_CHECK]]

    for outsider in (other_leader, worker):  # another team's leader, a worker of this one
        cq = outsider.click(notice, START_CHECK)
        await bot.settle()
        assert d.callback_answer(cq) == {"text": "这项检查不归你负责。", "show_alert": True}
    leader.click(notice, START_CHECK)
    await bot.settle()
    first = group.bot_messages()[-1]
    assert "班组周检 第 1/6 项" in first.text
    cq = other_leader.click(first, OK)
    await bot.settle()
    assert d.callback_answer(cq)["text"] == "这项检查不归你负责。"
    leader.click(first, OK)
    await bot.settle()
    second = group.bot_messages()[-1]
    assert "第 2/6 项" in second.text

    bot.clock.advance(timedelta(hours=3, minutes=59))  # 18:59: one minute left
    await bot.run_sweeps()
    assert missed(officer) == []
    bot.clock.advance(timedelta(minutes=1))  # 19:00, the deadline
    await bot.run_sweeps()
    await bot.run_sweeps()
    [told] = missed(officer)  # the workshop's safety officer, once
    assert "负责人：Leader Li" in told.text
    assert "已答 1/6 项" in told.text
    bot.clock.advance(timedelta(hours=2))
    await bot.run_sweeps()
    assert len(missed(officer)) == 1

    cq = leader.click(second, OK)  # an answer to a check no longer due
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "这项检查已过截止时间，不能再作答。",
                                     "show_alert": True}
    leader.send(group, "/checks")
    await bot.settle()
    assert "❌ 班组周检（合成甲班）未按时完成" in last_text(group)
    assert "已答 1/6" in last_text(group)

    friday = datetime(2026, 11, 27, tzinfo=UTC)
    figures = await inspection_service.completion(bot.services.runtime(), [ids["a"], ids["b"]],
                                                  friday - timedelta(days=7),
                                                  friday + timedelta(days=7))
    assert (figures.due, figures.done, figures.missed, figures.open) == (2, 0, 2, 0)
    assert len(with_text(d.private_messages(officer), "合成乙班 的班组周检未在")) == 1
