"""The local sandbox: a simulated Telegram, the real bot, a demo plant, and a web page.

``safetybot sandbox`` (and ``safetybot run`` without a token) starts:

- the project's Telegram-compatible server (``tgserver``) on a free loopback port;
- the real bot, built by :func:`bot.app.build_application` and connected to that
  server through ``base_url`` exactly as it would be to Telegram;
- a demo organisation: an enterprise, a workshop with its group, two teams with a
  group each, their people, shift schedules, the shipped risk cards and one policy
  document to acknowledge;
- the page (``tgserver.sandbox``) on http://127.0.0.1:8080, where a visitor plays
  any of those people and moves the bot's clock.

The demo keeps its own database (``data/sandbox.db``), never the production one.
Between runs the database, the clock, the chats and the files are kept
(``data/sandbox-state.json``, ``data/sandbox-files/``); ``--reset`` starts the
whole demo afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import SecretStr

from bot import lifecycle
from bot.app import SafetyApplication, build_application
from bot.services import Services, get_services
from bot.settings import Settings
from domain.clock import ManualClock
from storage.db import Database
from storage.migrate import upgrade
from tgserver import TelegramTestServer
from tgserver.driver import ChatHandle, Driver, UserHandle
from tgserver.sandbox import UPLOAD_LIMIT, Controls, Persona, SandboxWeb
from tgserver.world import StoredFile

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
LOOPBACK = "127.0.0.1"
BOT_USERNAME = "SafetySandboxBot"
BOT_TOKEN = "7000000001:SANDBOX-local-only"
STATE_FILE = "sandbox-state.json"
DATABASE_FILE = "sandbox.db"
MEDIA_DIR = "sandbox-media"
FILES_DIR = "sandbox-files"  # what people and the bot sent, kept between runs
DEMO_DOCUMENT = "hot-work"


@dataclass(frozen=True)
class DemoPerson:
    """One person of the demo plant."""

    key: str
    name: str
    language: str
    role: dict[str, str]
    started: bool  # has opened the private chat with the bot before the visitor arrives


# Order matters: the server numbers people in the order they are made, and a kept
# database knows them by those numbers.
PEOPLE = (
    DemoPerson("wang", "王工", "zh", {"zh": "合成甲班 · 操作工", "en": "Team A · worker"}, False),
    DemoPerson("li", "李班长", "zh", {"zh": "合成甲班 · 班组长", "en": "Team A · team leader"},
               True),
    DemoPerson("zhang", "张工", "zh", {"zh": "合成甲班 · 操作工", "en": "Team A · worker"},
               False),
    DemoPerson("zhou", "周班长", "zh", {"zh": "合成乙班 · 班组长", "en": "Team B · team leader"},
               True),
    DemoPerson("tom", "Tom Chen", "en", {"zh": "合成乙班 · 操作工（英文）",
                                         "en": "Team B · worker (English)"}, False),
    DemoPerson("zhao", "赵安全", "zh", {"zh": "合成车间 · 安全员",
                                      "en": "Synthesis workshop · safety officer"}, True),
    DemoPerson("qian", "钱经理", "zh", {"zh": "示例化工 · 安全经理",
                                      "en": "Enterprise · safety manager"}, True),
)
# Group title → (creator, other members). The bot is a plain member: privacy mode on.
GROUPS = (
    ("合成甲班", "li", ("wang", "zhang", "zhao")),
    ("合成乙班", "zhou", ("tom", "zhao")),
    ("合成车间", "zhao", ("li", "zhou", "qian")),
)


@dataclass
class SandboxOptions:
    """Where the sandbox keeps its things and listens."""

    data_dir: Path = Path("data")
    host: str = LOOPBACK
    port: int = DEFAULT_PORT
    reset: bool = False
    start: datetime | None = None  # the clock's first moment; default: 07:30 today
    upload_limit: int = UPLOAD_LIMIT


class Sandbox:
    """The server, the bot, the demo organisation and the page, started and stopped together."""

    def __init__(self, settings: Settings, options: SandboxOptions) -> None:
        self.base_settings = settings
        self.options = options
        self.server = TelegramTestServer()
        self.clock = ManualClock(options.start or first_morning(settings.default_timezone))
        self.app: SafetyApplication | None = None
        self.db: Database | None = None
        self.web: SandboxWeb | None = None
        self.driver: Driver | None = None
        self.people: dict[str, UserHandle] = {}
        self.groups: dict[str, ChatHandle] = {}
        self._saver: asyncio.Task[None] | None = None

    # ---- paths

    @property
    def state_path(self) -> Path:
        return self.options.data_dir / STATE_FILE

    @property
    def database_path(self) -> Path:
        return self.options.data_dir / DATABASE_FILE

    @property
    def files_dir(self) -> Path:
        return self.options.data_dir / FILES_DIR

    @property
    def url(self) -> str:
        """Where the page is."""
        assert self.web is not None
        return self.web.url

    @property
    def services(self) -> Services:
        """The running bot's services."""
        assert self.app is not None
        return get_services(self.app.bot_data)

    # ---- life

    async def start(self) -> None:
        """Start everything; on a first run the demo people say hello to the bot.

        The page's port is taken first: when it is busy, nothing else was touched.
        """
        data = self.options.data_dir
        state = None if self.options.reset else self._read_state()
        await self.server.start()
        account = self.server.create_bot(username=BOT_USERNAME, first_name="安全助手",
                                         token=BOT_TOKEN)
        self.driver = self.server.driver(account)
        self._make_world()
        if state is not None:
            self._restore(state)
        self.server.world.clock = lambda: self.clock.now().timestamp()
        self.web = SandboxWeb(self.server, self.driver, self._personas(),
                              Controls(now=self.clock.now, advance=self.advance,
                                       timezone=self.base_settings.default_timezone),
                              host=self.options.host, port=self.options.port,
                              upload_limit=self.options.upload_limit)
        await self.web.start()

        if state is None:  # nothing to continue from: the demo starts afresh
            for stale in (self.database_path, self.state_path):
                stale.unlink(missing_ok=True)
            for folder in (MEDIA_DIR, FILES_DIR):
                shutil.rmtree(data / folder, ignore_errors=True)
        data.mkdir(parents=True, exist_ok=True)
        settings = self.base_settings.model_copy(update={
            "telegram_bot_token": SecretStr(account.token),
            "telegram_api_base_url": self.server.url,
            "database_url": f"sqlite+aiosqlite:///{self.database_path.resolve()}",
            "media_dir": data / MEDIA_DIR,
            "webhook_url": None,
            "bot_admin_ids": [],
            "outbox_instance": "sandbox",
        })
        self.db = settings.database()
        await upgrade(self.db)
        self.app = build_application(settings, db=self.db, clock=self.clock)
        await self._import_org()
        await lifecycle.start_polling(self.app, poll_timeout=10)
        if state is None:
            await self._first_visit()
        self._save_state()
        self._saver = asyncio.create_task(self._save_now_and_then())

    async def stop(self) -> None:
        """Stop the page, the bot and the server; keep the state for the next run."""
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        if self.web is not None:
            await self.web.stop()
        if self.app is not None:
            await lifecycle.stop(self.app)
            self._save_state()
            self.app = None
        if self.db is not None:
            await self.db.dispose()
            self.db = None
        await self.server.stop()

    async def advance(self, delta: timedelta) -> None:
        """Move the bot's clock (the server's follows), run the sweeps, send what they queued."""
        self.clock.advance(delta)
        await self.services.timetable.run_due()
        await self._send_queued()
        self._save_state()

    async def _send_queued(self) -> None:
        """Send what is due now, so the page shows it when the call returns."""
        if self.services.outbox is not None:
            await self.services.outbox.dispatch_due()

    # ---- the demo plant

    def _make_world(self) -> None:
        driver = self.driver
        assert driver is not None
        for person in PEOPLE:
            self.people[person.key] = driver.user(person.name, language_code=person.language)
        bot = driver.bot
        for title, creator, members in GROUPS:
            group = driver.group(title, members=[self.people[k] for k in members],
                                 admins=[self.people[creator]])
            group.chat.statuses[bot.user.id] = "member"  # added long ago, bound by the org file
            self.groups[title] = group
        for person in PEOPLE:
            if person.started:
                bot.started.add(self.people[person.key].id)

    def _personas(self) -> list[Persona]:
        return [Persona(p.key, self.people[p.key], p.role) for p in PEOPLE]

    def org_file(self) -> str:
        """The demo organisation as an org file, bound to the simulated groups."""
        p = {key: handle.id for key, handle in self.people.items()}
        g = {title: handle.id for title, handle in self.groups.items()}
        weekdays = ["mon", "tue", "wed", "thu", "fri"]
        org: dict[str, Any] = {
            "version": 1, "timezone": self.base_settings.default_timezone, "language": "zh",
            "admins": [p["qian"]],
            "units": [{
                "key": "acme", "kind": "enterprise", "name": "示例化工有限公司",
                "children": [{
                    "key": "ws-synthesis", "kind": "workshop", "name": "合成车间",
                    "chat_id": g["合成车间"],
                    "children": [
                        {"key": "team-synthesis-a", "kind": "team", "name": "合成甲班",
                         "chat_id": g["合成甲班"],
                         "shifts": {"briefing_before": "15m", "shifts": [
                             {"name": "早班", "start": "08:00", "end": "16:00",
                              "days": weekdays, "leader": p["li"]},
                             {"name": "中班", "start": "16:00", "end": "00:00",
                              "days": weekdays}]}},
                        {"key": "team-synthesis-b", "kind": "team", "name": "合成乙班",
                         "chat_id": g["合成乙班"], "language": "en",
                         "shifts": {"briefing_before": "15m", "shifts": [
                             {"name": "早班", "start": "08:00", "end": "16:00",
                              "days": weekdays, "leader": p["zhou"]}]}},
                    ]}],
            }],
            "people": [
                {"telegram_id": p["wang"], "name": "王工",
                 "roles": [{"unit": "team-synthesis-a", "role": "worker"}]},
                {"telegram_id": p["zhang"], "name": "张工",
                 "roles": [{"unit": "team-synthesis-a", "role": "worker"}]},
                {"telegram_id": p["li"], "name": "李班长",
                 "roles": [{"unit": "team-synthesis-a", "role": "team_leader"}]},
                {"telegram_id": p["zhou"], "name": "周班长",
                 "roles": [{"unit": "team-synthesis-b", "role": "team_leader"}]},
                {"telegram_id": p["tom"], "name": "Tom Chen", "language": "en",
                 "roles": [{"unit": "team-synthesis-b", "role": "worker"}]},
                {"telegram_id": p["zhao"], "name": "赵安全",
                 "roles": [{"unit": "ws-synthesis", "role": "safety_officer"}]},
                {"telegram_id": p["qian"], "name": "钱经理",
                 "roles": [{"unit": "acme", "role": "manager"}]},
            ],
        }
        return yaml.safe_dump(org, allow_unicode=True, sort_keys=False)

    async def _import_org(self) -> None:
        from services.org import import_file

        report = await import_file(self.services.runtime(), self.org_file(), "sandbox-demo.yaml")
        log.info("demo organisation: %s", report.summary())

    async def _first_visit(self) -> None:
        """What happened before the visitor came: leaders, the officer and the manager
        opened the bot, and the hot-work rule was published to the plant."""
        driver = self.driver
        assert driver is not None
        greeted = [self.people[p.key] for p in PEOPLE if p.started]
        for person in greeted:
            person.start_bot()
        with contextlib.suppress(TimeoutError):  # a slow machine: the page shows them later
            await driver.until_delivered(timeout=30)
            await driver.wait_for(lambda: all(driver.private_messages(p) for p in greeted),
                                  timeout=30)
        await self._introduce_members()
        await self._publish_demo_document()
        await self._send_queued()

    async def _introduce_members(self) -> None:
        """The bot has seen everyone in its groups (as it learns from their joins and
        messages), so roll calls know who is to check in and read."""
        from services.binding import Chat
        from services.membership import Member, members_changed

        rt = self.services.runtime()
        for title, handle in self.groups.items():
            members = [Member(telegram_id=u.id, name=u.name, language_code=u.language_code)
                       for uid, status in handle.chat.statuses.items()
                       if status in ("creator", "administrator", "member")
                       and (u := self.server.world.users[uid]) and not u.is_bot]
            await members_changed(rt, Chat(handle.id, title, handle.chat.type), members,
                                  present=True)

    async def _publish_demo_document(self) -> None:
        from content.documents import library
        from domain.documents import DocumentError, markdown_to_html
        from services.publishing import DocumentDraft, publish_document

        try:
            versions = library()[DEMO_DOCUMENT]
        except (DocumentError, KeyError):
            log.warning("the demo document %s is not in the library", DEMO_DOCUMENT)
            return
        first = next(iter(versions.values()))
        draft = DocumentDraft(
            doc_key=first.id, version=first.version, source="library",
            texts={lang: {"title": d.title, "summary": d.summary,
                          "html": markdown_to_html(d.body)} for lang, d in versions.items()},
            change_note=None, requires_ack=first.requires_ack, due_hours=first.due_hours)
        done = await publish_document(self.services.runtime(), None, draft, ["acme"])
        if not done.ok:
            log.warning("the demo document was not published: %s", done.key)

    # ---- kept between runs

    def _read_state(self) -> dict[str, Any] | None:
        if not self.database_path.exists():
            return None
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            datetime.fromisoformat(state["clock"])
            int(state["next_update_id"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("the sandbox state is unreadable; starting the demo afresh")
            return None
        return state if isinstance(state, dict) else None

    def _restore(self, state: dict[str, Any]) -> None:
        """Continue where the last run stopped: the clock, the chats, the files, and the
        update and id numbers the bot's database remembers."""
        assert self.driver is not None
        world = self.server.world
        self.clock.set(datetime.fromisoformat(state["clock"]))
        self.driver.bot.next_update_id = int(state["next_update_id"])
        self.driver.bot.started.update(int(i) for i in state.get("started", []))
        world.import_history(state.get("messages", {}))
        for file_id, (unique, path) in dict(state.get("files", {})).items():
            try:
                content = (self.files_dir / unique).read_bytes()
            except OSError:
                continue  # a file lost with the disk: the message shows without it
            world.files[file_id] = StoredFile(file_id, unique, path, content)
        world.skip_ids(int(state.get("id_mark", 1)))

    def _save_state(self) -> None:
        if self.driver is None:
            return
        world = self.server.world
        try:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            for stored in list(world.files.values()):
                target = self.files_dir / stored.file_unique_id
                if not target.exists():
                    target.write_bytes(stored.content)
            state = {
                "clock": self.clock.now().isoformat(),
                "next_update_id": self.driver.bot.next_update_id,
                "started": sorted(self.driver.bot.started),
                "id_mark": world.id_mark,
                "files": {f.file_id: [f.file_unique_id, f.path] for f in world.files.values()},
                "messages": world.export_history(),
            }
            # Written aside, then renamed: a kill mid-write leaves the last good state.
            partial = self.state_path.with_suffix(".tmp")
            partial.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
            partial.replace(self.state_path)
        except OSError:
            log.warning("could not save the sandbox state", exc_info=True)

    async def _save_now_and_then(self) -> None:
        # The state must survive a kill as well as Ctrl-C: save it whenever the world
        # changed, at most every few seconds.
        changed = asyncio.Event()
        self.server.world.listeners.append(changed.set)
        while True:
            await changed.wait()
            await asyncio.sleep(5)
            changed.clear()
            self._save_state()


def first_morning(timezone: str, today: datetime | None = None) -> datetime:
    """07:30 today in the plant's time zone (the next weekday at a weekend): a quarter
    of an hour before the morning briefing, so "+15 min" shows one."""
    zone = ZoneInfo(timezone)
    day = (today or datetime.now(UTC)).astimezone(zone).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(7, 30), zone).astimezone(UTC)


def banner(sandbox: Sandbox, *, why: str | None = None) -> str:
    """What the terminal shows once the sandbox runs."""
    lines = ["", "=" * 66, "  SAFETY BOT SANDBOX — a local Telegram with a demo plant"]
    if why:
        lines.append(f"  ({why})")
    lines += [f"  Open {sandbox.url} in a browser.",
              f"  The bot: @{BOT_USERNAME}, on the simulated server at {sandbox.server.url}",
              f"  Demo data: {sandbox.options.data_dir / DATABASE_FILE} "
              "(--reset starts afresh); Ctrl-C stops.",
              "  For real Telegram: set TELEGRAM_BOT_TOKEN (from @BotFather) and run again.",
              "=" * 66, ""]
    if sandbox.options.host != LOOPBACK:
        lines.insert(-2, f"  WARNING: listening on {sandbox.options.host}: the page has no "
                         "login; anyone who reaches it can act as anyone.")
    return "\n".join(lines)


async def serve(settings: Settings, options: SandboxOptions, *, why: str | None = None) -> None:
    """Run the sandbox until cancelled (Ctrl-C)."""
    # The timetable's every-minute job lines would bury the banner; the bot's own
    # warnings and errors still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    sandbox = Sandbox(settings, options)
    try:
        await sandbox.start()
    except BaseException:
        await sandbox.stop()  # whatever had started (a busy port stops it early)
        raise
    try:
        print(banner(sandbox, why=why), flush=True)
        await asyncio.Event().wait()
    finally:
        await sandbox.stop()
