"""The outbox through the test server: retries, exactly once, restarts, long texts."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from domain.telegram_html import strip_tags
from storage import outbox as outbox_repo
from storage.models import OutboxMessage
from tests.integration.conftest import BotUnderTest


async def queue(bot: BotUnderTest, chat_id: int, html: str, key: str | None = None) -> None:
    async with bot.services.db.transaction() as s:
        await outbox_repo.enqueue_text(s, chat_id=chat_id, html=html, now=bot.clock.now(),
                                       purpose="test", dedupe_key=key)


async def rows(bot: BotUnderTest) -> list[OutboxMessage]:
    async with bot.services.db.session() as s:
        return list((await s.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_429_and_502_are_retried_and_delivered_once(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    await bot.settle()
    before = len(group.bot_messages())
    bot.server.faults.add(method="sendMessage", retry_after=7, times=1)
    bot.server.faults.add(method="sendMessage", status=502, times=1)
    await queue(bot, group.id, "<b>班前会</b> 提醒", key="reminder:1")
    await queue(bot, group.id, "第二条", key="reminder:2")

    await bot.drain_outbox()  # 429: wait exactly 7 s, the second row waits behind it
    assert len(group.bot_messages()) == before
    bot.clock.advance(timedelta(seconds=6))
    assert await bot.drain_outbox() == 0  # not due yet
    bot.clock.advance(timedelta(seconds=1))
    await bot.drain_outbox()  # 502 on the second attempt: back off 4 s
    assert len(group.bot_messages()) == before
    bot.clock.advance(timedelta(seconds=3))
    assert await bot.drain_outbox() == 0
    bot.clock.advance(timedelta(seconds=1))
    await bot.drain_outbox()
    texts = [m.text for m in group.bot_messages()[before:]]
    assert texts == ["班前会 提醒", "第二条"]  # in order, each once
    first, second = await rows(bot)
    assert (first.status, first.attempts) == ("sent", 3)
    assert first.telegram_message_id == group.bot_messages()[before].message_id
    assert second.status == "sent"
    await bot.drain_outbox()
    assert len(group.bot_messages()) == before + 2  # sent stays sent


async def test_rejected_and_forbidden_are_given_up_with_the_reason(bot: BotUnderTest) -> None:
    d = bot.driver
    stranger = d.user("Never Started")
    await queue(bot, stranger.id, "hello")
    await queue(bot, -999999, "nowhere")
    await bot.drain_outbox()
    by_chat = {r.chat_id: r for r in await rows(bot)}
    assert by_chat[stranger.id].status == "failed"
    assert "can't initiate conversation" in (by_chat[stranger.id].last_error or "").lower()
    assert by_chat[-999999].status == "failed"
    assert "chat not found" in (by_chat[-999999].last_error or "").lower()


async def test_dropped_connection_is_retried(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice")
    alice.start_bot()
    await bot.settle()
    bot.server.faults.add(method="sendMessage", drop=True, times=1)
    await queue(bot, alice.id, "after a dropped connection")
    await bot.drain_outbox()
    bot.clock.advance(timedelta(seconds=2))
    await bot.drain_outbox()
    assert d.private_messages(alice)[-1].text == "after a dropped connection"


async def test_unsent_rows_go_out_after_a_restart(bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice")
    alice.start_bot()
    await bot.settle()
    await bot.stop()
    # Written while the bot was down (e.g. by the CLI or before a crash).
    from storage.db import Database

    db = Database(bot.db_url)
    async with db.transaction() as s:
        await outbox_repo.enqueue_text(s, chat_id=alice.id, html="写于停机期间",
                                       now=bot.clock.now(), purpose="test", dedupe_key="down:1")
    await db.dispose()
    await bot.start()  # the dispatcher's first pass sends what is due
    await d.wait_for(lambda: any(m.text == "写于停机期间" for m in d.private_messages(alice)))
    await bot.drain_outbox()
    assert [m.text for m in d.private_messages(alice)].count("写于停机期间") == 1


async def test_a_6000_character_document_arrives_whole_in_two_messages(
        bot: BotUnderTest) -> None:
    d = bot.driver
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    await bot.settle()
    before = len(group.bot_messages())
    line = "作业前检查防护用品，确认&lt;危险源&gt;已隔离。"
    paragraphs = [f"第{i}条：" + line * 14 for i in range(20)]
    html = "\n\n".join(paragraphs)
    assert 5500 < len(strip_tags(html)) < 7000
    await queue(bot, group.id, html, key="doc:1")
    await bot.drain_outbox()
    parts = group.bot_messages()[before:]
    assert len(parts) == 2
    assert all(len(p.text) <= 4096 for p in parts)
    assert "\n\n".join(p.text for p in parts) == strip_tags(html)
    assert not d.errors


async def test_a_restarted_process_sends_at_once_what_the_killed_one_held(
        bot: BotUnderTest) -> None:
    d = bot.driver
    alice, bob = d.user("Alice"), d.user("Bob")
    alice.start_bot()
    bob.start_bot()
    await bot.settle()
    assert bot.services.outbox is not None
    instance = bot.services.outbox.instance
    await bot.stop()
    from storage.db import Database

    db = Database(bot.db_url)
    lease = timedelta(minutes=2)
    async with db.transaction() as s:  # claimed by this instance's process, killed since
        await outbox_repo.enqueue_text(s, chat_id=alice.id, html="被中断的通知",
                                       now=bot.clock.now(), purpose="test")
        await outbox_repo.claim_due(s, now=bot.clock.now(), owner=f"{instance}#killed000000",
                                    lease=lease)
    async with db.transaction() as s:  # claimed by a live standby: not ours to take
        await outbox_repo.enqueue_text(s, chat_id=bob.id, html="备机正在发送",
                                       now=bot.clock.now(), purpose="test")
        await outbox_repo.claim_due(s, now=bot.clock.now(), owner="standby-host#alive0000000",
                                    lease=lease)
    await db.dispose()

    await bot.start()  # the same clock: not a second of the lease has passed
    await d.wait_for(lambda: any(m.text == "被中断的通知" for m in d.private_messages(alice)))
    await bot.drain_outbox()
    assert [m.text for m in d.private_messages(alice)].count("被中断的通知") == 1
    assert not any(m.text == "备机正在发送" for m in d.private_messages(bob))
    by_chat = {r.chat_id: r for r in await rows(bot)}
    assert (by_chat[bob.id].status, by_chat[bob.id].lease_owner) == \
        ("sending", "standby-host#alive0000000")

    bot.clock.advance(lease + timedelta(seconds=1))  # the standby died and stopped renewing
    await bot.drain_outbox()
    assert [m.text for m in d.private_messages(bob)].count("备机正在发送") == 1
