"""The sandbox page in a real headless Chromium: a hazard report and its escalation.

Needs Debian's ``chromium`` (``apt-get install chromium``) and ``playwright`` from
PyPI; Playwright's own browser download is not used. Screenshots go to
``test-artifacts/sandbox/`` (or ``$TEST_ARTIFACTS/sandbox/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import Sandbox, SandboxOptions
from bot.settings import Settings
from tgserver.sandbox import SAMPLE_PHOTO

pytestmark = pytest.mark.sqlite_only(
    "the local sandbox keeps its demo in its own SQLite file by design")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts")) / "sandbox"
START = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Tuesday 07:30 in Shanghai
WAIT = 20_000  # ms: a guard for the bot's answer, never a pause

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="playwright is not installed (pip install playwright)")
if shutil.which(CHROMIUM) is None:
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
expect = playwright_api.expect


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    box = Sandbox(Settings(_env_file=None),  # type: ignore[call-arg]
                  SandboxOptions(data_dir=tmp_path / "data", port=0, start=START))
    await box.start()
    try:
        yield box
    finally:
        await box.stop()


@pytest.fixture
async def page(sandbox: Sandbox) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 820},
                                                locale="zh-CN")
            await context.add_init_script("localStorage.setItem('sandbox.lang', 'zh')")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.url)
            yield page
            assert errors == [], f"JavaScript errors on the page: {errors}"
        finally:
            await browser.close()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def bot_message(page: Any, text: str) -> Any:
    """The bot's latest message saying ``text`` itself (not in a quoted reply)."""
    return page.locator(".msg.bot").filter(
        has=page.locator(".text", has_text=text)).last


async def press(page: Any, label: str) -> None:
    await page.locator(".kb button", has_text=label).last.click()


async def be(page: Any, persona: str, chat: str) -> None:
    await page.select_option("#persona", persona)
    await page.locator(f'.chat[data-title="{chat}"]').click()
    await expect(page.locator("#chat-title")).to_have_text(chat, timeout=WAIT)


async def test_a_worker_reports_the_leader_acknowledges_the_workshop_hears(
        sandbox: Sandbox, page: Any) -> None:
    await be(page, "wang", "合成甲班")
    # The command menu the bot registered for groups, opened by typing "/".
    await page.fill("#text", "/re")
    await page.locator("#menu div", has_text="/report").click()
    await expect(page.locator("#text")).to_have_value("/report ")
    await page.click("#send")
    await expect(bot_message(page, "隐患照片")).to_be_visible(timeout=WAIT)
    # The prompt is a ForceReply: the page opens the reply, as Telegram's app does.
    await expect(page.locator("#replying")).to_be_visible()
    await page.set_input_files("#file", str(SAMPLE_PHOTO))
    await expect(bot_message(page, "隐患在哪里")).to_be_visible(timeout=WAIT)
    await expect(page.locator(".msg.mine img").last).to_be_visible()
    await page.fill("#text", "3号泵房东侧")
    await page.click("#send")
    await expect(bot_message(page, "请选择隐患类别")).to_be_visible(timeout=WAIT)
    await press(page, "电气")
    await expect(bot_message(page, "请选择隐患等级")).to_be_visible(timeout=WAIT)
    await press(page, "重大")
    await expect(page.locator(".kb button", has_text="跳过").last).to_be_visible(timeout=WAIT)
    await press(page, "跳过")
    await expect(bot_message(page, "请确认隐患上报")).to_be_visible(timeout=WAIT)
    await press(page, "提交")
    card = bot_message(page, "请班组长在")
    await expect(card).to_be_visible(timeout=WAIT)
    await expect(card).to_contain_text("YH-20261124-0001")
    await shot(page, "1-report-card")

    # The worker cannot acknowledge; the bot's answer shows as a toast.
    await card.locator(".kb button", has_text="受理").click()
    await expect(page.locator("#toast")).to_contain_text("班组长", timeout=WAIT)

    await be(page, "li", "合成甲班")
    await bot_message(page, "请班组长在").locator(".kb button", has_text="受理").click()
    await expect(bot_message(page, "已由 李班长 受理")).to_be_visible(timeout=WAIT)
    # The card is edited live: only "查看" is left under it.
    await expect(bot_message(page, "请班组长在").locator(".kb button")).to_have_text(
        ["查看"], timeout=WAIT)
    await shot(page, "2-acknowledged")

    # A day later the major hazard is past its rectification deadline.
    await page.click("button[data-minutes='1440']")
    await expect(page.locator("#clock")).to_contain_text("25", timeout=WAIT)
    await be(page, "zhao", "合成车间")
    await expect(bot_message(page, "超过整改期限")).to_be_visible(timeout=WAIT)
    await expect(bot_message(page, "超过整改期限")).to_contain_text("YH-20261124-0001")
    await shot(page, "3-workshop-alert")

    # The same page in English.
    await page.click("#lang")
    await expect(page.locator("#send")).to_have_text("Send")
    await shot(page, "4-english")


async def test_a_deep_link_button_continues_in_the_private_chat_with_a_location(
        sandbox: Sandbox, page: Any) -> None:
    # 李班长 has opened the bot before: /report in the group offers the private chat.
    await be(page, "li", "合成甲班")
    await page.fill("#text", "/report")
    await page.click("#send")
    await expect(bot_message(page, "私聊中继续上报")).to_be_visible(timeout=WAIT)
    await press(page, "在私聊中上报")
    await expect(page.locator("#chat-title")).to_have_text("安全助手", timeout=WAIT)
    await expect(bot_message(page, "隐患照片")).to_be_visible(timeout=WAIT)
    await page.click("#sample-photo")
    await expect(bot_message(page, "隐患在哪里")).to_be_visible(timeout=WAIT)
    # A location pin answers "where" (the page asks for the coordinates).
    page.once("dialog", lambda dialog: dialog.accept("31.2304,121.4737"))
    await page.click("#location")
    await expect(page.locator(".msg.mine", has_text="31.23040")).to_be_visible(timeout=WAIT)
    await expect(bot_message(page, "请选择隐患类别")).to_be_visible(timeout=WAIT)
    await shot(page, "5-private-report")
