"""The hazard ledger (隐患台账) as a spreadsheet, built in memory.

One row per hazard with the registration facts, the five in place (五落实),
the state, the date of each step and the days overdue.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

HEADERS = {
    "zh": ["序号", "隐患编号", "上报日期", "班组", "上报人", "地点", "类别", "等级", "描述",
           "责任人", "整改措施", "资金", "整改期限", "应急预案", "状态", "受理时间",
           "整改时间", "验证时间", "关闭时间", "超期天数", "照片"],
    "en": ["No.", "Code", "Reported", "Team", "Reporter", "Place", "Kind", "Severity",
           "Description", "Responsible", "Measures", "Funds", "Deadline", "Contingency plan",
           "State", "Acknowledged", "Fixed", "Verified", "Closed", "Days overdue", "Photos"],
}


@dataclass(frozen=True)
class LedgerRow:
    """One hazard as the ledger shows it (names already in the reader's language)."""

    code: str
    reported_at: datetime
    team: str
    reporter: str
    location: str
    category: str
    severity: str
    description: str
    responsible: str
    measures: str
    funds: str
    deadline: datetime | None
    contingency: str
    state: str
    acknowledged_at: datetime | None
    rectified_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    open: bool
    photos: Sequence[str]


def overdue_days(deadline: datetime | None, finished: datetime | None, now: datetime,
                 is_open: bool) -> int:
    """Whole days past the deadline: until now while open, until the fix when done."""
    if deadline is None:
        return 0
    end = now if is_open else (finished or now)
    return max((end - deadline).days, 0) if end > deadline else 0


def ledger_workbook(rows: Sequence[LedgerRow], *, lang: str, timezone: str,
                    now: datetime, title: str) -> bytes:
    """An XLSX file (bytes) of the ledger, dates shown in ``timezone``."""
    zone = ZoneInfo(timezone)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(HEADERS.get(lang, HEADERS["zh"]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=1):
        sheet.append([
            number, row.code, local(row.reported_at), row.team, row.reporter, row.location,
            row.category, row.severity, row.description, row.responsible, row.measures,
            row.funds, local(row.deadline), row.contingency, row.state,
            local(row.acknowledged_at), local(row.rectified_at), local(row.verified_at),
            local(row.closed_at),
            overdue_days(row.deadline, row.rectified_at, now, row.open),
            "\n".join(row.photos)])
    widths = [6, 20, 17, 14, 12, 18, 12, 8, 40, 12, 30, 10, 17, 30, 14, 17, 17, 17, 17, 8, 40]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "C2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
