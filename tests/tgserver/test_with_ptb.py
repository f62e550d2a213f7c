"""PTB as a client of the test server, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from tgserver import TelegramTestServer


@pytest.fixture
async def server() -> AsyncIterator[TelegramTestServer]:
    srv = TelegramTestServer()
    await srv.start()
    yield srv
    await srv.stop()


async def test_a_real_client_sees_telegram(server: TelegramTestServer) -> None:
    account = server.create_bot(username="ClientBot")
    d = server.driver(account)
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    async with Bot(account.token, base_url=server.base_url,
                   base_file_url=server.base_file_url) as bot:
        me = await bot.get_me()
        assert me.username == "ClientBot" and not me.can_read_all_group_messages
        updates = await bot.get_updates(timeout=1)
        assert updates[0].my_chat_member is not None
        assert updates[1].message is not None and updates[1].message.new_chat_members

        # A long poll returns as soon as someone writes.
        alice.send(group, "/help@ClientBot")
        updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=5)
        assert updates[0].message is not None and updates[0].message.text == "/help@ClientBot"
        assert updates[0].message.entities[0].type == "bot_command"
        await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        await d.until_delivered()

        markup = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
        sent = await bot.send_message(group.id, "<b>hi</b>", parse_mode="HTML",
                                      reply_markup=markup)
        assert group.bot_messages()[-1].text == "hi"
        with pytest.raises(BadRequest, match=r"(?i)not modified"):
            await bot.edit_message_text("<b>hi</b>", group.id, sent.message_id,
                                        parse_mode="HTML", reply_markup=markup)
        await bot.edit_message_text("hello", group.id, sent.message_id)
        assert group.bot_messages()[-1].text == "hello"
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(group.id, "<x>", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(group.id, "x", reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="d" * 65)]]))

        server.faults.add("sendMessage", retry_after=3)
        with pytest.raises(RetryAfter):
            await bot.send_message(group.id, "flood")

        member = await bot.get_chat_member(group.id, alice.id)
        assert member.status == "creator"
        chat = await bot.get_chat(group.id)
        assert chat.title == "G"

        # Upload, then fetch it back through getFile.
        photo = await bot.send_photo(group.id, b"\xff\xd8fake-jpeg", caption="c")
        file = await bot.get_file(photo.photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == b"\xff\xd8fake-jpeg"

        new_id = group.migrate_to_supergroup()
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(group.id, "old id")
        assert migrated.value.new_chat_id == new_id

        supergroup = d.chat(new_id)
        supergroup.kick_bot(by=alice)
        with pytest.raises(Forbidden, match=r"(?i)kicked"):
            await bot.send_message(new_id, "after kick")
        with pytest.raises(Forbidden, match=r"(?i)initiate conversation"):
            await bot.send_message(d.user("Stranger").id, "hi")
    assert [e.error_code for e in d.errors][-2:] == [403, 403]


async def test_privacy_mode_hides_plain_group_messages(server: TelegramTestServer) -> None:
    quiet = server.create_bot(username="QuietBot")
    d = server.driver(quiet)
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    before = len(quiet.queue)
    alice.send(group, "just chatting")
    alice.send(group, "/cmd@OtherBot")
    alice.send_photo(group)
    assert len(quiet.queue) == before
    alice.send(group, "hey @QuietBot")
    alice.send(group, "/cmd")
    assert len(quiet.queue) == before + 2


async def test_deleting_follows_the_admin_rights(server: TelegramTestServer) -> None:
    account = server.create_bot(username="TidyBot")
    d = server.driver(account)
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    async with Bot(account.token, base_url=server.base_url,
                   base_file_url=server.base_file_url) as bot:
        own = await bot.send_message(group.id, "mine")
        theirs = alice.send(group, "hers")
        # A plain member deletes its own messages, never other people's.
        with pytest.raises(BadRequest, match="can't be deleted"):
            await bot.delete_message(group.id, theirs.message_id)
        assert await bot.delete_message(group.id, own.message_id)
        member = await bot.get_chat_member(group.id, account.user.id)
        assert member.status == "member"

        group.promote_bot(by=alice, can_delete_messages=False)
        member = await bot.get_chat_member(group.id, account.user.id)
        assert member.status == "administrator" and not member.can_delete_messages  # type: ignore[attr-defined]
        with pytest.raises(BadRequest, match="can't be deleted"):
            await bot.delete_messages(group.id, [theirs.message_id])

        group.promote_bot(by=alice)
        member = await bot.get_chat_member(group.id, account.user.id)
        assert member.can_delete_messages  # type: ignore[attr-defined]
        other = alice.send(group, "again")
        # deleteMessages skips what is already gone.
        assert await bot.delete_messages(group.id, [theirs.message_id, other.message_id,
                                                    own.message_id])
        assert [m.text for m in group.visible_messages() if m.text] == []


async def test_a_press_is_answered_within_telegrams_window_only(
        server: TelegramTestServer) -> None:
    account = server.create_bot(username="WindowBot")
    d = server.driver(account)
    alice = d.user("Alice")
    group = d.group("G", members=[alice], admins=[alice])
    group.add_bot(by=alice)
    async with Bot(account.token, base_url=server.base_url,
                   base_file_url=server.base_file_url) as bot:
        message = await bot.send_message(group.id, "check in", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("in", callback_data="x")]]))
        posted = group.bot_messages()[-1]
        assert posted.message_id == message.message_id
        in_time = alice.click(posted, "in")
        assert await bot.answer_callback_query(in_time, text="ok")
        assert account.callback_answered_at[in_time] >= account.callback_pressed_at[in_time]
        # Telegram stops waiting after about 15 s; a window already closed shows it.
        account.callback_answer_window = -1.0
        too_late = alice.click(posted, "in")
        with pytest.raises(BadRequest, match="too old"):
            await bot.answer_callback_query(too_late, text="ok")
        assert too_late not in account.callback_answered_at
