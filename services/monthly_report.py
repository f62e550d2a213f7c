"""The monthly report (安全月报): figures, charts, summary and workbook, to the levels above teams.

Three ways in, one report:

- the sweep (:func:`send_due`): on the report day of each enterprise (``report_day``
  in the org file, default the 20th, never the 25th or later) every manager and
  safety officer of a workshop, enterprise or authority gets, privately, the report
  of their unit and everything under it for the month before: the charts (PNG), a
  short summary and the XLSX. Once per person, unit and month, also across restarts:
  the outbox's dedupe keys are the record of what was sent.
- ``/stats [month]`` (:func:`stats_for`): the same on demand, for the same people.
- ``safetybot report monthly`` (:func:`write_files`): the files into a folder.

The figures are :data:`services.monthly_figures.FIGURES`; building reads them in a
plain session, the charts and the workbook are drawn outside the event loop, and
only queueing writes (a short transaction).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from content.hazards import category
from content.render import Renderer
from domain.monthly import (
    DEFAULT_REPORT_DAY,
    Month,
    ReportDayError,
    check_report_day,
    report_due,
    reported_month,
    stats_month,
)
from domain.org import Role, UnitKind, is_within
from services.base import Actor, Outcome, Runtime
from services.monthly_charts import Chart, grouped_bars, trend_chart
from services.monthly_figures import (
    FIGURES,
    SEVERITIES,
    Figure,
    FigureValue,
    Names,
    Scope,
    compute_all,
    rolled_up,
)
from services.monthly_xlsx import report_workbook
from storage import org as org_repo
from storage import outbox as outbox_repo
from storage import outbox_files
from storage.models import Person, Unit

log = logging.getLogger(__name__)

# Who gets the report, and on which units: the levels above the team.
REPORT_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER)
STATS_ROLES = (Role.SAFETY_OFFICER, Role.MANAGER, Role.ADMIN)
REPORT_KINDS = (UnitKind.WORKSHOP, UnitKind.ENTERPRISE, UnitKind.AUTHORITY)
MOST_UNITS_CHARTED = 20  # the by-unit chart shows the units with most hazards
PURPOSE = "monthly.report"
FILE_RETENTION = timedelta(days=40)


@dataclass(frozen=True)
class MonthlyReport:
    """One unit's report for one month in one language."""

    unit: Unit
    month: Month
    lang: str
    figures: dict[str, FigureValue]
    summary_html: str
    summary_text: str
    charts: tuple[Chart, ...]
    workbook: bytes

    @property
    def xlsx_name(self) -> str:
        """The workbook's file name."""
        return f"monthly-{self.unit.key}-{self.month}.xlsx"


@dataclass
class StatsOutcome(Outcome):
    """``/stats``: the outcome, and the reports queued."""

    reports: list[MonthlyReport] | None = None


# ------------------------------------------------------------------ the unit's settings


def report_day_of(chain: Sequence[Unit]) -> int:
    """The report day that holds for a unit: the nearest ``report_day`` up its chain."""
    import json

    for unit in reversed(chain):
        extra = json.loads(unit.extra_json) if unit.extra_json else {}
        if "report_day" in extra:
            try:
                return check_report_day(extra["report_day"])
            except ReportDayError:  # the org file refuses it; a hand-edited row falls back
                log.warning("unit %s has a bad report_day %r", unit.key, extra["report_day"])
    return DEFAULT_REPORT_DAY


def zone_of(chain: Sequence[Unit], default: str) -> str:
    """The time zone of a unit: its own, else the nearest above, else the default."""
    return next((u.timezone for u in reversed(chain) if u.timezone), default)


# ------------------------------------------------------------------ building


def names_in(renderer: Renderer, lang: str) -> Names:
    """Names of severities and categories in ``lang``."""

    def name_of(kind: str, key: str) -> str:
        if kind == "category":
            found = category(key)
            return found.name(lang) if found else key
        return renderer.plain(f"{kind}.{key}", lang)

    return name_of


async def scope_of(session: AsyncSession, root: Unit, month: Month, *, zone: str,
                   now: datetime) -> Scope:
    """The unit, everything under it, and the month's bounds (cut at ``now``)."""
    units = tuple(await org_repo.subtree(session, root))
    teams = tuple(u.id or 0 for u in units if UnitKind(u.kind) is UnitKind.TEAM)
    since, end = month.bounds(zone)
    trend = tuple((m, m.bounds(zone)[0]) for m in month.trend())
    return Scope(root=root, units=units, team_ids=teams, month=month, since=since,
                 until=min(end, now), trend=trend)


def _headers(renderer: Renderer, key: str, lang: str) -> list[str]:
    return renderer.plain(key, lang).split("|")


def _draw(renderer: Renderer, scope: Scope, figures: dict[str, FigureValue],
          lang: str) -> tuple[Chart, ...]:
    """The three charts (CPU work: called in a worker thread)."""
    unit, month = scope.root.name, str(scope.month)
    labels = {name: renderer.plain(f"monthly.series.{name}", lang)
              for name in ("reported", "closed", "overdue")}
    trend = figures["trend"]
    months = [str(m) for m, _ in scope.trend]
    charts = [Chart(f"trend-{scope.root.key}-{month}.png", trend_chart(
        renderer.plain("monthly.chart.trend", lang, unit=unit, first=months[0],
                       last=months[-1]), months, trend.series, labels),
        renderer.plain("monthly.chart.trend", lang, unit=unit, first=months[0],
                       last=months[-1]))]
    by_level = {name: [figures[f"hazards_{name}"].totals.get(s, 0) for s in SEVERITIES]
                for name in ("reported", "closed", "overdue")}
    title = renderer.plain("monthly.chart.levels", lang, unit=unit, month=month)
    charts.append(Chart(f"levels-{scope.root.key}-{month}.png", grouped_bars(
        title, [renderer.plain(f"severity.{s}", lang) for s in SEVERITIES], by_level, labels),
        title))
    children = [u for u in scope.units if u.parent_id == scope.root.id] or [scope.root]
    rolled = {name: rolled_up(scope, figures[f"hazards_{name}"])
              for name in ("reported", "closed", "overdue")}
    children.sort(key=lambda u: -rolled["reported"][u.id or 0].get("total", 0))
    shown = children[:MOST_UNITS_CHARTED]
    by_unit = {name: [rolled[name][u.id or 0].get("total", 0) for u in shown]
               for name in rolled}
    title = renderer.plain("monthly.chart.units", lang, unit=unit, month=month)
    charts.append(Chart(f"units-{scope.root.key}-{month}.png", grouped_bars(
        title, [u.name for u in shown], by_unit, labels, horizontal=True), title))
    return tuple(charts)


def _workbook(renderer: Renderer, scope: Scope, figures: dict[str, FigureValue], lang: str,
              summary_text: str, chosen: Sequence[Figure]) -> bytes:
    """The XLSX (CPU work: called in a worker thread)."""
    header = _headers(renderer, "monthly.units_columns", lang)
    for figure in chosen:
        if figure.cells({}):
            header += _headers(renderer, f"monthly.counter.{figure.key}", lang)
    rolled = {f.key: rolled_up(scope, figures[f.key]) for f in chosen if f.cells({})}
    rows = []
    for unit in scope.units:
        row: list[Any] = [unit.name, renderer.plain(f"kind.{unit.kind}", lang)]
        for figure in chosen:
            if figure.key in rolled:
                row += figure.cells(rolled[figure.key][unit.id or 0])
        rows.append(row)
    sheets = [(renderer.plain(f"monthly.sheet.{f.key}", lang),
               _headers(renderer, f"monthly.columns.{f.key}", lang), figures[f.key].rows)
              for f in chosen if figures[f.key].rows]
    return report_workbook(summary_title=renderer.plain("monthly.sheet.summary", lang),
                           summary_lines=summary_text.split("\n"),
                           units_title=renderer.plain("monthly.sheet.units", lang),
                           units_header=header, units_rows=rows, sheets=sheets)


def _plain(html: str) -> str:
    """The summary as plain text (its only tags are bold and italic; entities undone)."""
    text = re.sub(r"</?(b|i)>", "", html)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
        .replace("&#39;", "'").replace("&amp;", "&")


async def build(rt: Runtime, root: Unit, month: Month, lang: str, *,
                now: datetime | None = None,
                figures: Sequence[Figure] = FIGURES) -> MonthlyReport:
    """The report of ``root`` and everything under it for ``month``, in ``lang``."""
    now = now or rt.clock.now()
    async with rt.db.session() as session:
        chain = await org_repo.ancestors(session, root)
        zone = zone_of(chain, rt.default_timezone)
        scope = await scope_of(session, root, month, zone=zone, now=now)
        values = await compute_all(session, scope, names_in(rt.renderer, lang), figures)
    _, end = month.bounds(zone)
    lines = [Markup(rt.renderer.html(f"monthly.line.{f.key}", lang, **values[f.key].headline))
             for f in figures]
    summary = rt.renderer.html("monthly.summary", lang, unit=root.name, month=str(month),
                               lines=lines, partial=scope.until < end, until=scope.until,
                               tz=zone)
    text = _plain(summary)
    charts = await asyncio.to_thread(_draw, rt.renderer, scope, values, lang)
    workbook = await asyncio.to_thread(_workbook, rt.renderer, scope, values, lang, text,
                                       figures)
    return MonthlyReport(unit=root, month=month, lang=lang, figures=values,
                         summary_html=summary, summary_text=text, charts=charts,
                         workbook=workbook)


# ------------------------------------------------------------------ sending


async def queue_report(session: AsyncSession, rt: Runtime, report: MonthlyReport, *,
                       chat_id: int, person_id: int | None, key: str,
                       now: datetime) -> int:
    """Queue the charts, the summary and the workbook to one private chat, in that order.

    ``key`` makes it once: the same key again queues nothing.
    """
    items = []
    for index, chart in enumerate(report.charts):
        file_id = await outbox_files.store(session, filename=chart.filename,
                                           content=chart.png, now=now)
        items.append(outbox_repo.Outgoing(
            chat_id=chat_id, method="sendPhoto", purpose=PURPOSE, person_id=person_id,
            params={"photo": outbox_files.reference(file_id), "caption": chart.title},
            dedupe_key=f"{key}:chart{index}"))
    for params, part_key in outbox_repo.text_parts(html=report.summary_html,
                                                   dedupe_key=f"{key}:summary"):
        items.append(outbox_repo.Outgoing(chat_id=chat_id, params=params, purpose=PURPOSE,
                                          person_id=person_id,
                                          dedupe_key=part_key or f"{key}:summary"))
    file_id = await outbox_files.store(session, filename=report.xlsx_name,
                                       content=report.workbook, now=now)
    caption = rt.renderer.html("monthly.xlsx_caption", report.lang, unit=report.unit.name,
                               month=str(report.month))
    items.append(outbox_repo.Outgoing(
        chat_id=chat_id, method="sendDocument", purpose=PURPOSE, person_id=person_id,
        params={"document": outbox_files.reference(file_id), "caption": caption,
                "parse_mode": "HTML"},
        dedupe_key=f"{key}:xlsx"))
    await outbox_repo.enqueue_many(session, items, now=now)
    return len(items)


def report_key(month: Month, unit_id: int, person_id: int) -> str:
    """The dedupe key of one person's report of one unit and month (the sweep's)."""
    return f"monthly:{month}:{unit_id}:{person_id}"


@dataclass(frozen=True)
class _Due:
    person: Person
    unit: Unit
    month: Month
    lang: str


async def due_reports(rt: Runtime, now: datetime, send_at: time) -> list[_Due]:
    """Who is due their report now and has not been sent it (read from the database)."""
    async with rt.db.session() as session:
        units = await org_repo.all_units(session)
        above = [u for u in units if UnitKind(u.kind) in REPORT_KINDS]
        holders = await org_repo.role_holders(session, [u.id or 0 for u in above],
                                              REPORT_ROLES)
        by_id = {u.id: u for u in units}
        due: list[_Due] = []
        seen: set[tuple[int, int]] = set()
        for person, grant in holders:
            unit = by_id[grant.unit_id]
            if (person.id or 0, unit.id or 0) in seen or not person.started or person.blocked:
                continue
            seen.add((person.id or 0, unit.id or 0))
            chain = [by_id[i] for i in _path_ids(unit.path) if i in by_id]
            zone = ZoneInfo(zone_of(chain, rt.default_timezone))
            local = now.astimezone(zone)
            day = report_day_of(chain)
            if not report_due(local.replace(tzinfo=None), day, send_at):
                continue
            # A role given after this month's report moment waits for next month's
            # (``/stats`` serves them meanwhile): a bot set up on the 23rd does not
            # greet everyone with last month's report.
            moment = datetime.combine(local.date().replace(day=day), send_at, tzinfo=zone)
            if grant.granted_at > moment:
                continue
            due.append(_Due(person, unit, reported_month(local.date()),
                            person.language or rt.default_language))
        if not due:
            return []
        sent = await outbox_repo.ids_by_key(session, [
            f"{report_key(d.month, d.unit.id or 0, d.person.id or 0)}:xlsx" for d in due])
    return [d for d in due
            if f"{report_key(d.month, d.unit.id or 0, d.person.id or 0)}:xlsx" not in sent]


def _path_ids(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


async def send_due(rt: Runtime, now: datetime, *, send_at: time = time(9, 0)) -> int:
    """The sweep: every report due now, built once per unit and language, queued per person.

    Returns the number of people queued a report.
    """
    async with rt.db.transaction() as session:
        # A file's rows were sent, or given up, long before this (retries end in hours).
        await outbox_files.forget_before(session, now - FILE_RETENTION)
    due = await due_reports(rt, now, send_at)
    built: dict[tuple[int, str, str], MonthlyReport] = {}
    sent = 0
    for item in due:
        slot = (item.unit.id or 0, str(item.month), item.lang)
        if slot not in built:
            built[slot] = await build(rt, item.unit, item.month, item.lang, now=now)
        async with rt.db.transaction() as session:
            await queue_report(session, rt, built[slot], chat_id=item.person.telegram_id,
                               person_id=item.person.id, now=now,
                               key=report_key(item.month, item.unit.id or 0,
                                              item.person.id or 0))
        sent += 1
        rt.wake()
    if sent:
        log.info("monthly reports queued to %d people (%d reports built)", sent, len(built))
    return sent


# ------------------------------------------------------------------ /stats


async def stats_roots(session: AsyncSession, actor: Actor) -> list[Unit]:
    """The units whose statistics ``actor`` may see: where they are an officer, manager
    or admin above the team level (the highest of them; everything for a bot admin)."""
    if actor.is_bot_admin:
        return [u for u in await org_repo.all_units(session) if u.parent_id is None]
    rows = await org_repo.role_rows_of(session, actor.person_id)
    units = [u for g, u in rows
             if Role(g.role) in STATS_ROLES and UnitKind(u.kind) in REPORT_KINDS]
    return [u for u in units
            if not any(o.id != u.id and is_within(u.path, o.path) for o in units)]


@dataclass(frozen=True)
class StatsPlan:
    """What ``/stats`` will send: the units and the month (rights already checked)."""

    roots: tuple[Unit, ...]
    month: Month


async def plan_stats(rt: Runtime, actor: Actor,
                     argument: str | None) -> StatsPlan | StatsOutcome:
    """Check ``/stats [month]``: the plan, or the refusal.

    Refused for workers and team leaders (``stats.not_allowed``) and for a month that is
    not one or has not begun (``stats.bad_month``). Without a month: the one the
    monthly report covers (the month before).
    """
    async with rt.db.session() as session:
        roots = await stats_roots(session, actor)
        if not roots:
            return StatsOutcome(False, "stats.not_allowed")
        chain = await org_repo.ancestors(session, roots[0])
    now = rt.clock.now()
    local_today = now.astimezone(ZoneInfo(zone_of(chain, rt.default_timezone))).date()
    month = stats_month(argument, local_today)
    if month is None:
        return StatsOutcome(False, "stats.bad_month",
                            {"example": str(reported_month(local_today))})
    return StatsPlan(tuple(roots), month)


async def send_stats(rt: Runtime, actor: Actor, plan: StatsPlan) -> StatsOutcome:
    """Build the planned reports and queue them to the actor's private chat."""
    now = rt.clock.now()
    reports = [await build(rt, root, plan.month, actor.language, now=now)
               for root in plan.roots]
    async with rt.db.transaction() as session:
        for report in reports:
            await queue_report(session, rt, report, chat_id=actor.telegram_id,
                               person_id=actor.person_id, now=now,
                               key=f"stats:{actor.person_id}:{report.unit.id}:{plan.month}:"
                                   f"{now.isoformat()}")
    rt.wake()
    return StatsOutcome(True, "stats.sending", stats_values(plan), reports=reports)


def stats_values(plan: StatsPlan) -> dict[str, Any]:
    """The values of ``stats.sending``."""
    return {"units": " / ".join(r.name for r in plan.roots), "month": str(plan.month)}


async def stats_for(rt: Runtime, actor: Actor, argument: str | None) -> StatsOutcome:
    """``/stats [month]`` in one call: checked, built and queued (or refused)."""
    plan = await plan_stats(rt, actor, argument)
    if isinstance(plan, StatsOutcome):
        return plan
    return await send_stats(rt, actor, plan)


# ------------------------------------------------------------------ the CLI


class UnknownUnit(LookupError):
    """A unit key that names no unit."""


async def write_files(rt: Runtime, unit_key: str, month: Month, lang: str,
                      folder: Path) -> list[Path]:
    """``safetybot report monthly``: the charts, the workbook and the summary into ``folder``.

    Raises:
        UnknownUnit: the key names no unit.
    """
    async with rt.db.session() as session:
        unit = await org_repo.get_unit_by_key(session, unit_key)
    if unit is None:
        raise UnknownUnit(unit_key)
    report = await build(rt, unit, month, lang)
    files = [(chart.filename, chart.png) for chart in report.charts]
    files += [(report.xlsx_name, report.workbook),
              (f"summary-{unit.key}-{month}.txt", (report.summary_text + "\n").encode())]
    return await asyncio.to_thread(_write, folder, files)


def _write(folder: Path, files: Sequence[tuple[str, bytes]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files:
        (folder / name).write_bytes(content)
    return [folder / name for name, _ in files]
