"""随手拍 to escalation: the hazard scenarios, as people live them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from domain.org import Role
from storage import people as people_repo
from storage.models import Hazard, HazardEvent
from tests.integration.conftest import BotUnderTest
from tests.integration.test_groups import bind, grant, last_text, make_org


async def setup_plant(bot: BotUnderTest):  # type: ignore[no-untyped-def]
    ids = await make_org(bot)
    d = bot.driver
    people = {name: d.user(name) for name in ("Worker Wu", "Leader Li", "Officer Zhao",
                                              "Manager Qian")}
    await grant(bot, people["Leader Li"], ids["a"], Role.TEAM_LEADER)
    await grant(bot, people["Officer Zhao"], ids["ws"], Role.SAFETY_OFFICER)
    await grant(bot, people["Manager Qian"], ids["acme"], Role.MANAGER)
    for name in ("Officer Zhao", "Manager Qian"):
        people[name].start_bot()
    group = d.group("合成甲班", members=[people["Worker Wu"], people["Leader Li"]],
                    admins=[people["Leader Li"]])
    await bind(bot, group, people["Leader Li"])
    return ids, people, group


async def report(bot: BotUnderTest, worker, group, *, description: str | None = "配电箱门未关"):  # type: ignore[no-untyped-def]
    worker.send(group, "/report")
    await bot.settle()
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.send(group, "3号泵房东侧", reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.click(group.bot_messages()[-1], "电气")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "较大")
    await bot.settle()
    if description is None:
        worker.click(group.bot_messages()[-1], "跳过")
    else:
        worker.send(group, description, reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.click(group.bot_messages()[-1], "✅ 提交")
    await bot.settle()


async def report_the_first_photo_again(bot: BotUnderTest, person, group) -> None:  # type: ignore[no-untyped-def]
    """Answer the photo prompt with the group's first photo (the same file), and submit."""
    first_photo = next(m for m in bot.server.world.messages[group.id] if m.photo
                       and m.by_bot_id is None)
    person.send_photo(group, same_as=first_photo, reply_to=group.bot_messages()[-1])
    await bot.settle()
    person.send(group, "同一处", reply_to=group.bot_messages()[-1])
    await bot.settle()
    for label in ("电气", "一般", "跳过", "✅ 提交"):
        person.click(group.bot_messages()[-1], label)
        await bot.settle()


async def hazards(bot: BotUnderTest) -> list[Hazard]:
    async with bot.services.db.session() as s:
        return list((await s.exec(select(Hazard))).all())


@pytest.mark.parametrize("restarts", [False, True], ids=["running", "restarted-each-step"])
async def test_report_escalate_acknowledge_escalate_again(bot: BotUnderTest,
                                                         restarts: bool) -> None:
    async def later(delta: timedelta) -> None:
        """Time passes; with ``restarts`` the bot is down meanwhile and comes back."""
        if restarts:
            await bot.stop()
        bot.clock.advance(delta)
        if restarts:
            await bot.start()
        await bot.run_sweeps()  # what the JobQueue does at start-up and every minute

    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    d = bot.driver

    await report(bot, worker, group, description="配电箱门未关 <b>&</b> 线头裸露")
    [hazard] = await hazards(bot)
    assert hazard.code == "YH-20261123-0001" and hazard.state == "reported"
    assert hazard.severity == "serious" and hazard.category == "electrical"
    texts = [m.text or m.caption for m in group.bot_messages()]
    assert any("已登记隐患 YH-20261123-0001" in (t or "") for t in texts)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    assert "配电箱门未关 <b>&</b> 线头裸露" in card.text  # markup shown, not obeyed
    assert any(m.photo for m in group.bot_messages())
    assert list((bot.media_dir / "hazards").glob("*.jpg"))  # evidence kept locally

    # Nobody acknowledges. Serious: 2 h to acknowledge, then the workshop, then the enterprise.
    await later(timedelta(hours=1, minutes=59))
    assert not [m for m in d.private_messages(officer) if "YH-" in m.text]
    await later(timedelta(minutes=1))
    alert = d.private_messages(officer)[-1]
    assert "YH-20261123-0001" in alert.text and "超过受理时限" in alert.text
    assert not [m for m in d.private_messages(manager) if "YH-" in m.text]
    await bot.run_sweeps()  # the same moment again: nothing twice
    assert len([m for m in d.private_messages(officer) if "YH-" in m.text]) == 1

    await later(timedelta(hours=4))
    manager_alert = d.private_messages(manager)[-1]
    assert "YH-20261123-0001" in manager_alert.text and "此前已通知：车间" in manager_alert.text

    # A worker cannot acknowledge; the leader can, from the card.
    cq = worker.click(card, "受理")
    await bot.settle()
    answer = d.callback_answer(cq)
    assert answer is not None and "只有班组长" in (answer["text"] or "")
    assert card.buttons == [["受理", "驳回", "查看"]]
    leader.click(card, "受理")
    await bot.settle()
    assert "已由 Leader Li 受理" in last_text(group)
    assert card.buttons == [["查看"]]  # acknowledged: the card keeps only "open"
    # The manager pressing the old alert's button hears who acknowledged it, and when.
    cq = manager.click(manager_alert, "受理")
    await bot.settle()
    late = (d.callback_answer(cq) or {}).get("text", "")
    assert "隐患 YH-20261123-0001 已由 Leader Li 于" in late and "受理" in late

    alerts_before = len(d.private_messages(officer))
    await later(timedelta(days=2))
    assert len(d.private_messages(officer)) == alerts_before  # acknowledged: clock reset
    await later(timedelta(days=1))  # past the 3-day rectification deadline
    assert "超过整改期限" in d.private_messages(officer)[-1].text

    worker.send(group, "/hazards")
    await bot.settle()
    assert "YH-20261123-0001" in last_text(group) and "已超期" in last_text(group)
    worker.send(group, "/hazard yh-20261123-0001")
    await bot.settle()
    detail = last_text(group)
    # Every history line is a sentence with who and when, never a stored event name.
    assert "11-23 08:30 Worker Wu 上报了隐患" in detail
    assert "11-23 10:30 超过受理时限，已通知 合成车间" in detail
    assert "Leader Li 受理了隐患" in detail
    for name in ("reported", "escalated", "acknowledged", "_"):
        assert name not in detail
    async with bot.services.db.session() as s:
        actions = [e.action for e in (await s.exec(select(HazardEvent))).all()]
    # workshop at 2 h, enterprise at 6 h (the workshop's 4 h repeat fell between two
    # sweeps and is not replayed), workshop again at the rectification deadline
    assert actions.count("escalated") == 3 and actions[0] == "reported"


async def test_a_restart_in_the_middle_of_a_report_loses_nothing(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    worker.send(group, "/report")
    await bot.settle()
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.send(group, "仓库门口", reply_to=group.bot_messages()[-1])
    await bot.settle()
    categories_prompt = group.bot_messages()[-1]
    await bot.restart()
    worker.click(categories_prompt, "消防")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "重大")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "跳过")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "✅ 提交")
    await bot.settle()
    [hazard] = await hazards(bot)
    assert (hazard.category, hazard.severity, hazard.location_text) == ("fire", "major", "仓库门口")


async def test_bad_input_is_answered_and_nothing_is_registered(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    worker.send(group, "/report")
    await bot.settle()
    worker.send_sticker(group, reply_to=group.bot_messages()[-1])  # not a photo
    await bot.settle()
    assert "请发送隐患照片" in last_text(group)
    worker.send_video(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "请发送隐患照片" in last_text(group)
    worker.send(group, "这里有个隐患", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "请发送隐患照片" in last_text(group)
    worker.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    worker.send(group, "地" * 300, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "200" in last_text(group)
    worker.send(group, "二号罐区", reply_to=group.bot_messages()[-1])
    await bot.settle()
    # Someone else presses the buttons of this report: refused, nothing changes.
    cq = leader.click(group.bot_messages()[-1], "电气")
    await bot.settle()
    assert "别人的上报" in (d.callback_answer(cq) or {}).get("text", "")
    cq = worker.click_data(group.bot_messages()[-1], "hr:cat:" + "x" * 20)
    await bot.settle()
    assert (d.callback_answer(cq) or {}).get("show_alert")
    worker.click(group.bot_messages()[-1], "电气")
    await bot.settle()
    worker.click(group.bot_messages()[-1], "一般")
    await bot.settle()
    worker.send(group, "说" * 5000, reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "最多 1000 字（现在 5000 字）" in last_text(group)
    # Left idle: after 15 minutes the draft is dropped and the worker is told.
    bot.clock.advance(timedelta(minutes=16))
    await bot.run_sweeps()
    assert "已作废" in last_text(group)
    assert await hazards(bot) == []
    assert not [e for e in d.errors if e.error_code >= 400 and "not modified" not in e.description]


async def test_cancel_and_hashtag_start(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    worker.send(group, "/report")
    await bot.settle()
    worker.send(group, "/cancel")
    await bot.settle()
    assert last_text(group) == "已取消隐患上报。"
    # In the private chat (with privacy mode on the bot does not see a plain group photo).
    d = bot.driver
    private = d.private_chat(worker)
    worker.send_photo(private, caption="#隐患 消防通道被货物堵住")
    await bot.settle()
    assert "隐患在哪里" in d.private_messages(worker)[-1].text
    worker.send(private, "成品库北门")
    await bot.settle()
    worker.click(d.private_messages(worker)[-1], "消防")
    await bot.settle()
    worker.click(d.private_messages(worker)[-1], "一般")
    await bot.settle()
    worker.click(d.private_messages(worker)[-1], "跳过")
    await bot.settle()
    assert "消防通道被货物堵住" in d.private_messages(worker)[-1].text
    worker.click(d.private_messages(worker)[-1], "✅ 提交")
    await bot.settle()
    [hazard] = await hazards(bot)
    assert hazard.description == "消防通道被货物堵住"
    # Reported privately, the card still goes to the worker's team group.
    assert any(hazard.code in (m.text or "") for m in group.bot_messages())


async def test_the_closed_loop_fix_verify_reopen_close_and_points(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer = people["Officer Zhao"]
    d = bot.driver
    await report(bot, worker, group, description=None)
    # /hazard CODE offers the next steps too: a lost or scrolled-away card strands nothing.
    leader.send(group, "/hazard YH-20261123-0001")
    await bot.settle()
    detail = group.bot_messages()[-1]
    assert detail.buttons == [["受理", "驳回"]]
    leader.click(detail, "受理")
    await bot.settle()
    acknowledged = group.bot_messages()[-1]
    assert acknowledged.buttons == [["填写五落实", "开始整改"], ["提交整改", "班组无法整改"]]

    for label in ("开始整改", "提交整改"):
        cq = worker.click(acknowledged, label)  # not responsible, not a leader
        await bot.settle()
        assert "整改负责人" in (d.callback_answer(cq) or {}).get("text", "")
    leader.click(acknowledged, "开始整改")
    await bot.settle()
    started = group.bot_messages()[-1]
    assert "已由 Leader Li 开始整改" in started.text
    [hazard] = await hazards(bot)
    assert hazard.state == "rectifying" and hazard.next_escalation_at is not None
    leader.click(started, "提交整改")
    await bot.settle()
    leader.send(group, "修好了", reply_to=group.bot_messages()[-1])  # no photo: refused
    await bot.settle()
    assert "必须附整改后的照片" in last_text(group)
    leader.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    fixed = group.bot_messages()[-1]
    assert "已由 Leader Li 整改" in fixed.text and "Worker Wu" in fixed.text
    cq = leader.click(fixed, "验证通过")  # the fixer cannot verify their own fix
    await bot.settle()
    assert "不能验证自己的整改" in (d.callback_answer(cq) or {}).get("text", "")

    worker.click(fixed, "验证不通过")  # the reporter is not satisfied
    await bot.settle()
    assert "验证未通过" in last_text(group)
    [hazard] = await hazards(bot)
    assert hazard.state == "reopened" and hazard.next_escalation_at is not None

    leader.click(group.bot_messages()[-1], "提交整改")
    await bot.settle()
    leader.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    officer_view = group.bot_messages()[-1]
    officer.click(officer_view, "验证通过")  # a safety officer verifies
    await bot.settle()
    assert "闭环关闭" in last_text(group) and "获得 3 分" in last_text(group)
    cq = officer.click(officer_view, "验证通过")  # a second press changes nothing
    await bot.settle()
    assert "状态已经变化" in (d.callback_answer(cq) or {}).get("text", "")
    [hazard] = await hazards(bot)
    assert hazard.state == "closed" and hazard.next_escalation_at is None
    worker.send(group, "/hazard YH-20261123-0001")
    await bot.settle()
    assert "YH-20261123-0001" in last_text(group)
    assert group.bot_messages()[-1].buttons == []  # closed: nothing left to press
    async with bot.services.db.session() as s:
        from storage import hazards as hazard_repo
        from storage import people as people_repo

        reporter = await people_repo.get_person(s, worker.id)
        assert reporter is not None
        assert await hazard_repo.points_of(s, reporter.id or 0) == 3
        photos = await hazard_repo.photos_of(s, hazard.id or 0)
        assert [p.kind for p in photos] == ["before", "after", "after"]
    bot.clock.advance(timedelta(days=30))
    await bot.run_sweeps()  # closed hazards never escalate (the monthly report came: photos)
    assert not [m for m in d.private_messages(officer) if "YH-" in (m.text or "")]


async def test_reject_needs_a_leader_and_a_reason_and_hand_up_reaches_the_workshop(
        bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    worker, leader, officer = people["Worker Wu"], people["Leader Li"], people["Officer Zhao"]
    d = bot.driver
    workshop_group = d.group("合成车间安全群", members=[officer], admins=[officer])
    workshop_group.add_bot(by=officer)
    await bot.settle()
    async with bot.services.db.transaction() as s:
        from storage import org as org_repo

        chat = await org_repo.get_group_chat(s, workshop_group.id)
        unit = await org_repo.get_unit(s, ids["ws"])
        assert chat is not None and unit is not None
        await org_repo.bind_chat(s, chat, unit, now=bot.clock.now())
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    cq = worker.click(card, "驳回")
    await bot.settle()
    assert "只有班组长" in (d.callback_answer(cq) or {}).get("text", "")
    leader.click(card, "驳回")
    await bot.settle()
    leader.send(group, "<i>不是隐患</i>：这是已隔离的旧设备", reply_to=group.bot_messages()[-1])
    await bot.settle()
    assert "已被 Leader Li 驳回：<i>不是隐患</i>" in last_text(group)
    assert card.buttons == [["查看"]]  # rejected: the card keeps only "open"
    [rejected] = await hazards(bot)
    assert rejected.state == "rejected" and rejected.next_escalation_at is None

    await report(bot, worker, group, description="需要停机更换的阀门")
    card = [m for m in group.bot_messages() if "请班组长在" in (m.text or "")][-1]
    leader.click(card, "受理")
    await bot.settle()
    leader.click(group.bot_messages()[-1], "班组无法整改")
    await bot.settle()
    assert "已移交 合成车间" in last_text(group)
    assert "已移交" in d.private_messages(officer)[-1].text
    # The workshop's own group (bound in the org file) sees the hazard arrive too.
    notice = workshop_group.bot_messages()[-1]
    assert "已移交 合成车间" in (notice.text or "") and notice.reply_markup is not None
    second = next(h for h in await hazards(bot) if h.state != "rejected")
    async with bot.services.db.session() as s:
        from storage import org as org_repo

        workshop = await org_repo.get_unit_by_key(s, "ws")
        assert workshop is not None and second.unit_id == workshop.id


def read_xlsx(content: bytes) -> list[list[object]]:
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(content)).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def read_sheet(content: bytes, title: str) -> list[dict[str, object]]:
    """The rows of one sheet of a workbook, as header → value."""
    from io import BytesIO

    from openpyxl import load_workbook

    header, *rows = load_workbook(BytesIO(content))[title].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


async def test_export_the_ledger_as_xlsx(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    await report(bot, worker, group, description="配电箱门未关")
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    leader.click(card, "受理")
    await bot.settle()
    bot.clock.advance(timedelta(days=4))  # a day past the 3-day deadline

    worker.send(group, "/export")
    await bot.settle()
    assert "私聊" in last_text(group)
    worker.send(d.private_chat(worker), "/export")
    await bot.settle()
    assert "只有班组长" in d.private_messages(worker)[-1].text
    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    sent = d.private_messages(leader)[-1]
    assert sent.document is not None and "隐患 1 条" in (sent.caption or "")
    stored = bot.server.world.files[sent.document["file_id"]]
    header, row = read_xlsx(stored.content)
    assert header[:3] == ["序号", "隐患编号", "上报日期"] and header[-2:] == ["超期天数", "照片"]
    values = dict(zip(header, row, strict=True))
    assert values["隐患编号"] == "YH-20261123-0001" and values["班组"] == "合成甲班"
    assert values["上报人"] == "Worker Wu" and values["责任人"] == "Leader Li"
    assert values["类别"] == "电气" and values["等级"] == "较大" and values["状态"] == "已受理"
    assert values["地点"] == "3号泵房东侧" and values["描述"] == "配电箱门未关"
    assert values["超期天数"] == 1 and values["整改期限"] and values["受理时间"]
    assert "before: " in str(values["照片"])

    leader.send(d.private_chat(leader), "/export 2026-13-01")
    await bot.settle()
    assert "日期格式" in d.private_messages(leader)[-1].text


async def test_ledger_export_from_the_cli(bot: BotUnderTest, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from bot.cli import main

    _, people, group = await setup_plant(bot)
    await report(bot, people["Worker Wu"], group, description=None)
    monkeypatch.setenv("DATABASE_URL", bot.db_url)
    out = tmp_path / "ws.xlsx"
    code = await asyncio.to_thread(main, ["ledger", "export", "--unit", "ws", "--from",
                                          "2026-11-01", "--to", "2026-11-30", "--lang", "en",
                                          "--out", str(out)])
    assert code == 0
    header, row = read_xlsx(out.read_bytes())
    assert header[1] == "Code" and row[1] == "YH-20261123-0001" and row[7] == "serious"
    assert read_sheet(out.read_bytes(), "Shift handovers") == []  # the sheets are there
    assert read_sheet(out.read_bytes(), "Pre-shift meetings") == []
    code = await asyncio.to_thread(main, ["ledger", "export", "--unit", "nope"])
    assert code == 2


async def test_five_in_place_after_acknowledging(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    leader.click(card, "受理")
    await bot.settle()
    acknowledged = group.bot_messages()[-1]
    cq = worker.click(acknowledged, "填写五落实")
    await bot.settle()
    assert "只有班组长" in (d.callback_answer(cq) or {}).get("text", "")

    leader.click(acknowledged, "填写五落实")
    await bot.settle()
    for answer, expect in [("@nobody", "找不到该用户"), ("我", "2/5"),
                           ("断电挂牌，<b>更换</b>箱门锁", "3/5"), ("无", "4/5"),
                           ("明天", "请回复日期"), ("2026-11-30", "5/5"), ("默认", "五落实已登记")]:
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
        assert expect in last_text(group), (answer, last_text(group))
    saved = last_text(group)
    assert "责任人：Leader Li" in saved and "断电挂牌，<b>更换</b>箱门锁" in saved
    assert "设置隔离和警示标识" in saved  # the default plan for a serious hazard
    [hazard] = await hazards(bot)
    assert hazard.funds == "无" and hazard.measures == "断电挂牌，<b>更换</b>箱门锁"
    assert hazard.deadline is not None and hazard.deadline.isoformat().startswith(
        "2026-11-30T10:00")  # 18:00 in Shanghai
    assert hazard.watch_deadline == hazard.deadline  # escalation follows the new deadline

    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    stored = bot.server.world.files[d.private_messages(leader)[-1].document["file_id"]]
    header, row = read_xlsx(stored.content)
    values = dict(zip(header, row, strict=True))
    assert values["整改措施"] == "断电挂牌，<b>更换</b>箱门锁" and values["资金"] == "无"
    assert values["整改期限"] == "2026-11-30 18:00" and "设置隔离" in str(values["应急预案"])


async def test_the_same_photo_twice_and_an_image_file_too_big(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    await report(bot, worker, group, description=None)
    # The leader snaps the same scene (the same file) an hour later: linked, not doubled.
    bot.clock.advance(timedelta(hours=1))
    leader.send(group, "/report")
    await bot.settle()
    leader.send_document(group, "big.jpg", b"x", "image/jpeg", reply_to=group.bot_messages()[-1],
                         file_size=30 * 1024 * 1024)
    await bot.settle()
    assert "超过 20 MB" in last_text(group)
    await report_the_first_photo_again(bot, leader, group)
    assert "24 小时内已登记为隐患 YH-20261123-0001" in last_text(group)
    assert len(await hazards(bot)) == 1
    # After 24 hours the same photo is a new report.
    bot.clock.advance(timedelta(hours=24))
    await report(bot, worker, group, description=None)
    assert len(await hazards(bot)) == 2


async def test_two_leaders_at_once_and_another_teams_leader(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver
    second_leader, other_leader = d.user("Leader Sun"), d.user("Leader of B")
    await grant(bot, second_leader, ids["a"], Role.TEAM_LEADER)
    await grant(bot, other_leader, ids["b"], Role.TEAM_LEADER)
    await report(bot, worker, group, description=None)
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    cq_other = other_leader.click(card, "受理")  # leads team B, not this team
    cq_one = leader.click(card, "受理")  # both press before the bot answers either
    cq_two = second_leader.click(card, "受理")
    await bot.settle()
    assert "只有班组长" in (d.callback_answer(cq_other) or {}).get("text", "")
    assert d.callback_answer(cq_one) == {"text": None, "show_alert": False}
    loser = d.callback_answer(cq_two) or {}
    # Whether it came after (SQLite queues the writers) or lost the race in the
    # compare-and-set (PostgreSQL lets both run at once): nothing done twice, it is told.
    text = loser.get("text") or ""
    told = ("状态已经变化", "已由 Leader Li 于", "另一位负责人刚刚已处理")
    assert loser.get("show_alert") and any(sentence in text for sentence in told)
    [hazard] = await hazards(bot)
    assert hazard.state == "acknowledged" and hazard.version == 2
    async with bot.services.db.session() as s:
        actions = [e.action for e in (await s.exec(select(HazardEvent))).all()]
    assert actions.count("acknowledged") == 1


async def test_an_unreachable_level_is_recorded_and_the_next_level_told(
        bot: BotUnderTest) -> None:
    ids = await make_org(bot)
    d = bot.driver
    worker, leader = d.user("Worker Wu"), d.user("Leader Li")
    officer, manager = d.user("Officer Zhao"), d.user("Manager Qian")
    await grant(bot, leader, ids["a"], Role.TEAM_LEADER)
    await grant(bot, officer, ids["ws"], Role.SAFETY_OFFICER)  # never pressed Start
    await grant(bot, manager, ids["acme"], Role.MANAGER)
    manager.start_bot()
    group = d.group("合成甲班", members=[worker, leader], admins=[leader])
    await bind(bot, group, leader)
    await report(bot, worker, group, description=None)
    bot.clock.advance(timedelta(hours=2))  # the acknowledgement deadline of a serious hazard
    await bot.run_sweeps()
    assert "YH-20261123-0001" in d.private_messages(manager)[-1].text  # not 4 h later: now
    async with bot.services.db.session() as s:
        events = [e for e in (await s.exec(select(HazardEvent))).all()
                  if e.action == "escalated"]
    assert "Officer Zhao (no Start)" in (events[0].detail or "")
    bot.clock.advance(timedelta(hours=3, minutes=59))
    await bot.run_sweeps()  # before the enterprise's 4-hourly repeat: nothing new
    assert len([m for m in d.private_messages(manager) if "YH-" in m.text]) == 1
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_sweeps()  # the repeat
    assert len([m for m in d.private_messages(manager) if "YH-" in m.text]) == 2


async def test_an_alert_blocked_after_it_was_queued_goes_up_a_level(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, officer, manager = people["Worker Wu"], people["Officer Zhao"], people["Manager Qian"]
    d = bot.driver
    await report(bot, worker, group, description=None)
    officer.block_bot()  # the bot cannot know until Telegram answers 403
    bot.clock.advance(timedelta(hours=2))  # the acknowledgement deadline of a serious hazard
    await bot.run_sweeps()  # the workshop's alert is queued for the officer and refused
    assert not [m for m in d.private_messages(manager) if "YH-" in m.text]
    bot.clock.advance(timedelta(minutes=1))
    await bot.run_sweeps()  # the next sweep sees that nobody at the workshop was reached
    assert "YH-20261123-0001" in d.private_messages(manager)[-1].text  # not 4 h later: now
    async with bot.services.db.session() as s:
        events = [e for e in (await s.exec(select(HazardEvent))).all()
                  if e.action == "escalated"]
        person = await people_repo.get_person(s, officer.id)
    assert '"undelivered": "workshop"' in (events[-1].detail or "")
    assert person is not None and person.blocked
    for _ in range(2):
        bot.clock.advance(timedelta(minutes=1))
        await bot.run_sweeps()  # dealt with once
    assert len([m for m in d.private_messages(manager) if "YH-" in m.text]) == 1
    [hazard] = await hazards(bot)
    assert hazard.alerted_level == 1


async def test_album_and_location_in_private_and_outsiders_refused(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    d = bot.driver
    worker.send(group, "/whoami")  # privacy mode: the bot learns members from commands
    await bot.settle()
    private = d.private_chat(worker)
    worker.send(private, "/report")
    await bot.settle()
    worker.send_media_group(private, photos=3)  # an album is one step
    await bot.settle()
    prompts = [m.text for m in d.private_messages(worker) if "在哪里" in m.text]
    assert len(prompts) == 1
    worker.send_location(private, 31.23416, 121.47701)
    await bot.settle()
    for label in ("机械设备", "一般", "跳过"):
        worker.click(d.private_messages(worker)[-1], label)
        await bot.settle()
    assert "照片：3 张" in d.private_messages(worker)[-1].text
    worker.click(d.private_messages(worker)[-1], "✅ 提交")
    await bot.settle()
    [hazard] = await hazards(bot)
    assert (hazard.latitude, hazard.longitude) == (31.23416, 121.47701)
    async with bot.services.db.session() as s:
        from storage import hazards as hazard_repo

        assert len(await hazard_repo.photos_of(s, hazard.id or 0)) == 3

    outsider = d.user("Visitor")
    visitor_chat = d.private_chat(outsider)
    outsider.send(visitor_chat, "/report")
    await bot.settle()
    outsider.send_photo(visitor_chat)
    await bot.settle()
    outsider.send(visitor_chat, "门口")
    await bot.settle()
    for label in ("其他", "一般", "跳过", "✅ 提交"):
        outsider.click(d.private_messages(outsider)[-1], label)
        await bot.settle()
    assert "不属于任何已绑定的班组" in d.private_messages(outsider)[-1].text
    assert len(await hazards(bot)) == 1


@pytest.mark.parametrize("restarts", [False, True], ids=["running", "restarted-each-step"])
async def test_done_when_the_whole_story(bot: BotUnderTest, restarts: bool) -> None:
    """The hazard issue's "done when", step by step, optionally restarting in between."""

    async def step() -> None:
        if restarts:
            await bot.restart()

    async def later(delta: timedelta) -> None:
        if restarts:
            await bot.stop()
        bot.clock.advance(delta)
        if restarts:
            await bot.start()
        await bot.run_sweeps()

    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    officer, manager = people["Officer Zhao"], people["Manager Qian"]
    d = bot.driver

    def alerts(person) -> list[str]:  # type: ignore[no-untyped-def]
        return [m.text for m in d.private_messages(person) if "🔺" in m.text]

    await report(bot, worker, group, description="配电箱门未关")  # a serious hazard
    await step()
    card = next(m for m in group.bot_messages() if "请班组长在" in (m.text or ""))
    await later(timedelta(hours=2))  # the leader does not react
    assert len(alerts(officer)) == 1 and alerts(manager) == []
    await later(timedelta(hours=4))
    assert len(alerts(manager)) == 1

    leader.click(card, "受理")
    await bot.settle()
    await step()
    leader.click(group.bot_messages()[-1], "填写五落实")
    await bot.settle()
    for answer in ("我", "断电挂牌后更换箱门", "500 元", "1d", "默认"):
        await step()
        leader.send(group, answer, reply_to=group.bot_messages()[-1])
        await bot.settle()
    assert "五落实已登记" in last_text(group)
    before = (len(alerts(officer)), len(alerts(manager)))
    await later(timedelta(hours=23))
    assert (len(alerts(officer)), len(alerts(manager))) == before  # deadline not yet passed
    await later(timedelta(hours=1))  # the 1-day deadline passes: escalation resumes
    assert len(alerts(officer)) == before[0] + 1 and "超过整改期限" in alerts(officer)[-1]

    five = next(m for m in group.bot_messages() if "五落实已登记" in (m.text or ""))
    assert five.buttons == [["开始整改", "提交整改"], ["班组无法整改"]]
    await step()
    leader.click(five, "提交整改")
    await bot.settle()
    leader.send_photo(group, reply_to=group.bot_messages()[-1])
    await bot.settle()
    await step()
    worker.click(group.bot_messages()[-1], "验证通过")  # the reporter verifies
    await bot.settle()
    assert "闭环关闭" in last_text(group) and "Worker Wu 获得 3 分" in last_text(group)

    await later(timedelta(days=10))  # closed: silence from now on
    final = (len(alerts(officer)), len(alerts(manager)))
    assert final == (before[0] + 1, before[1])

    leader.send(d.private_chat(leader), "/export")
    await bot.settle()
    stored = bot.server.world.files[d.private_messages(leader)[-1].document["file_id"]]
    header, row = read_xlsx(stored.content)
    values = dict(zip(header, row, strict=True))
    assert values["状态"] == "已关闭" and values["责任人"] == "Leader Li"
    assert values["整改措施"] == "断电挂牌后更换箱门" and values["资金"] == "500 元"
    assert values["应急预案"] and values["验证时间"] and values["关闭时间"]
    assert values["超期天数"] == 0 and str(values["照片"]).count("after: ") == 1
    async with bot.services.db.session() as s:
        escalations = [e for e in (await s.exec(select(HazardEvent))).all()
                       if e.action == "escalated"]
    assert len(escalations) == 3  # workshop, enterprise, workshop again: none doubled
