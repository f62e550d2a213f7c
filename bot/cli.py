"""The ``safetybot`` command line.

Commands:
    run                 start the bot (long polling, or a webhook when WEBHOOK_URL is set;
                        /healthz and /metrics on the webhook port or METRICS_PORT);
                        without TELEGRAM_BOT_TOKEN, the local sandbox
    sandbox [--reset]   a local Telegram with a demo plant and a web page (SANDBOX_PORT)
    check-config        print the effective settings, secrets masked
    db upgrade          bring the database schema up to date
    org import FILE     create or update the organisation from a YAML file
    org export [FILE]   write the organisation back as YAML (stdout by default)
    ledger export       write the ledger of units as XLSX (hazards, handovers, meetings,
                        the training record)
    documents list      the library and what was published
    report monthly --unit KEY [--month YYYY-MM]   the monthly report's charts, workbook and
                        summary into a folder
    documents publish ID --to UNIT…   publish a library document (the running bot sends it)
    drill schedule      schedule an emergency drill for units (the running bot tells the teams)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.logs import configure_logging
from bot.settings import Settings
from domain.clock import Clock, SystemClock

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from content.render import Renderer
    from services.base import Runtime
    from storage.db import Database
    from storage.models import Unit

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

log = logging.getLogger("safetybot")


class CliError(Exception):
    """A problem to report in one sentence, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).upper()
        raise CliError(f"configuration error in {where}: {first['msg']}", EXIT_CONFIG) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safetybot", description="Team safety bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (the local sandbox when no token is set)")
    box = sub.add_parser("sandbox", help="a local Telegram with a demo plant, in the browser")
    box.add_argument("--reset", action="store_true", help="start from a clean demo database")
    box.add_argument("--port", type=int, help="the page's port (default: SANDBOX_PORT, 8080)")
    sub.add_parser("check-config", help="print the effective settings, secrets masked")
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command",
                                                                     required=True)
    db.add_parser("upgrade", help="apply the migrations")
    org = sub.add_parser("org", help="the organisation tree").add_subparsers(
        dest="org_command", required=True)
    imp = org.add_parser("import", help="create or update the organisation from YAML")
    imp.add_argument("file", type=Path)
    exp = org.add_parser("export", help="write the organisation as YAML")
    exp.add_argument("file", type=Path, nargs="?")
    ledger = sub.add_parser("ledger", help="the team ledger").add_subparsers(
        dest="ledger_command", required=True)
    lex = ledger.add_parser(
        "export", help="write the ledger of units as XLSX (hazards, handovers, meetings, "
                       "the training record)")
    lex.add_argument("--unit", action="append", required=True, help="unit key (repeatable)")
    lex.add_argument("--from", dest="since", help="first day, YYYY-MM-DD (default: 90 days ago)")
    lex.add_argument("--to", dest="until", help="last day, YYYY-MM-DD (default: today)")
    lex.add_argument("--lang", choices=["zh", "en"], default=None)
    lex.add_argument("--out", type=Path, help="file to write (default: ledger-UNIT-DATE.xlsx)")
    docs = sub.add_parser("documents", help="policy documents").add_subparsers(
        dest="documents_command", required=True)
    docs.add_parser("list", help="the library and the published versions")
    pub = docs.add_parser("publish", help="publish a library document to units")
    pub.add_argument("id", help="document id in content/documents/")
    pub.add_argument("--to", dest="units", action="append", required=True,
                     help="unit key (repeatable; every team below it gets the document)")
    pub.add_argument("--note", help="what changed (required for a new version)")
    drill = sub.add_parser("drill", help="emergency drills").add_subparsers(
        dest="drill_command", required=True)
    plan = drill.add_parser("schedule", help="schedule a drill for units (every team below "
                                             "them takes part; the running bot tells them)")
    plan.add_argument("--type", required=True, help="onsite, special or comprehensive")
    plan.add_argument("--at", required=True, help='"YYYY-MM-DD HH:MM", the units\' local time')
    plan.add_argument("--duration", default="60m", help="e.g. 90m or 2h (default 60m)")
    plan.add_argument("--unit", action="append", required=True, help="unit key (repeatable)")
    plan.add_argument("--scenario", required=True, help="what happens in the drill")
    report = sub.add_parser("report", help="reports").add_subparsers(
        dest="report_command", required=True)
    monthly = report.add_parser(
        "monthly", help="the monthly report of a unit and everything under it: charts (PNG), "
                        "the workbook (XLSX) and the summary (text) into a folder")
    monthly.add_argument("--unit", required=True, help="unit key")
    monthly.add_argument("--month", help="YYYY-MM (default: the month before this one)")
    monthly.add_argument("--lang", choices=["zh", "en"], default=None)
    monthly.add_argument("--out", type=Path, help="folder (default: report-UNIT-MONTH)")
    return parser


def clock() -> Clock:
    """The clock CLI commands use (tests put theirs here)."""
    return SystemClock()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``safetybot`` script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = _settings()
        configure_logging(settings.log_level, settings.log_format)
        if args.command == "run":
            return _run(settings)
        if args.command == "sandbox":
            return _sandbox(settings, reset=args.reset, port=args.port)
        if args.command == "check-config":
            for name, value in settings.masked().items():
                print(f"{name}={value}")
            return EXIT_OK
        if args.command == "db":
            asyncio.run(_upgrade(settings))
            print("database is up to date")
            return EXIT_OK
        if args.command == "org" and args.org_command == "import":
            print(asyncio.run(_org_import(settings, args.file, _read(args.file))))
            return EXIT_OK
        if args.command == "org" and args.org_command == "export":
            text = asyncio.run(_org_export(settings))
            if args.file:
                args.file.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return EXIT_OK
        if args.command == "ledger":
            print(asyncio.run(_ledger_export(settings, args)))
            return EXIT_OK
        if args.command == "documents":
            print(asyncio.run(_documents(settings, args)))
            return EXIT_OK
        if args.command == "drill":
            print(asyncio.run(_drill_schedule(settings, args)))
            return EXIT_OK
        if args.command == "report":
            print(asyncio.run(_monthly_report(settings, args)))
            return EXIT_OK
    except CliError as exc:
        print(f"safetybot: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_FAILED


async def _upgrade(settings: Settings) -> None:
    from storage.migrate import upgrade

    db = settings.database()
    try:
        await upgrade(db)
    finally:
        await db.dispose()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_CONFIG) from exc


async def _org_import(settings: Settings, path: Path, text: str) -> str:
    from domain.orgfile import OrgFileError
    from services.org import import_spec
    from services.orgfile import parse_org
    from storage.migrate import upgrade

    try:
        # A broken file is refused before touching the database; read once (100,000
        # people take seconds to read).
        spec = parse_org(text, str(path))
    except OrgFileError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    del text  # tens of megabytes for a big file, not needed any more
    db = settings.database()
    try:
        await upgrade(db)
        report = await import_spec(_runtime(settings, db), spec)
    finally:
        await db.dispose()
    return report.summary()


async def _org_export(settings: Settings) -> str:
    from services.org import export_file
    from storage.migrate import upgrade

    db = settings.database()
    try:
        await upgrade(db)
        return await export_file(_runtime(settings, db))
    finally:
        await db.dispose()


def _renderer(settings: Settings, lang: str | None = None) -> Renderer:
    """The renderer the bot would use: its language and time zone (dates in texts)."""
    from content.render import Renderer

    return Renderer(default_language=lang or settings.default_language,
                    timezone=settings.default_timezone)


def _runtime(settings: Settings, db: Database, lang: str | None = None) -> Runtime:
    """What services are given from the command line (no outbox sender to wake)."""
    from services.base import Runtime

    return Runtime(db=db, renderer=_renderer(settings, lang), clock=clock(),
                   default_language=settings.default_language,
                   default_timezone=settings.default_timezone)


async def _units(session: AsyncSession, keys: list[str]) -> list[Unit]:
    """The units of the given keys, in order; an unknown key is a configuration error."""
    from storage import org as org_repo

    units = []
    for key in keys:
        unit = await org_repo.get_unit_by_key(session, key)
        if unit is None:
            raise CliError(f"no unit with the key {key!r}", EXIT_CONFIG)
        units.append(unit)
    return units


async def _ledger_export(settings: Settings, args: argparse.Namespace) -> str:
    from datetime import timedelta

    from domain.dates import DateError, parse_period
    from services.ledger import UnknownUnit, export_units
    from storage.migrate import upgrade

    now = clock().now()
    since = args.since or f"{now - timedelta(days=90):%Y-%m-%d}"
    until = args.until or f"{now:%Y-%m-%d}"
    try:
        period = parse_period([since, until], now, settings.default_timezone)
    except DateError as exc:
        raise CliError(f"{exc} (dates are YYYY-MM-DD, --from not after --to)",
                       EXIT_CONFIG) from exc
    lang = args.lang or settings.default_language
    db = settings.database()
    try:
        await upgrade(db)
        try:
            ledger = await export_units(_runtime(settings, db, lang), args.unit,
                                        since=period[0], until=period[1], lang=lang)
        except UnknownUnit as exc:
            raise CliError(f"no unit with the key {exc.key!r}", EXIT_CONFIG) from exc
    finally:
        await db.dispose()
    out = args.out or Path(f"ledger-{'-'.join(args.unit)}-{now:%Y%m%d}.xlsx")
    out.write_bytes(ledger.data)
    return (f"wrote {ledger.hazards} hazards, {ledger.handovers} handovers, "
            f"{ledger.meetings} pre-shift meetings and {ledger.training} training record "
            f"entries to {out}")


async def _monthly_report(settings: Settings, args: argparse.Namespace) -> str:
    from zoneinfo import ZoneInfo

    from domain.monthly import Month, reported_month
    from services.monthly_charts import cjk_font, font_file_name
    from services.monthly_report import UnknownUnit, write_files
    from storage.db import Database
    from storage.migrate import upgrade

    now = clock().now()
    if args.month:
        month = Month.parse(args.month)
        if month is None:
            raise CliError(f"--month {args.month!r} is not a month (YYYY-MM)", EXIT_CONFIG)
    else:
        month = reported_month(now.astimezone(ZoneInfo(settings.default_timezone)).date())
    lang = args.lang or settings.default_language
    folder = args.out or Path(f"report-{args.unit}-{month}")
    db = Database(settings.database_url)
    try:
        await upgrade(db)
        try:
            written = await write_files(_runtime(settings, db, lang), args.unit, month, lang,
                                        folder)
        except UnknownUnit as exc:
            raise CliError(f"no unit with the key {args.unit!r}", EXIT_CONFIG) from exc
    finally:
        await db.dispose()
    return (f"wrote the {month} report of {args.unit} to {folder}/: "
            f"{', '.join(p.name for p in written)} (chart font: {font_file_name(cjk_font())})")


async def _documents(settings: Settings, args: argparse.Namespace) -> str:
    from content.documents import library
    from domain.documents import DocumentError, markdown_to_html
    from services.base import Runtime
    from services.publishing import DocumentDraft, publish_document
    from storage import documents as doc_repo
    from storage.migrate import upgrade

    try:
        shelf = library()
    except DocumentError as exc:
        raise CliError(f"the document library is broken: {exc}") from exc
    db = settings.database()
    try:
        await upgrade(db)
        if args.documents_command == "list":
            lines = []
            async with db.session() as session:
                for doc_id, versions in sorted(shelf.items()):
                    doc = versions.get(settings.default_language) or next(iter(versions.values()))
                    latest = await doc_repo.latest_version(session, doc_id)
                    state = f"published v{latest.version}" if latest else "not published"
                    lines.append(f"{doc_id}  v{doc.version}  {doc.title}  ({state})")
            return "\n".join(lines)
        if args.id not in shelf:
            raise CliError(f"no document {args.id!r} in the library; see `safetybot documents "
                           "list`", EXIT_CONFIG)
        chosen = shelf[args.id]
        first = next(iter(chosen.values()))
        draft = DocumentDraft(
            doc_key=first.id, version=first.version, source="library",
            texts={lang: {"title": d.title, "summary": d.summary,
                          "html": markdown_to_html(d.body)} for lang, d in chosen.items()},
            change_note=args.note, requires_ack=first.requires_ack, due_hours=first.due_hours)
        async with db.session() as session:
            await _units(session, args.units)  # an unknown key is a configuration error
        done = await publish_document(
            Runtime(db=db, renderer=_renderer(settings), clock=clock(),
                    default_language=settings.default_language,
                    default_timezone=settings.default_timezone),
            None, draft, args.units)
        if not done.ok:
            code = done.key.removeprefix("publish.refused_")
            reasons = {"older": "a newer version is already published",
                       "note_needed": "a new version needs --note saying what changed",
                       "no_audience": "no unit given",
                       "changed_same_version": "this version is already published with "
                                               "other content: raise its version"}
            raise CliError(f"not published: {reasons.get(code, code)}", EXIT_CONFIG)
    finally:
        await db.dispose()
    summary = (f"{args.id} v{done.values['version']}: queued for {len(done.values['teams'])} "
               f"teams, {done.values['people']} people must confirm; the running bot sends it")
    if done.values["without"]:
        summary += ("; not bound to a group yet (sent once bound): "
                    + ", ".join(done.values["without_keys"]))
    return summary


async def _drill_schedule(settings: Settings, args: argparse.Namespace) -> str:
    from services.drills import schedule_line
    from storage.db import Database
    from storage.migrate import upgrade

    words = [args.type, *args.at.split(), args.duration, ",".join(args.unit),
             *args.scenario.split()]
    db = Database(settings.database_url)
    try:
        await upgrade(db)
        rt = _runtime(settings, db, "en")
        done = await schedule_line(rt, None, words)
    finally:
        await db.dispose()
    if not done.ok:  # the chat's own sentence, in English
        raise CliError(f"not scheduled: {rt.renderer.plain(done.key, 'en', **done.values)}",
                       EXIT_CONFIG)
    summary = (f"drill #{done.values['number']} scheduled for {len(done.values['teams'])} "
               f"teams; the running bot tells their groups")
    if done.values["without"]:
        summary += "; without a group yet: " + ", ".join(done.values["without"])
    return summary


async def _check_token(settings: Settings) -> None:
    """Ask Telegram who we are, so a bad token is one sentence, not a traceback."""
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError

    assert settings.telegram_bot_token is not None
    bot = Bot(settings.telegram_bot_token.get_secret_value(), base_url=settings.api_base_url,
              base_file_url=settings.api_base_file_url)
    try:
        async with bot:
            me = await bot.get_me()
    except InvalidToken as exc:
        raise CliError("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather.",
                       EXIT_CONFIG) from exc
    except NetworkError as exc:
        raise CliError(f"cannot reach the Bot API at {settings.telegram_api_base_url}: {exc}",
                       EXIT_FAILED) from exc
    log.info("connected as @%s (id %s)", me.username, me.id)


def _sandbox(settings: Settings, *, reset: bool = False, port: int | None = None,
             why: str | None = None) -> int:
    """Run the local sandbox until Ctrl-C (see bot/sandbox.py)."""
    from bot import sandbox

    options = sandbox.SandboxOptions(host=settings.sandbox_host,
                                     port=settings.sandbox_port if port is None else port,
                                     reset=reset)
    try:
        asyncio.run(sandbox.serve(settings, options, why=why))
    except OSError as exc:
        raise CliError(f"cannot start the sandbox on {options.host}:{options.port}: "
                       f"{exc.strerror or exc} (set SANDBOX_PORT to another port)") from exc
    return EXIT_OK


def _run(settings: Settings) -> int:
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        # Nothing to connect to yet: show the bot working locally instead of refusing.
        return _sandbox(settings, why="TELEGRAM_BOT_TOKEN is not set, so this is the local "
                                      "sandbox, not Telegram")
    from bot import lifecycle
    from bot.app import build_application, elect
    from bot.leadership import Election
    from bot.web import ListenError

    asyncio.run(_check_token(settings))
    leader = elect(settings)  # with a standby: waits in start-up until this one leads
    stopping = asyncio.Event()
    if isinstance(leader, Election):
        # A leader without its lock stops, and exits non-zero: the supervisor starts it
        # again as a standby (it was fenced already).
        leader.on_lost = stopping.set
    app = build_application(settings, leadership=leader)
    try:
        asyncio.run(lifecycle.serve(app, settings, stopping))
    except ListenError as exc:
        raise CliError(f"{exc} (check WEBHOOK_LISTEN/WEBHOOK_PORT and METRICS_HOST/"
                       "METRICS_PORT)", EXIT_CONFIG) from exc
    if isinstance(leader, Election) and leader.lost.is_set():
        raise CliError("this instance lost the leadership (its database connection); "
                       "start it again to stand by")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
