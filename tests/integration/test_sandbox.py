"""The local sandbox: its JSON API, as the page uses it, with the real bot behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox import Sandbox, SandboxOptions, banner
from bot.settings import Settings
from tgserver.sandbox import SAMPLE_PHOTO

pytestmark = pytest.mark.sqlite_only(
    "the local sandbox keeps its demo in its own SQLite file by design")

START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Tuesday 07:30 in Shanghai
UPLOAD_LIMIT = 64 * 1024


def options(data_dir: Path, *, reset: bool = False) -> SandboxOptions:
    return SandboxOptions(data_dir=data_dir, port=0, reset=reset, start=START,
                          upload_limit=UPLOAD_LIMIT)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    box = Sandbox(Settings(_env_file=None), options(tmp_path / "data"))  # type: ignore[call-arg]
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


@pytest.fixture
async def web(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
        yield client


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["ok"] is True
    return body


def chat_id(sandbox: Sandbox, title: str) -> int:
    return sandbox.groups[title].id


async def view(web: httpx.AsyncClient, persona: str, chat: int) -> dict[str, Any]:
    return await ok(await web.get(f"/api/chats/{chat}", params={"persona": persona}))


async def bot_said(sandbox: Sandbox, chat: int, text: str, *, after: int = 0) -> dict[str, Any]:
    """Wait (on the server's events) until the bot has a message with ``text`` in the chat."""
    world = sandbox.server.world

    def found() -> bool:
        return any(m.by_bot_id and m.message_id > after and not m.deleted
                   and text in (m.text or m.caption or "") for m in world.messages[chat])

    await sandbox.driver.wait_for(found, timeout=15)  # type: ignore[union-attr]
    message = next(m for m in reversed(world.messages[chat]) if m.by_bot_id
                   and not m.deleted and text in (m.text or m.caption or ""))
    return {"id": message.message_id, "buttons": (message.reply_markup or {}).get(
        "inline_keyboard", [])}


def data_of(message: dict[str, Any], label: str) -> str:
    for row in message["buttons"]:
        for button in row:
            if button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r} in {message['buttons']}")


async def test_personas_chats_and_command_menus(sandbox: Sandbox, web: httpx.AsyncClient) -> None:
    state = await ok(await web.get("/api/state"))
    assert [p["id"] for p in state["personas"]] == ["wang", "li", "zhang", "zhou", "tom", "zhao",
                                                    "qian"]
    assert state["personas"][0]["name"] == "王工" and state["clock"] == START.isoformat()
    assert state["steps"] == [15, 60, 240, 1440]

    worker = (await ok(await web.get("/api/chats", params={"persona": "wang"})))["chats"]
    assert [c["title"] for c in worker] == ["合成甲班", "安全助手"]
    assert worker[-1]["type"] == "private" and worker[-1]["id"] == sandbox.people["wang"].id
    officer = (await ok(await web.get("/api/chats", params={"persona": "zhao"})))["chats"]
    assert {c["title"] for c in officer} == {"合成甲班", "合成乙班", "合成车间", "安全助手"}

    team = chat_id(sandbox, "合成甲班")
    worker_menu = [c["command"] for c in (await view(web, "wang", team))["commands"]]
    leader_menu = [c["command"] for c in (await view(web, "li", team))["commands"]]
    assert "report" in worker_menu and "setup" not in worker_menu
    assert "setup" in leader_menu  # the group's admin gets the admins' menu
    tom_menu = (await view(web, "tom", chat_id(sandbox, "合成乙班")))["commands"]
    assert any("hazard" in c["description"].lower() for c in tom_menu)  # English menu
    # The demo plant published the hot-work rule: the team group has it to acknowledge.
    messages = (await view(web, "wang", team))["messages"]
    assert any(b["text"] == "已阅并理解" for m in messages for row in m.get("buttons", [])
               for b in row)


async def test_a_report_from_the_page_climbs_to_the_workshop(sandbox: Sandbox,
                                                            web: httpx.AsyncClient) -> None:
    team, workshop = chat_id(sandbox, "合成甲班"), chat_id(sandbox, "合成车间")
    await ok(await web.post(f"/api/chats/{team}/send", json={"persona": "wang",
                                                             "text": "/report"}))
    prompt = await bot_said(sandbox, team, "隐患照片")
    # The prompt is a ForceReply for the worker: the page opens a reply to it.
    assert (await view(web, "wang", team))["reply_to"] == prompt["id"]
    assert (await view(web, "zhang", team))["reply_to"] is None
    sent = await ok(await web.post(f"/api/chats/{team}/send", json={
        "persona": "wang", "sample_photo": True, "reply_to": prompt["id"]}))
    assert sent["message"]["photo"].startswith("/files/")
    photo = await web.get(sent["message"]["photo"])
    assert photo.status_code == 200 and photo.content == SAMPLE_PHOTO.read_bytes()

    where = await bot_said(sandbox, team, "隐患在哪里")
    await ok(await web.post(f"/api/chats/{team}/send", json={
        "persona": "wang", "location": {"latitude": 31.23, "longitude": 121.47},
        "reply_to": where["id"]}))
    kinds = await bot_said(sandbox, team, "请选择隐患类别")
    answer = await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": kinds["id"], "data": data_of(kinds, "电气")}))
    assert "answer" in answer
    levels = await bot_said(sandbox, team, "请选择隐患等级")
    await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": levels["id"], "data": data_of(levels, "重大")}))
    skip = await bot_said(sandbox, team, "跳过")
    await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": skip["id"], "data": data_of(skip, "跳过")}))
    confirm = await bot_said(sandbox, team, "请确认隐患上报")
    await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": confirm["id"], "data": data_of(confirm, "✅ 提交")}))
    card = await bot_said(sandbox, team, "请班组长在")

    # The worker may not acknowledge; the bot says why, and the page shows it.
    refused = await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": card["id"], "data": data_of(card, "受理")}))
    assert "班组长" in (refused["answer"] or {}).get("text", "")
    await ok(await web.post(f"/api/chats/{team}/click", json={
        "persona": "li", "message_id": card["id"], "data": data_of(card, "受理")}))
    await bot_said(sandbox, team, "已由 李班长 受理")
    shown = sandbox.server.world.find_message(team, card["id"])
    assert shown is not None
    await sandbox.driver.wait_for(lambda: shown.edits > 0, timeout=15)  # type: ignore[union-attr]
    edited = next(m for m in (await view(web, "li", team))["messages"] if m["id"] == card["id"])
    assert edited["edited"] and [b["text"] for row in edited["buttons"] for b in row] == ["查看"]

    # A day later the major hazard is past its rectification deadline: the workshop hears.
    before = len(sandbox.server.world.messages[workshop])
    moved = await ok(await web.post("/api/clock", json={"minutes": 1440}))
    assert moved["clock"] == "2026-11-24T23:30:00+00:00"
    assert sandbox.services.clock.now() == datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    said = await bot_said(sandbox, workshop, "超过整改期限", after=before)
    # Not necessarily the last message: the pre-shift checks missed meanwhile are told too.
    alert = next(m for m in (await view(web, "zhao", workshop))["messages"]
                 if m["id"] == said["id"])
    assert "YH-20261124-0001" in alert["html"]
    assert alert["date"] == int(datetime(2026, 11, 24, 23, 30, tzinfo=UTC).timestamp())


async def test_briefing_check_in_document_and_handover_from_the_page(
        sandbox: Sandbox, web: httpx.AsyncClient) -> None:
    team = chat_id(sandbox, "合成甲班")

    async def click(persona: str, message: dict[str, Any], label: str) -> str:
        done = await ok(await web.post(f"/api/chats/{team}/click", json={
            "persona": persona, "message_id": message["id"], "data": data_of(message, label)}))
        return str((done["answer"] or {}).get("text") or "")

    # The hot-work rule waits for the team; the worker reads it.
    rule = await bot_said(sandbox, team, "已阅 0/4")
    assert await click("wang", rule, "已阅并理解")
    # 07:45: the 08:00 shift's briefing arrives; the worker checks in.
    before = len(sandbox.server.world.messages[team])
    await ok(await web.post("/api/clock", json={"minutes": 15}))
    briefing = await bot_said(sandbox, team, "班前会", after=before)
    assert "已签到" in await click("wang", briefing, "签到")
    # The leader hands over: each question is a ForceReply the page answers by reply.
    await ok(await web.post(f"/api/chats/{team}/send", json={"persona": "li",
                                                             "text": "/handover"}))
    first = await bot_said(sandbox, team, "交接班 1/5")
    assert (await view(web, "li", team))["reply_to"] == first["id"]
    await ok(await web.post(f"/api/chats/{team}/send", json={
        "persona": "li", "text": "正常", "reply_to": first["id"]}))
    second = await bot_said(sandbox, team, "交接班 2/5")
    assert (await view(web, "li", team))["reply_to"] == second["id"]


async def test_privacy_mode_plain_talk_in_a_group_never_reaches_the_bot(
        sandbox: Sandbox, web: httpx.AsyncClient) -> None:
    team = chat_id(sandbox, "合成甲班")
    updates = len(sandbox.driver.delivered_update_ids())  # type: ignore[union-attr]
    await ok(await web.post(f"/api/chats/{team}/send", json={"persona": "wang",
                                                             "text": "今天风大"}))
    assert len(sandbox.driver.delivered_update_ids()) == updates  # type: ignore[union-attr]
    await ok(await web.post(f"/api/chats/{team}/send", json={"persona": "wang",
                                                             "text": "/whoami"}))
    assert len(sandbox.driver.delivered_update_ids()) == updates + 1  # type: ignore[union-attr]
    await bot_said(sandbox, team, "王工")


async def test_uploads_documents_polls_and_deep_links(sandbox: Sandbox,
                                                      web: httpx.AsyncClient) -> None:
    me = sandbox.people["wang"].id
    done = await ok(await web.post(f"/api/chats/{me}/upload", data={"persona": "wang"},
                                   files={"file": ("rule.pdf", b"%PDF-1.4 tiny",
                                                   "application/pdf")}))
    document = done["message"]["document"]
    assert document["name"] == "rule.pdf"
    fetched = await web.get(document["url"], params={"download": "1"})
    assert fetched.content == b"%PDF-1.4 tiny" and "attachment" in fetched.headers[
        "content-disposition"]
    picture = await ok(await web.post(f"/api/chats/{me}/upload", data={"persona": "wang"},
                                      files={"file": ("p.png", SAMPLE_PHOTO.read_bytes(),
                                                      "image/png")}))
    assert "photo" in picture["message"]

    # A document the bot sends opens from the page: the manager's ledger as XLSX.
    boss = sandbox.people["qian"].id
    await ok(await web.post(f"/api/chats/{boss}/send", json={"persona": "qian",
                                                             "text": "/export"}))
    await bot_said(sandbox, boss, "台账")
    ledger = next(m for m in (await view(web, "qian", boss))["messages"] if "document" in m)
    assert ledger["document"]["name"].endswith(".xlsx")
    assert (await web.get(ledger["document"]["url"])).content.startswith(b"PK")

    # A t.me/<bot>?start=… button opens the private chat with /start and the parameter.
    started = await ok(await web.post("/api/start", json={"persona": "wang",
                                                          "payload": "hello"}))
    assert started["chat_id"] == me
    texts = [m.text for m in sandbox.server.world.messages[me]]
    assert "/start hello" in texts

    # Polls: a bot poll in the private chat, answered from the page.
    driver = sandbox.driver
    assert driver is not None
    bot = driver.bot
    sandbox.server.world.private_chat(sandbox.people["wang"].user)
    poll = await sandbox.server.api.call(bot, "sendPoll", {
        "chat_id": me, "question": "PPE?", "options": ["yes", "no"], "is_anonymous": False})
    await ok(await web.post(f"/api/chats/{me}/vote", json={
        "persona": "wang", "message_id": poll["message_id"], "options": [0]}))
    shown = next(m for m in (await view(web, "wang", me))["messages"]
                 if m["id"] == poll["message_id"])
    assert shown["poll"]["votes"] == [1, 0]


async def test_bad_input_gets_a_clear_json_error(sandbox: Sandbox, web: httpx.AsyncClient) -> None:
    team = chat_id(sandbox, "合成甲班")

    async def error(response: httpx.Response, status: int, words: str) -> None:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["ok"] is False and words in body["error"], body

    await error(await web.get("/api/chats", params={"persona": "nobody"}), 404,
                "unknown persona 'nobody'")
    assert "wang" in (await web.get("/api/chats", params={"persona": "x"})).json()["error"]
    await error(await web.get("/api/chats/-999", params={"persona": "wang"}), 404,
                "unknown chat -999")
    await error(await web.get(f"/api/chats/{chat_id(sandbox, '合成车间')}",
                              params={"persona": "wang"}), 403, "王工 is not in chat")
    await error(await web.post(f"/api/chats/{team}/send", json={"persona": "wang",
                                                               "text": "  "}), 400, "empty")
    await error(await web.post(f"/api/chats/{team}/send", content=b"{not json"), 400, "JSON")
    await error(await web.post(f"/api/chats/{team}/send", json={
        "persona": "wang", "text": "hi", "reply_to": 9999}), 404, "no message 9999")
    await error(await web.post(f"/api/chats/{team}/send", json={
        "persona": "wang", "location": {"latitude": 123, "longitude": 0}}), 400, "range")
    await error(await web.post(f"/api/chats/{team}/upload", data={"persona": "wang"},
                               files={"file": ("big.jpg", b"x" * (UPLOAD_LIMIT + 1),
                                               "image/jpeg")}), 413, "at most 65536")
    await error(await web.post(f"/api/chats/{team}/upload", data={"persona": "wang"}), 400,
                "no file")
    first = (await view(web, "wang", team))["messages"][0]["id"]
    await error(await web.post(f"/api/chats/{team}/click", json={
        "persona": "wang", "message_id": first, "data": "forged"}), 400, "no button")
    await error(await web.post("/api/clock", json={"minutes": "soon"}), 400, "whole number")
    await error(await web.post("/api/clock", json={"minutes": -5}), 400, "forward")
    await error(await web.post("/api/start", json={"persona": "wang", "payload": "a b"}), 400,
                "start parameter")
    await error(await web.get("/api/nothing"), 404, "no such API")
    await error(await web.post(f"/api/chats/{team}/send", headers={
        "Origin": "https://evil.example"}, json={"persona": "wang", "text": "/report"}), 403,
        "cross-site")
    await ok(await web.post(f"/api/chats/{team}/send", headers={"Origin": sandbox.url},
                            json={"persona": "wang", "text": "/whoami"}))
    await error(await web.get("/files/AgAC0000000000FILE"), 404, "no file")
    assert sandbox.services.clock.now() == START  # nothing moved


async def test_live_updates_arrive_as_server_sent_events(sandbox: Sandbox,
                                                         web: httpx.AsyncClient) -> None:
    team = chat_id(sandbox, "合成甲班")
    async with asyncio.timeout(15), web.stream("GET", "/api/events") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.aiter_lines()
        first = await anext(line async for line in lines if line.startswith("data:"))
        await ok(await web.post(f"/api/chats/{team}/send", json={"persona": "wang",
                                                                 "text": "/whoami"}))
        second = await anext(line async for line in lines if line.startswith("data:"))
        assert json.loads(second[5:]) != json.loads(first[5:])


async def test_the_page_is_served_whole_and_offline(web: httpx.AsyncClient) -> None:
    page = await web.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for name in ("app.js", "app.css"):
        text = (await web.get(f"/static/{name}")).text
        assert "cdn" not in text.lower() and "@import" not in text
    for tag in ('src="http', "href=\"http", "src='http"):
        assert tag not in page.text  # nothing from the internet
    assert (await web.get("/static/sample-hazard.png")).content.startswith(b"\x89PNG")


async def test_a_restart_keeps_the_demo_and_reset_starts_afresh(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    first = Sandbox(settings, options(data))
    await first.start()
    try:
        team = first.groups["合成甲班"].id
        async with httpx.AsyncClient(base_url=first.url) as web:
            sent = await ok(await web.post(f"/api/chats/{team}/send", json={
                "persona": "wang", "sample_photo": True, "text": "配电箱"}))
            await ok(await web.post(f"/api/chats/{team}/send",
                                    json={"persona": "wang", "text": "/whoami"}))
        answer = await bot_said(first, team, "王工")
        await first.advance(timedelta(hours=2))
    finally:
        await first.stop()

    again = Sandbox(settings, options(data))
    await again.start()
    try:
        assert again.clock.now() == datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
        assert again.groups["合成甲班"].id == team
        async with httpx.AsyncClient(base_url=again.url) as web:
            # The chat is as it was, the photo included.
            shown = (await view(web, "wang", team))["messages"]
            assert {sent["message"]["id"], answer["id"]} <= {m["id"] for m in shown}
            photo = next(m for m in shown if m["id"] == sent["message"]["id"])
            assert (await web.get(photo["photo"])).content == SAMPLE_PHOTO.read_bytes()
            # The bot still answers: update numbers go on where they stopped.
            await ok(await web.post(f"/api/chats/{team}/send",
                                    json={"persona": "wang", "text": "/whoami"}))
        again_answer = await bot_said(again, team, "王工", after=answer["id"])
        assert again_answer["id"] > answer["id"]
    finally:
        await again.stop()

    fresh = Sandbox(settings, options(data, reset=True))
    await fresh.start()
    try:
        assert fresh.clock.now() == START
    finally:
        await fresh.stop()


def test_the_banner_warns_when_the_page_is_reachable_from_elsewhere(tmp_path: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    local = Sandbox(settings, SandboxOptions(data_dir=tmp_path, port=8080))
    local.web = type("W", (), {"url": "http://127.0.0.1:8080"})()  # type: ignore[assignment]
    assert "WARNING" not in banner(local) and "http://127.0.0.1:8080" in banner(local)
    open_to_all = Sandbox(settings, SandboxOptions(data_dir=tmp_path, host="0.0.0.0"))
    open_to_all.web = type("W", (), {"url": "http://0.0.0.0:8080"})()  # type: ignore[assignment]
    assert "no login" in banner(open_to_all)


async def test_a_busy_port_stops_the_start_before_anything_is_touched(tmp_path: Path) -> None:
    import socket

    from bot.sandbox import serve

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        data = tmp_path / "data"
        data.mkdir()
        (data / "sandbox.db").write_bytes(b"kept")  # --reset would delete it
        with pytest.raises(OSError):
            await serve(Settings(_env_file=None),  # type: ignore[call-arg]
                        SandboxOptions(data_dir=data, port=taken.getsockname()[1],
                                       reset=True))
        assert (data / "sandbox.db").read_bytes() == b"kept"
    finally:
        taken.close()
