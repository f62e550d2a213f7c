"""文件规定到班组: publishing, reading, reminders, versions, /readstatus — as people live it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlmodel import select

from domain.org import Role
from storage.models import OutboxMessage, ReadReceipt
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import bind, grant, last_text
from tests.integration.test_hazards import setup_plant
from tests.integration.test_meetings import run_frequent_sweeps

HOT_WORK = "📄 动火作业安全管理规定 · v1"


async def plant_with_two_teams(bot: BotUnderTest) -> tuple[dict[str, int], dict[str, Any],
                                                         Any, Any]:
    """Team A (Worker Wu, Leader Li) and team B (Worker Ma, Leader Sun), members known."""
    ids, people, group_a = await setup_plant(bot)
    d = bot.driver
    for name in ("Worker Ma", "Leader Sun", "Worker Zhou"):
        people[name] = d.user(name)
    await grant(bot, people["Leader Sun"], ids["b"], Role.TEAM_LEADER)
    group_b = d.group("合成乙班", members=[people["Leader Sun"]], admins=[people["Leader Sun"]])
    await bind(bot, group_b, people["Leader Sun"], team="合成乙班")
    group_a.add_member(people["Worker Wu"])
    group_b.add_member(people["Worker Ma"])
    await bot.settle()
    return ids, people, group_a, group_b


async def publish_from_library(bot: BotUnderTest, manager: Any, label: str,
                               units: list[str], note: str | None = None) -> str:
    """What a manager does in private: /publish, pick, (note), tap units, done, publish."""
    d = bot.driver
    chat = d.private_chat(manager)
    manager.send(chat, "/publish")
    await bot.settle()
    manager.click(d.private_messages(manager)[-1], label)
    await bot.settle()
    if note is not None:
        manager.send(chat, note, reply_to=d.private_messages(manager)[-1])
        await bot.settle()
    for unit in units:
        manager.click(d.private_messages(manager)[-1], unit)
        await bot.settle()
    manager.click(d.private_messages(manager)[-1], "✅ 选好了")
    await bot.settle()
    preview = d.private_messages(manager)[-1].text
    manager.click(d.private_messages(manager)[-1], "📢 发布")
    await bot.settle()
    return preview


def roll_call(group: Any) -> Any:
    return next(m for m in reversed(group.bot_messages()) if (m.text or "").startswith("📌 《"))


async def test_publish_to_a_workshop_read_and_the_roll_call(bot: BotUnderTest) -> None:
    _, people, group_a, group_b = await plant_with_two_teams(bot)
    d = bot.driver
    manager, worker, leader = people["Manager Qian"], people["Worker Wu"], people["Leader Li"]

    preview = await publish_from_library(bot, manager, HOT_WORK, ["　合成车间"])
    assert "收到的班组（2）：合成甲班、合成乙班" in preview and "需确认人数：4" in preview
    assert "已发布到 2 个班组" in d.private_messages(manager)[-1].text

    for group in (group_a, group_b):
        texts = [m.text for m in group.bot_messages()]
        assert any(t.startswith("📄 动火作业安全管理规定（第 1 版）") and "作业票" in t
                   for t in texts)
    call = roll_call(group_a)
    assert "已阅 0/2" in call.text and call.buttons == [["已阅并理解"]]

    cq = worker.click(call, "已阅并理解")
    await bot.settle()
    assert d.callback_answer(cq) == {"text": "已记录：你已阅读并理解。", "show_alert": False}
    assert "已阅 1/2" in call.text  # edited in place
    cq = worker.click(call, "已阅并理解")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "你已经确认过了。"

    # A second click within ten seconds is recorded at once but shown at the next edit.
    leader.click(call, "已阅并理解")
    await bot.settle()
    assert "已阅 1/2" in call.text
    bot.clock.advance(timedelta(seconds=11))
    await bot.run_sweeps()
    assert "已阅 2/2 ✅ 全员已阅" in call.text
    edits = call.edits

    # Anonymous admins and forged data are refused; nothing is recorded for them.
    cq = worker.click_data(call, "doc:ack:999")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert") is True
    group_b.send_as_anonymous_admin("/readstatus")
    await bot.settle()
    assert "匿名管理员" in last_text(group_b) and call.edits == edits

    # /readstatus: leaders see their team in the group, the manager the whole tree privately.
    worker.send(group_a, "/readstatus")
    await bot.settle()
    assert "只有班组长及以上" in last_text(group_a)
    people["Leader Sun"].send(group_b, "/readstatus")
    await bot.settle()
    text = last_text(group_b)
    assert "合成乙班：0/2（0%） 未读：Leader Sun、Worker Ma" in text and "合成甲班" not in text
    manager.send(d.private_chat(manager), "/readstatus hot-work")
    await bot.settle()
    text = d.private_messages(manager)[-1].text
    assert "示例化工：2/4（50%）" in text and "　合成车间：2/4（50%）" in text
    assert "　　合成甲班：2/2（100%）" in text and "　　合成乙班：0/2（0%）" in text
    async with bot.services.db.session() as s:
        assert len((await s.exec(select(ReadReceipt))).all()) == 4

    # Someone who left the team no longer counts, nor is nagged.
    group_b.remove_member(people["Worker Ma"])
    await bot.settle()
    manager.send(d.private_chat(manager), "/readstatus")
    await bot.settle()
    assert "　　合成乙班：0/1（0%） 未读：Leader Sun" in d.private_messages(manager)[-1].text


async def test_late_member_reminders_and_the_workshop_at_the_due_date(bot: BotUnderTest) -> None:
    _, people, group_a, _group_b = await plant_with_two_teams(bot)
    d = bot.driver
    manager, worker, leader = people["Manager Qian"], people["Worker Wu"], people["Leader Li"]
    officer, late = people["Officer Zhao"], people["Worker Zhou"]
    leader.start_bot()
    await publish_from_library(bot, manager, HOT_WORK, ["　　合成甲班"])
    worker.click(roll_call(group_a), "已阅并理解")
    await bot.settle()

    # Zhou joins after publication and never pressed Start: mentioned in the group.
    group_a.add_member(late)
    await bot.settle()
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_sweeps()
    await bot.run_sweeps()  # once
    mentions = [m for m in group_a.bot_messages() if "Worker Zhou，合成甲班" in (m.text or "")]
    assert len(mentions) == 1 and mentions[0].buttons == [["已阅并理解"]]
    bot.clock.advance(timedelta(seconds=11))
    await bot.run_sweeps()
    assert "已阅 1/3" in roll_call(group_a).text

    # Tian pressed Start before joining: the document comes privately, with the button.
    tian = d.user("Worker Tian")
    tian.start_bot()
    group_a.add_member(tian)
    await bot.settle()
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_sweeps()
    texts = [m.text for m in d.private_messages(tian)]
    assert any("合成甲班 有一份需要阅读并确认的文件" in t for t in texts)
    assert any(t.startswith("📄 动火作业安全管理规定（第 1 版）") for t in texts)
    cq = tian.click(d.private_messages(tian)[-1], "已阅并理解")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "已记录：你已阅读并理解。"
    bot.clock.advance(timedelta(seconds=11))
    await bot.run_sweeps()
    assert "已阅 2/4" in roll_call(group_a).text
    # Someone with nothing to confirm gets told so privately.
    cq = people["Worker Ma"].click_data(d.private_messages(tian)[-1],
                                        d.private_messages(tian)[-1].reply_markup[
                                            "inline_keyboard"][0][0]["callback_data"])
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "这份文件不需要你确认。"

    # A day later: Leader Li (started) is reminded privately and gets the list; Zhou is
    # mentioned again in the group.
    bot.clock.advance(timedelta(days=1))
    await bot.run_sweeps()
    await bot.run_sweeps()
    private = [m.text for m in d.private_messages(leader)]
    assert sum("提醒：合成甲班 的《动火作业安全管理规定》" in t for t in private) == 1
    assert sum("已阅 2/4" in t and "未确认：Leader Li、Worker Zhou" in t for t in private) == 1
    assert any("以下同事还没有确认" in (m.text or "") and "Worker Zhou" in m.text
               for m in group_a.bot_messages())
    # Leader Li reads it from the private reminder.
    reminder = next(m for m in d.private_messages(leader) if "提醒：" in m.text)
    cq = leader.click(reminder, "已阅并理解")
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "已记录：你已阅读并理解。"

    # Three days after publication: the workshop is told who has not read it, once.
    bot.clock.advance(timedelta(days=2))
    await bot.run_sweeps()
    await bot.run_sweeps()
    overdue = [m.text for m in d.private_messages(officer) if "到期，仍有" in m.text]
    assert len(overdue) == 1 and "仍有 1 人未确认：Worker Zhou" in overdue[0]
    assert not [m for m in d.private_messages(worker) if "到期，仍有" in (m.text or "")]


async def test_a_new_version_asks_again_and_old_clicks_are_refused(bot: BotUnderTest) -> None:
    ids, people, group_a, _ = await plant_with_two_teams(bot)
    d = bot.driver
    manager, worker = people["Manager Qian"], people["Worker Wu"]
    chat = d.private_chat(manager)

    async def upload(content: bytes, note: str | None = None) -> str:
        manager.send(chat, "/publish")
        await bot.settle()
        manager.send_document(chat, "受限空间补充规定.md", content, "text/markdown",
                              caption="进入前必须检测气体")
        await bot.settle()
        if note is not None:
            assert "第 2 版" in d.private_messages(manager)[-1].text
            manager.send(chat, note, reply_to=d.private_messages(manager)[-1])
            await bot.settle()
        manager.click(d.private_messages(manager)[-1], "　　合成甲班")
        await bot.settle()
        manager.click(d.private_messages(manager)[-1], "✅ 选好了")
        await bot.settle()
        preview = d.private_messages(manager)[-2].text  # what the team will see
        manager.click(d.private_messages(manager)[-1], "📢 发布")
        await bot.settle()
        return preview

    preview = await upload("# 受限空间补充规定\n\n进入前<b>必须</b>检测 & 通风。\n".encode())
    assert "进入前<b>必须</b>检测 & 通风。" in preview  # HTML shown as written
    first_call = roll_call(group_a)
    post = [m for m in group_a.bot_messages() if (m.text or "").startswith("📄 受限空间")][-1]
    assert "进入前<b>必须</b>检测 & 通风。" in post.text and "进入前必须检测气体" in post.text
    worker.click(first_call, "已阅并理解")
    await bot.settle()

    await upload("# 受限空间补充规定\n\n进入前必须检测气体，每 2 小时复测。\n".encode(),
                 note="增加每 2 小时复测的要求")
    new_post = [m for m in group_a.bot_messages() if (m.text or "").startswith("📄 受限空间")][-1]
    assert "（第 2 版）" in new_post.text and "本版修改：增加每 2 小时复测的要求" in new_post.text
    assert "已被第 2 版替代" in first_call.text and first_call.buttons == []
    assert "已阅 0/2" in roll_call(group_a).text  # everyone confirms the new version
    # A click on the old roll call (a client showing the old buttons) is refused.
    old_data = f"doc:ack:{await _document_id(bot, version=1)}"
    cq = worker.click_data(first_call, old_data)
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("text") == "这份文件已有新版本，请阅读并确认新版本。"

    # Team B's manager uploads a file of the same name: not a new version of team A's.
    other = d.user("Manager Ma")
    await grant(bot, other, ids["b"], Role.MANAGER)
    other_chat = d.private_chat(other)
    other.send(other_chat, "/publish")
    await bot.settle()
    other.send_document(other_chat, "受限空间补充规定.md", "# 另一份规定\n\n正文\n".encode(),
                        "text/markdown")
    await bot.settle()
    assert "你不能发布它的新版本" in d.private_messages(other)[-1].text
    assert "已阅 0/2" in roll_call(group_a).text and "（第 2 版）" in new_post.text


async def _document_id(bot: BotUnderTest, version: int) -> int:
    from storage.models import PublishedDocument
    async with bot.services.db.session() as s:
        row = (await s.exec(select(PublishedDocument).where(
            PublishedDocument.version == version))).one()
        return row.id or 0


async def test_bad_files_and_who_may_publish(bot: BotUnderTest) -> None:
    _, people, group_a, _ = await plant_with_two_teams(bot)
    d = bot.driver
    manager, worker = people["Manager Qian"], people["Worker Wu"]
    chat = d.private_chat(manager)

    worker.start_bot()
    worker.send(d.private_chat(worker), "/publish")
    await bot.settle()
    assert "只有企业负责人" in d.private_messages(worker)[-1].text
    manager.send(group_a, "/publish")
    await bot.settle()
    assert "私聊" in last_text(group_a)

    manager.send(chat, "/publish")
    await bot.settle()
    cases = [("setup.exe", b"MZ", "application/octet-stream", None, "不支持这种文件"),
             ("空白.md", b"", "text/markdown", None, "这个文件是空的"),
             ("大文件.pdf", b"", "application/pdf", 30 * 1024 * 1024, "超过 20 MB"),
             ("乱码.txt", b"\xff\xfe\xfa", "text/plain", None, "UTF-8"),
             ("bad.md", b"---\nid: x\n---\n", "text/markdown", None, "--- 信息有误")]
    for name, content, mime, size, expected in cases:
        manager.send_document(chat, name, content, mime, file_size=size)
        await bot.settle()
        assert expected in d.private_messages(manager)[-1].text, name
    manager.send_photo(chat)
    await bot.settle()
    assert "请发送文件" in d.private_messages(manager)[-1].text
    manager.send(chat, "/cancel")
    await bot.settle()
    assert d.private_messages(manager)[-1].text == "已取消发布。"
    async with bot.services.db.session() as s:
        purposes = {row.purpose for row in (await s.exec(select(OutboxMessage))).all()}
    assert "document.post" not in purposes


async def test_a_pdf_is_posted_as_the_file(bot: BotUnderTest) -> None:
    _, people, group_a, _ = await plant_with_two_teams(bot)
    d = bot.driver
    manager = people["Manager Qian"]
    chat = d.private_chat(manager)
    manager.send(chat, "/publish")
    await bot.settle()
    manager.send_document(chat, "Hot work permit.pdf", b"%PDF-1.7 ...", "application/pdf",
                          caption="Permit rules <i>2027</i>")
    await bot.settle()
    manager.send(chat, "team-a", reply_to=d.private_messages(manager)[-1])  # keys typed
    await bot.settle()
    manager.click(d.private_messages(manager)[-1], "✅ 选好了")
    await bot.settle()
    manager.click(d.private_messages(manager)[-1], "📢 发布")
    await bot.settle()
    [file] = [m for m in group_a.bot_messages() if m.document]
    assert file.document["file_name"].endswith("Hot work permit.pdf")
    assert "Hot work permit（第 1 版）" in file.caption and "<i>2027</i>" in file.caption
    assert "已阅 0/2" in roll_call(group_a).text


async def test_publish_from_the_cli(bot: BotUnderTest, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot import cli

    _, _people, group_a, group_b = await plant_with_two_teams(bot)
    monkeypatch.setenv("DATABASE_URL", bot.db_url)
    monkeypatch.setattr(cli, "clock", lambda: bot.clock)
    code = await asyncio.to_thread(cli.main, ["documents", "publish", "confined-space",
                                              "--to", "ws"])
    assert code == 0
    await bot.drain_outbox()
    assert "已阅 0/2" in roll_call(group_a).text and "已阅 0/2" in roll_call(group_b).text
    code = await asyncio.to_thread(cli.main, ["documents", "publish", "nope", "--to", "ws"])
    assert code == 2
    code = await asyncio.to_thread(cli.main, ["documents", "publish", "hot-work", "--to", "x"])
    assert code == 2


async def test_a_read_held_back_by_the_throttle_is_shown_when_the_window_ends(
        bot: BotUnderTest) -> None:
    _, people, group_a, _ = await plant_with_two_teams(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await publish_from_library(bot, people["Manager Qian"], HOT_WORK, ["　合成车间"])
    await run_frequent_sweeps(bot)
    call = roll_call(group_a)
    worker.click(call, "已阅并理解")
    await bot.settle()
    assert "已阅 1/2" in call.text
    edits = call.edits
    bot.clock.advance(timedelta(seconds=2))
    leader.click(call, "已阅并理解")  # within the window: recorded, shown later
    await bot.settle()
    assert "已阅 1/2" in call.text and call.edits == edits
    bot.clock.advance(timedelta(seconds=9))  # the window has passed: the next 10 s sweep shows it
    await run_frequent_sweeps(bot)
    assert "已阅 2/2 ✅ 全员已阅" in call.text and call.edits == edits + 1


async def test_a_document_due_in_hours_reaches_the_workshop_at_the_end_of_the_shift(
        bot: BotUnderTest) -> None:
    _, people, group_a, _ = await plant_with_two_teams(bot)  # Monday 08:30 in Shanghai
    d = bot.driver
    manager, worker, officer = people["Manager Qian"], people["Worker Wu"], people["Officer Zhao"]
    bot.extra_settings["document_reminders"] = "4h,1d"  # 1d: after the due moment, skipped
    await bot.restart()
    chat = d.private_chat(manager)
    manager.send(chat, "/publish")
    await bot.settle()
    manager.send_document(chat, "shift-notice.md", (
        "---\nid: shift-notice\nversion: 1\ntitle: 本班检修通知\ndue: 8h\n---\n"
        "今天 3 号泵检修，禁止靠近。\n").encode(), "text/markdown")
    await bot.settle()
    manager.click(d.private_messages(manager)[-1], "　　合成甲班")
    await bot.settle()
    manager.click(d.private_messages(manager)[-1], "✅ 选好了")
    await bot.settle()
    assert "期限 8 小时" in d.private_messages(manager)[-1].text  # the preview
    manager.click(d.private_messages(manager)[-1], "📢 发布")
    await bot.settle()
    await bot.run_sweeps()
    call = roll_call(group_a)
    assert "本班检修通知" in call.text and "16:30" in call.text  # the due moment, with its time
    worker.click(call, "已阅并理解")
    await bot.settle()

    def reminders() -> list[str]:
        return [m.text for m in group_a.bot_messages() if "以下同事还没有确认" in (m.text or "")]

    bot.clock.advance(timedelta(hours=3, minutes=59))
    await bot.run_sweeps()
    assert reminders() == []
    bot.clock.advance(timedelta(minutes=1))  # 12:30: the 4h round, with the due moment
    await bot.run_sweeps()
    await bot.run_sweeps()
    [reminder] = reminders()
    assert "Leader Li" in reminder and "Worker Wu" not in reminder and "16:30" in reminder
    bot.clock.advance(timedelta(hours=3, minutes=59))  # 16:29: not yet due
    await bot.run_sweeps()
    assert not [m for m in d.private_messages(officer) if "到期，仍有" in (m.text or "")]
    bot.clock.advance(timedelta(minutes=1))  # 16:30: the end of the shift
    await bot.run_sweeps()
    await bot.run_sweeps()
    overdue = [m.text for m in d.private_messages(officer) if "到期，仍有" in (m.text or "")]
    assert len(overdue) == 1 and "未确认：Leader Li" in overdue[0], overdue
    assert "Worker Wu" not in overdue[0] and "16:30" in overdue[0]
    bot.clock.advance(timedelta(days=1))  # the 1d round fell after the due moment: none
    await bot.run_sweeps()
    assert len(reminders()) == 1
