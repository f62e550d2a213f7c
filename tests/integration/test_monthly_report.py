"""The monthly report through the test server: the report day arrives, the levels above get
the charts, the summary and the XLSX privately, once; /stats shows the same figures; a worker
or a team leader is refused."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook

from tests.integration.conftest import BotUnderTest
from tests.integration.test_hazards import report, setup_plant

REPORT_DAY = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)  # 20 December, 09:00 in Shanghai


def content(bot: BotUnderTest, file_id: str) -> bytes:
    return bot.server.world.files[file_id].content


def summaries(messages: list) -> list:  # type: ignore[type-arg]
    return [m for m in messages if (m.text or "").startswith("📊")]


def last_report(messages: list) -> list:  # type: ignore[type-arg]
    """The five messages of the last report among ``messages``: three charts, the summary,
    the workbook."""
    start = max(i for i, m in enumerate(messages) if m.photo) - 2
    parts = messages[start:start + 5]
    assert [bool(m.photo) for m in parts] == [True, True, True, False, False]
    assert parts[4].document is not None
    return parts


def report_parts(bot: BotUnderTest, messages: list) -> tuple[list[bytes], str, bytes]:  # type: ignore[type-arg]
    """The charts, the summary and the workbook of the last report among ``messages``."""
    parts = last_report(messages)
    return ([content(bot, m.photo[-1]["file_id"]) for m in parts[:3]], parts[3].text or "",
            content(bot, parts[4].document["file_id"]))


async def test_report_day_sends_the_report_once_and_stats_agrees(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)  # Monday 23 November, 08:30 in Shanghai
    d = bot.driver
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    await report(bot, worker, group)  # one serious electrical hazard in November
    before = {p: len(d.private_messages(p)) for p in (officer, manager)}

    bot.clock.set(REPORT_DAY - timedelta(minutes=1))  # the day, but not the hour yet
    await bot.run_sweeps()
    assert all(summaries(d.private_messages(p)[before[p]:]) == [] for p in (officer, manager))

    bot.clock.set(REPORT_DAY)
    await bot.run_sweeps()
    for person, unit in ((manager, "示例化工"), (officer, "合成车间")):
        messages = d.private_messages(person)[before[person]:]
        charts, summary, workbook = report_parts(bot, messages)
        parts = last_report(messages)
        assert [m.caption for m in parts[:3]] == [
            f"{unit} 隐患趋势（2025-12 至 2026-11）", f"{unit} 2026-11 隐患按等级",
            f"{unit} 2026-11 隐患按单位"]
        assert all(png.startswith(b"\x89PNG") for png in charts)
        assert summary.startswith(f"📊 {unit} 2026-11 安全月报")
        assert "隐患上报 1 条（重大 0、较大 1、一般 0），最多的类别：电气 1" in summary
        assert "上报最多：Worker Wu 1 条" in summary
        book = load_workbook(io.BytesIO(workbook))
        rows = {r[0]: r for r in book["各单位"].iter_rows(min_row=2, values_only=True)}
        assert rows["合成甲班"][2] == 1 and rows["合成乙班"][2] == 0  # hazards reported
        assert parts[4].caption == f"{unit} 2026-11 安全月报（XLSX）"
    sent = {p: len(d.private_messages(p)) for p in (officer, manager)}

    await bot.restart()  # once per month and person, across restarts too
    bot.clock.set(REPORT_DAY + timedelta(hours=3))
    await bot.run_sweeps()
    assert {p: len(d.private_messages(p)) for p in (officer, manager)} == sent
    sweep_summary = summaries(d.private_messages(manager))[-1].text

    manager.send(d.private_chat(manager), "/stats")
    await bot.settle()
    messages = d.private_messages(manager)[sent[manager]:]
    assert messages[0].text == \
        "正在生成 示例化工 2026-11 的安全月报：图表、摘要和 XLSX 马上发到这里。"
    _, summary, workbook = report_parts(bot, messages)
    assert summary == sweep_summary  # the same figures on demand
    assert load_workbook(io.BytesIO(workbook))["各单位"]["C2"].value == 1

    manager.send(d.private_chat(manager), "/stats 2026-12")  # the month in progress
    await bot.settle()
    assert "截至" in summaries(d.private_messages(manager))[-1].text
    manager.send(d.private_chat(manager), "/stats 2027-01")
    await bot.settle()
    assert d.private_messages(manager)[-1].text == \
        "请写月份，例如 /stats 2026-11（不能是以后的月份）。"

    for someone in (worker, leader):  # refused in one sentence, nothing built
        someone.send(d.private_chat(someone), "/stats")
        await bot.settle()
        [answer] = [m for m in d.private_messages(someone) if "月报" in (m.text or "")]
        assert answer.text == "只有车间、企业的负责人和安全员可以查看安全月报。"
        assert not any(m.photo or m.document for m in d.private_messages(someone))
    manager.send(group, "/stats")
    await bot.settle()
    assert group.bot_messages()[-1].text == "月报含人员信息，请在私聊中发送 /stats。"
