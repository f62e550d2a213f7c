"""The monthly report's figures: each one aggregate query for a set of units and a month.

A figure reads the teams of a scope (a unit and everything under it) for one month
and gives back a :class:`FigureValue`: counters per team (rolled up the tree by the
report for every unit in it), totals, a table of its own for the workbook, and the
numbers its summary line shows. The report, the charts, the XLSX and ``/stats`` all
read the same values, so they always agree.

**Adding a figure** (check completion, incidents, ideas…): write a class with
``key``, ``counters`` and ``compute`` (one query in ``storage/monthly.py`` or the
feature's repository), add it to :data:`FIGURES` below, and give it its texts in
``content/locales/{zh,en}.yaml``: ``monthly.line.<key>`` (the summary line),
``monthly.sheet.<key>`` and ``monthly.columns.<key>`` (its sheet, when it has rows)
and ``monthly.counter.<key>.<counter>`` (its columns in the by-unit sheet). Nothing
else changes: the summary, the workbook and ``/stats`` iterate over :data:`FIGURES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from domain.hazard import Severity
from domain.monthly import Month, hours, median, rate
from storage import ideas as ideas_repo
from storage import incidents as incidents_repo
from storage import inspections as inspections_repo
from storage import monthly as monthly_repo
from storage.models import Unit

SEVERITIES = tuple(s.value for s in Severity)  # general, serious, major
TOP_REPORTERS = 5


@dataclass(frozen=True)
class Scope:
    """What a report covers: a unit, every unit under it, one month.

    ``until`` is the month's end, or the moment of asking for the month in progress.
    ``trend`` holds the bounds of the twelve months ending with this one.
    """

    root: Unit
    units: tuple[Unit, ...]  # the root and everything under it, in tree order
    team_ids: tuple[int, ...]  # the units rows are kept under (teams)
    month: Month
    since: datetime
    until: datetime
    trend: tuple[tuple[Month, datetime], ...] = ()  # (month, its start); the last end = until


@dataclass
class FigureValue:
    """One figure of one scope and month.

    ``per_team`` holds additive counters (``figure.counters``) per team; ``totals`` the
    same for the whole scope; ``headline`` the values of the summary line; ``rows`` the
    figure's own sheet (plain cells, names already in the reader's language).
    """

    key: str
    totals: dict[str, float] = field(default_factory=dict)
    per_team: dict[int, dict[str, float]] = field(default_factory=dict)
    headline: dict[str, Any] = field(default_factory=dict)
    rows: list[list[Any]] = field(default_factory=list)
    series: dict[str, list[int]] = field(default_factory=dict)  # the trend's lines


Names = Callable[[str, str], str]  # (kind, key) -> name: "severity", "category"


class Figure(Protocol):
    """A figure of the monthly report."""

    key: ClassVar[str]
    counters: ClassVar[tuple[str, ...]]

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        """Read the figure for the scope (one aggregate query)."""
        ...

    def cells(self, counters: dict[str, float]) -> list[Any]:
        """The by-unit sheet's cells of one unit, from its rolled-up counters."""
        ...


def _add(per_team: dict[int, dict[str, float]], team: int, counter: str, value: float) -> None:
    per_team.setdefault(team, defaultdict(float))[counter] += value


def _totals(per_team: dict[int, dict[str, float]], counters: Sequence[str]) -> dict[str, float]:
    return {c: sum(values.get(c, 0) for values in per_team.values()) for c in counters}


class _BySeverity:
    """Hazards counted per team and severity (reported, closed, overdue)."""

    key: ClassVar[str]
    counters: ClassVar[tuple[str, ...]] = (*SEVERITIES, "total")

    def _value(self, rows: Sequence[tuple[int, str, int]]) -> FigureValue:
        per_team: dict[int, dict[str, float]] = {}
        for team, severity, count in rows:
            _add(per_team, team, severity, count)
            _add(per_team, team, "total", count)
        totals = _totals(per_team, self.counters)
        return FigureValue(self.key, totals=totals, per_team=per_team,
                           headline={"total": int(totals["total"]),
                                     **{s: int(totals[s]) for s in SEVERITIES}})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return [int(counters.get("total", 0))]


class HazardsReported(_BySeverity):
    """Hazards reported in the month, by level (severity) and kind (category)."""

    key = "hazards_reported"

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        rows = await monthly_repo.hazards_reported(session, scope.team_ids, scope.since,
                                                   scope.until)
        value = self._value([(team, severity, count) for team, severity, _, count in rows])
        by_kind: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SEVERITIES, 0))
        for _, severity, category, count in rows:
            by_kind[category][severity] += count
        ordered = sorted(by_kind.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        value.rows = [[names("category", kind), *(counts[s] for s in SEVERITIES),
                       sum(counts.values())] for kind, counts in ordered]
        value.headline["kinds"] = [{"name": row[0], "count": row[-1]} for row in value.rows[:3]]
        return value


class HazardsClosed(_BySeverity):
    """Hazards closed (verified) in the month, by level."""

    key = "hazards_closed"

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        return self._value(await monthly_repo.hazards_closed(session, scope.team_ids,
                                                             scope.since, scope.until))


class HazardsOverdue(_BySeverity):
    """Hazards whose rectification deadline fell in the month with the fix not in by then."""

    key = "hazards_overdue"

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        return self._value(await monthly_repo.hazards_overdue(session, scope.team_ids,
                                                              scope.since, scope.until))


class TimeToClose:
    """The median time from report to close of the hazards closed in the month."""

    key: ClassVar[str] = "time_to_close"
    counters: ClassVar[tuple[str, ...]] = ()

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        rows = await monthly_repo.hazard_close_times(session, scope.team_ids, scope.since,
                                                     scope.until)
        spans: dict[str, list[float]] = defaultdict(list)
        for _, severity, reported, closed in rows:
            spans[severity].append(hours(closed - reported))
        every = [h for values in spans.values() for h in values]
        overall = median(every)
        value = FigureValue(self.key, headline={
            "hours": None if overall is None else round(overall, 1), "closed": len(every)})
        value.rows = [[names("severity", s), len(spans[s]),
                       None if median(spans[s]) is None else round(median(spans[s]) or 0, 1)]
                      for s in SEVERITIES]
        return value

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return []


class TopReporters:
    """Who reported the most hazards in the month."""

    key: ClassVar[str] = "top_reporters"
    counters: ClassVar[tuple[str, ...]] = ()

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        rows = await monthly_repo.top_reporters(session, scope.team_ids, scope.since,
                                                scope.until, TOP_REPORTERS)
        return FigureValue(self.key, rows=[[name, count] for _, name, count in rows],
                           headline={"people": [{"name": name, "count": count}
                                                for _, name, count in rows[:3]]})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return []


class Meetings:
    """Pre-shift meetings held against those due, and check-ins (attendance)."""

    key: ClassVar[str] = "meetings"
    counters: ClassVar[tuple[str, ...]] = ("due", "held", "check_ins")

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        per_team: dict[int, dict[str, float]] = {}
        for team, due, held, check_ins in await monthly_repo.meetings(
                session, scope.team_ids, scope.since, scope.until):
            _add(per_team, team, "due", due)
            _add(per_team, team, "held", held)
            _add(per_team, team, "check_ins", check_ins)
        totals = _totals(per_team, self.counters)
        return FigureValue(self.key, totals=totals, per_team=per_team, headline={
            "due": int(totals["due"]), "held": int(totals["held"]),
            "rate": rate(totals["held"], totals["due"]),
            "attendance": round(totals["check_ins"] / totals["held"], 1)
            if totals["held"] else None})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        held = counters.get("held", 0)
        return [int(counters.get("due", 0)), int(held), rate(held, counters.get("due", 0)),
                round(counters.get("check_ins", 0) / held, 1) if held else None]


class DocumentReading:
    """Documents' read rates: acknowledgements required in the month, and given."""

    key: ClassVar[str] = "documents"
    counters: ClassVar[tuple[str, ...]] = ("required", "read")

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        per_team: dict[int, dict[str, float]] = {}
        for team, required, read in await monthly_repo.reading(
                session, scope.team_ids, scope.since, scope.until):
            _add(per_team, team, "required", required)
            _add(per_team, team, "read", read)
        totals = _totals(per_team, self.counters)
        return FigureValue(self.key, totals=totals, per_team=per_team, headline={
            "required": int(totals["required"]), "read": int(totals["read"]),
            "rate": rate(totals["read"], totals["required"])})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return [int(counters.get("required", 0)), int(counters.get("read", 0)),
                rate(counters.get("read", 0), counters.get("required", 0))]


class QuizScores:
    """Quiz participation (people who answered) and scores (share of right answers)."""

    key: ClassVar[str] = "quizzes"
    counters: ClassVar[tuple[str, ...]] = ("people", "answers", "correct")

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        per_team: dict[int, dict[str, float]] = {}
        for team, answers, correct, people in await monthly_repo.quizzes(
                session, scope.team_ids, scope.since, scope.until):
            _add(per_team, team, "answers", answers)
            _add(per_team, team, "correct", correct)
            _add(per_team, team, "people", people)
        totals = _totals(per_team, self.counters)
        return FigureValue(self.key, totals=totals, per_team=per_team, headline={
            "people": int(totals["people"]), "answers": int(totals["answers"]),
            "score": rate(totals["correct"], totals["answers"])})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return [int(counters.get("people", 0)), int(counters.get("answers", 0)),
                rate(counters.get("correct", 0), counters.get("answers", 0))]


class HazardTrend:
    """Hazards reported and closed in each of the twelve months up to this one."""

    key: ClassVar[str] = "trend"
    counters: ClassVar[tuple[str, ...]] = ()

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        bounds = [start for _, start in scope.trend] + [scope.until]
        reported = await monthly_repo.monthly_counts(session, scope.team_ids, bounds,
                                                     closed=False)
        closed = await monthly_repo.monthly_counts(session, scope.team_ids, bounds,
                                                   closed=True)
        months = [str(month) for month, _ in scope.trend]
        return FigureValue(self.key, series={"reported": reported, "closed": closed},
                           rows=[[m, r, c] for m, r, c in zip(months, reported, closed,
                                                              strict=True)],
                           headline={"months": len(months)})

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return []


class _PerUnitTotals(ABC):
    """A figure read per unit of the scope by one grouped query of its feature: each
    unit's row carries the counters as attributes (workshops' own rows count too)."""

    key: ClassVar[str]
    counters: ClassVar[tuple[str, ...]]

    @abstractmethod
    async def found(self, session: AsyncSession, unit_ids: list[int], since: datetime,
                    until: datetime) -> Mapping[int, Any]:
        """The feature's rows per unit id, each with the counters as attributes."""

    def headline(self, totals: dict[str, float]) -> dict[str, Any]:
        return {counter: int(totals[counter]) for counter in self.counters}

    async def compute(self, session: AsyncSession, scope: Scope, names: Names) -> FigureValue:
        per_team: dict[int, dict[str, float]] = {}
        rows = await self.found(session, [unit.id or 0 for unit in scope.units],
                                scope.since, scope.until)
        for unit_id, row in rows.items():
            for counter in self.counters:
                _add(per_team, unit_id, counter, getattr(row, counter))
        totals = _totals(per_team, self.counters)
        return FigureValue(self.key, totals=totals, per_team=per_team,
                           headline=self.headline(totals))

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return [int(counters.get(counter, 0)) for counter in self.counters]


class ChecksDone(_PerUnitTotals):
    """Checks (检查) fallen due in the month: done, missed, still open."""

    key: ClassVar[str] = "checks"
    counters: ClassVar[tuple[str, ...]] = ("due", "done", "missed")

    async def found(self, session: AsyncSession, unit_ids: list[int], since: datetime,
                    until: datetime) -> Mapping[int, Any]:
        return await inspections_repo.completion_by_unit(session, unit_ids, since, until)

    def headline(self, totals: dict[str, float]) -> dict[str, Any]:
        return {**super().headline(totals), "rate": rate(totals["done"], totals["due"])}

    def cells(self, counters: dict[str, float]) -> list[Any]:
        return [*super().cells(counters), rate(counters.get("done", 0), counters.get("due", 0))]


class Incidents(_PerUnitTotals):
    """Accidents (事故快报) that happened in the month: how many, people hurt, deaths."""

    key: ClassVar[str] = "incidents"
    counters: ClassVar[tuple[str, ...]] = ("incidents", "injured", "fatal", "open")

    async def found(self, session: AsyncSession, unit_ids: list[int], since: datetime,
                    until: datetime) -> Mapping[int, Any]:
        return await incidents_repo.totals_by_unit(session, unit_ids, since, until)


class Ideas(_PerUnitTotals):
    """Improvement ideas (金点子): submitted and adopted in the month, points given."""

    key: ClassVar[str] = "ideas"
    counters: ClassVar[tuple[str, ...]] = ("submitted", "adopted", "points")

    async def found(self, session: AsyncSession, unit_ids: list[int], since: datetime,
                    until: datetime) -> Mapping[int, Any]:
        return await ideas_repo.totals_by_unit(session, unit_ids, since, until)


# The figures, in the order the summary and the workbook show them. Add new ones here
# (see the module's docstring).
FIGURES: tuple[Figure, ...] = (
    HazardsReported(),
    HazardsClosed(),
    HazardsOverdue(),
    TimeToClose(),
    TopReporters(),
    Meetings(),
    DocumentReading(),
    QuizScores(),
    ChecksDone(),
    Incidents(),
    Ideas(),
    HazardTrend(),
)


async def compute_all(session: AsyncSession, scope: Scope, names: Names,
                      figures: Sequence[Figure] = FIGURES) -> dict[str, FigureValue]:
    """Every figure of the scope, by key (one query each; the trend two)."""
    return {figure.key: await figure.compute(session, scope, names) for figure in figures}


def rolled_up(scope: Scope, value: FigureValue) -> dict[int, dict[str, float]]:
    """The figure's counters for every unit of the scope: its teams' counters summed."""
    paths = {unit.id: unit.path for unit in scope.units}
    rolled: dict[int, dict[str, float]] = {unit.id or 0: defaultdict(float)
                                           for unit in scope.units}
    by_path = {unit.path: unit.id or 0 for unit in scope.units}
    for team, counters in value.per_team.items():
        path = paths.get(team)
        if path is None:
            continue
        # Every unit of the scope whose path the team's path starts with holds it.
        prefix = ""
        for part in path.strip("/").split("/"):
            prefix += f"/{part}"
            holder = by_path.get(prefix + "/")
            if holder is None:
                continue
            for name, number in counters.items():
                rolled[holder][name] += number
    return rolled
