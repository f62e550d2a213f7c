"""Less noise in the team group: what a hazard report leaves in the group chat.

Printed (``pytest -s``): messages left in the group per report, on each path. The
goal: the card (a photo and its text), plus at most one prompt on the private path.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from sqlmodel import select

from storage.models import Hazard, OutboxMessage
from tests.integration.conftest import BotUnderTest
from tests.integration.test_hazards import hazards, report, setup_plant

CARD = 2  # the photo and the card's text


def _left(group, before: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(messages left from anyone, from the bot) among those added since ``before``."""
    added = [m for m in bot_world(group) if m.message_id > before and not m.deleted]
    return len(added), sum(1 for m in added if m.by_bot_id is not None)


def bot_world(group):  # type: ignore[no-untyped-def]
    return group.driver.world.messages[group.id]


def _last_id(group) -> int:  # type: ignore[no-untyped-def]
    return max((m.message_id for m in bot_world(group)), default=0)


async def test_a_reporter_who_started_the_bot_reports_in_private(bot: BotUnderTest) -> None:
    ids, people, group = await setup_plant(bot)
    worker = people["Worker Wu"]
    d = bot.driver
    private = d.private_chat(worker)
    worker.start_bot()
    await bot.settle()
    before = _last_id(group)

    worker.send(group, "/report")
    await bot.settle()
    [invite] = [m for m in group.bot_messages() if m.message_id > before]
    assert "私聊" in (invite.text or "")
    [[button]] = invite.reply_markup["inline_keyboard"]  # type: ignore[index]
    url = urlparse(button["url"])
    assert url.netloc == "t.me" and url.path == f"/{bot.account.user.username}"
    # Opening the link: the client sends /start with the link's parameter.
    worker.send(private, f"/start {parse_qs(url.query)['start'][0]}")
    await bot.settle()
    assert "照片" in d.private_messages(worker)[-1].text
    worker.send_photo(private)
    await bot.settle()
    worker.send(private, "3号泵房东侧")
    await bot.settle()
    for label in ("电气", "较大", "跳过", "✅ 提交"):
        worker.click(d.private_messages(worker)[-1], label)
        await bot.settle()
    [hazard] = await hazards(bot)
    assert hazard.unit_id == ids["a"] and hazard.location_text == "3号泵房东侧"
    assert f"已登记隐患 {hazard.code}" in d.private_messages(worker)[-1].text
    assert any(hazard.code in (m.text or "") for m in group.bot_messages())

    left, by_bot = _left(group, before)
    print(f"\nprivate path: {left} messages left in the group per report "
          f"({by_bot} from the bot: the card and one prompt; 1 the /report command)")
    assert by_bot == CARD + 1 and left == CARD + 2


async def test_a_group_report_is_tidied_away_where_the_bot_may_delete(
        bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    d = bot.driver

    # Without the right to delete (a plain member): today's flow, every message stays.
    before = _last_id(group)
    await report(bot, worker, group)
    untidy, _ = _left(group, before)
    assert untidy > 10
    assert any("已登记隐患" in (m.text or "") for m in group.bot_messages() if not m.deleted)

    group.promote_bot(by=leader)
    await bot.settle()
    bot.clock.advance(timedelta(hours=25))
    before = _last_id(group)
    await report(bot, worker, group, description="阀门漏气")
    await bot.settle()
    left, by_bot = _left(group, before)
    codes = [h.code for h in await hazards(bot)]
    kept = [m for m in bot_world(group) if m.message_id > before and not m.deleted]
    assert len(codes) == 2 and any(codes[1] in (m.text or m.caption or "") for m in kept)
    print(f"\nin-group path, bot may delete: {left} messages left in the group per report "
          f"({by_bot} from the bot); without the right: {untidy}")
    assert (left, by_bot) == (CARD, CARD)
    assert not [e for e in d.errors if e.error_code >= 400]
    async with bot.services.db.session() as s:
        tidy = (await s.exec(select(OutboxMessage).where(
            OutboxMessage.method == "deleteMessages"))).all()
        assert [row.status for row in tidy] == ["sent"]
        assert len((await s.exec(select(Hazard))).all()) == 2


async def test_no_right_to_delete_keeps_todays_flow(bot: BotUnderTest) -> None:
    _, people, group = await setup_plant(bot)
    worker, leader = people["Worker Wu"], people["Leader Li"]
    group.promote_bot(by=leader, can_delete_messages=False)
    await bot.settle()
    before = _last_id(group)
    await report(bot, worker, group)
    left, _ = _left(group, before)
    [hazard] = await hazards(bot)
    assert left > 10
    assert any(f"已登记隐患 {hazard.code}" in (m.text or "") for m in group.bot_messages())
    async with bot.services.db.session() as s:
        assert not (await s.exec(select(OutboxMessage).where(
            OutboxMessage.method == "deleteMessages"))).all()
