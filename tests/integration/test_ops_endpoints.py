"""/healthz and /metrics: what an orchestrator and Prometheus see of a running bot.

Polling mode serves them on METRICS_PORT (here a free loopback port); webhook mode
on the webhook's port as well. The numbers are read the way Prometheus reads them
(its text format), before and after something happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot import health, lifecycle
from bot.app import build_application
from bot.health import database_state
from bot.web import SECRET_HEADER, OpsServer
from storage import outbox as outbox_repo
from storage.db import Database
from tests.conftest import POSTGRES_URL, _postgres_reachable, _reset_postgres
from tests.integration.conftest import ON_POSTGRES, BotUnderTest
from tests.integration.test_hazards import report, setup_plant
from tests.integration.test_webhook import SECRET, WebhookBot
from tgserver import TelegramTestServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def ops(bot: BotUnderTest) -> AsyncIterator[str]:
    """The polling bot's /healthz and /metrics server; yields its base URL."""
    assert bot.app is not None
    server = OpsServer(bot.app, mode="polling")
    port = await server.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


async def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on /metrics, by name and labels."""
    response = await get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---- /healthz


async def test_healthz_reports_the_database_the_scheduler_and_the_outbox(
        bot: BotUnderTest, ops: str) -> None:
    response = await get(f"{ops}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["mode"] == "polling" and body["running"] is True
    assert body["database"]["ok"] is True and body["database"]["latency_ms"] >= 0
    assert body["scheduler"]["running"] is True
    # The tests run the sweeps themselves: none is on the JobQueue, none has run yet.
    assert body["scheduler"]["installed"] is False
    sweeps = body["scheduler"]["sweeps"]
    assert "escalate-hazards" in sweeps and sweeps["escalate-hazards"]["last_run"] is None
    assert body["outbox"] == {"running": True, "pending": 0,
                              "oldest_pending_age_seconds": 0.0}

    await bot.run_sweeps()
    sweeps = (await get(f"{ops}/healthz")).json()["scheduler"]["sweeps"]
    assert sweeps["escalate-hazards"]["last_run"] == bot.clock.now().isoformat()
    assert sweeps["escalate-hazards"]["every_seconds"] == 60.0
    assert not any(s["late"] or s["last_failed"] for s in sweeps.values())

    bot.clock.advance(timedelta(minutes=10))  # the sweeps stopped running meanwhile
    sweeps = (await get(f"{ops}/healthz")).json()["scheduler"]["sweeps"]
    assert sweeps["escalate-hazards"]["late"] is True
    assert sweeps["forget-old-updates"]["late"] is False  # every 6 h: not late yet


async def test_healthz_and_metrics_on_the_webhook_port(server: TelegramTestServer,
                                                       tmp_path: Path) -> None:
    hooked = WebhookBot(server, tmp_path)
    await hooked.start()
    try:
        base = hooked.webhook_url.removesuffix("/telegram")
        health = await get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "webhook"
        assert "safetybot_updates_handled_total" in (await get(f"{base}/metrics")).text
        async with httpx.AsyncClient() as client:  # the webhook path takes posts only
            assert (await client.get(hooked.webhook_url)).status_code == 405
            assert (await client.post(hooked.webhook_url, content=b"{",
                                      headers={SECRET_HEADER: SECRET})).status_code == 400
    finally:
        await hooked.stop()


async def test_health_of_a_database_that_does_not_answer() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing")
    try:
        state = await database_state(db, timeout=5)
    finally:
        await db.dispose()
    assert state["ok"] is False and state["error"]


class CuttableProxy:
    """A TCP proxy to PostgreSQL that the test can cut, as a network failure would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._server = None

    async def _pipe(self, client_reader: asyncio.StreamReader,
                    client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(copy(client_reader, upstream_writer),
                             copy(upstream_reader, client_writer))


@pytest.mark.postgres
async def test_healthz_is_503_while_the_database_is_unreachable(
        server: TelegramTestServer, tmp_path: Path) -> None:
    reason = await _postgres_reachable()
    if reason:
        pytest.skip(reason)
    await _reset_postgres()
    url = make_url(POSTGRES_URL)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.open()
    under_test = BotUnderTest(server, tmp_path)
    under_test.db_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    await under_test.start()
    assert under_test.app is not None
    web = OpsServer(under_test.app, mode="polling")
    base = f"http://127.0.0.1:{await web.start('127.0.0.1', 0)}"
    try:
        assert (await get(f"{base}/healthz")).status_code == 200

        await proxy.cut()
        response = await get(f"{base}/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable" and body["database"]["ok"] is False
        assert "outbox" not in body  # not read from a database that does not answer
        # /metrics still serves what the process counted.
        assert "safetybot_updates_handled_total" in (await get(f"{base}/metrics")).text

        await proxy.open()  # the network is back: healthy again, nothing restarted
        assert (await get(f"{base}/healthz")).status_code == 200
    finally:
        await web.stop()
        await under_test.stop()
        if proxy._server is not None:
            await proxy.cut()


# ---- /metrics


async def test_metrics_move_with_updates_429s_the_backlog_and_escalations(
        bot: BotUnderTest, ops: str) -> None:
    d = bot.driver
    before = await scrape(ops)
    assert value(before, "safetybot_outbox_pending") == 0
    assert value(before, "safetybot_escalations_sent_total",
                 purpose="hazard.escalation") == 0

    # An update handled: counted by kind, its handling time observed.
    worker = d.user("王工")
    worker.start_bot()
    await bot.settle()
    after = await scrape(ops)
    assert value(after, "safetybot_updates_handled_total", kind="message") == \
        value(before, "safetybot_updates_handled_total", kind="message") + 1
    assert value(after, "safetybot_update_handling_seconds_count", kind="message") == \
        value(before, "safetybot_update_handling_seconds_count", kind="message") + 1
    assert value(after, "safetybot_update_handling_seconds_sum", kind="message") > 0

    # Telegram answers 429 to a handler's answer: counted, whoever asked.
    bot.server.faults.add("sendMessage", retry_after=30)
    worker.send(d.private_chat(worker), "/help")
    await bot.settle()
    flooded = await scrape(ops)
    assert value(flooded, "safetybot_telegram_429_total", method="sendMessage") == 1

    # A notice the outbox could not send yet waits there, and ages by the one clock.
    async with bot.services.db.transaction() as session:
        await outbox_repo.enqueue(session, chat_id=worker.id, params={"text": "通知"},
                                  now=bot.clock.now(), purpose="test.notice")
    bot.server.faults.add("sendMessage", retry_after=30)
    await bot.drain_outbox()
    waiting = await scrape(ops)
    assert value(waiting, "safetybot_telegram_429_total", method="sendMessage") == 2
    assert value(waiting, "safetybot_outbox_pending") == 1
    bot.clock.advance(timedelta(seconds=45))
    aged = await scrape(ops)
    assert value(aged, "safetybot_outbox_oldest_pending_age_seconds") == 45
    await bot.drain_outbox()  # the 30 s passed: sent now
    drained = await scrape(ops)
    assert value(drained, "safetybot_outbox_pending") == 0
    assert value(drained, "safetybot_outbox_oldest_pending_age_seconds") == 0
    assert value(drained, "safetybot_outbox_sent_total", purpose="test.notice") == 1

    # A redelivered update is dropped, and counted apart.
    d.redeliver_last_update()
    await d.until_delivered()
    repeated = await scrape(ops)
    assert value(repeated, "safetybot_updates_repeated_total") == 1

    # A hazard nobody acknowledges escalates to the workshop: one escalation sent.
    _, people, group = await setup_plant(bot)
    await report(bot, people["Worker Wu"], group)
    bot.clock.advance(timedelta(hours=2))
    await bot.run_sweeps()
    escalated = await scrape(ops)
    assert value(escalated, "safetybot_escalations_sent_total",
                 purpose="hazard.escalation") == 1
    assert value(escalated, "safetybot_updates_handled_total", kind="callback_query") >= 3


# ---- `safetybot run`: lifecycle.serve in webhook mode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_in_webhook_mode_takes_updates_and_stops_on_request(
        server: TelegramTestServer, tmp_path: Path) -> None:
    under_test = BotUnderTest(server, tmp_path)
    port = free_port()
    settings = under_test.settings().model_copy(update={
        "webhook_url": f"http://127.0.0.1:{port}", "webhook_port": port,
        "webhook_listen": "127.0.0.1", "webhook_secret_token": SecretStr(SECRET)})
    db = Database(under_test.db_url)
    app = build_application(settings, db=db, clock=under_test.clock, install_timetable=False)
    stopping = asyncio.Event()
    serving = asyncio.create_task(lifecycle.serve(app, settings, stopping))
    try:
        d = under_test.driver
        await d.wait_for(lambda: bool(under_test.account.webhook_url), timeout=10)
        assert under_test.account.webhook_url == f"http://127.0.0.1:{port}/telegram"
        worker = d.user("钱工")
        worker.start_bot()
        await d.until_delivered(timeout=10)
        await d.wait_for(lambda: bool(d.private_messages(worker)), timeout=10)
        health = await get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "webhook"
    finally:
        stopping.set()
        await asyncio.wait_for(serving, timeout=10)
        await db.dispose()
    assert not app.running
    with pytest.raises(httpx.ConnectError):
        await get(f"http://127.0.0.1:{port}/healthz")


async def test_safetybot_run_as_a_process_webhook_json_logs_metrics_and_sigterm(
        server: TelegramTestServer, tmp_path: Path) -> None:
    """The command production runs: ``safetybot run`` with WEBHOOK_URL, LOG_FORMAT=json
    and METRICS_PORT, stopped by SIGTERM as systemd and docker stop it."""
    account = server.create_bot()
    hook_port, metrics_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": account.token,
           "TELEGRAM_API_BASE_URL": server.url,
           "DATABASE_URL": POSTGRES_URL if ON_POSTGRES
           else f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
           "MEDIA_DIR": str(tmp_path / "media"),
           "WEBHOOK_URL": f"http://127.0.0.1:{hook_port}", "WEBHOOK_PORT": str(hook_port),
           "WEBHOOK_LISTEN": "127.0.0.1", "WEBHOOK_SECRET_TOKEN": SECRET,
           "METRICS_PORT": str(metrics_port), "LOG_FORMAT": "json"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        d = server.driver(account)
        await d.wait_for(lambda: bool(account.webhook_url), timeout=60)
        worker = d.user("孙工")
        worker.start_bot()
        await d.wait_for(lambda: bool(d.private_messages(worker)), timeout=20)
        samples = await scrape(f"http://127.0.0.1:{metrics_port}")
        assert value(samples, "safetybot_updates_handled_total", kind="message") == 1
        health = await get(f"http://127.0.0.1:{metrics_port}/healthz")
        assert health.status_code == 200 and health.json()["mode"] == "webhook"
        scheduler = health.json()["scheduler"]
        assert scheduler["installed"] is True  # production: the sweeps on the JobQueue
        assert not any(sweep["late"] for sweep in scheduler["sweeps"].values())
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.strip()]
    assert any(line["message"].startswith("webhook set") for line in lines)
    assert any(line["message"] == "stopping" for line in lines)
    assert account.token not in stderr.decode()  # the token never reaches the log


class WaitingApp:
    """An Application as a standby has it: built, not running, no JobQueue started."""

    running = False
    job_queue = None


async def test_a_standby_waiting_for_the_lock_is_healthy_a_stopped_bot_is_not(
        bot: BotUnderTest) -> None:
    services = bot.services
    assert services.standby_state == "single"  # no election configured
    stopped = await health.check(WaitingApp(), services, mode="polling")  # type: ignore[arg-type]
    assert stopped.status == 503 and stopped.body["role"] == "single"
    services.standby_state = "standby"  # what start-up sets while it waits for the lock
    waiting = await health.check(WaitingApp(), services, mode="polling")  # type: ignore[arg-type]
    assert waiting.status == 200 and waiting.body["role"] == "standby"
    assert waiting.body["running"] is False
