"""`safetybot run` against the test server: a rejected token is one sentence and exit 2."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from tgserver import TelegramTestServer

pytestmark = pytest.mark.sqlite_only(
    "`safetybot run` stops at the rejected token before touching a database")


async def test_rejected_token_is_one_sentence_and_exit_2(
        server: TelegramTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    server.create_bot()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:NOT-A-TOKEN-WE-KNOW")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", server.url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    # main() runs its own event loop, so it runs in a thread beside the server's loop.
    code = await asyncio.to_thread(main, ["run"])
    assert code == 2
    err = capsys.readouterr().err
    assert "rejected TELEGRAM_BOT_TOKEN" in err and "Traceback" not in err
