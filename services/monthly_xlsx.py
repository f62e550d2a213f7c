"""The monthly report's workbook: the summary, every unit's figures, one sheet per figure."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

_SHEET_NAME_MAX = 31  # Excel's limit
_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def _sheet_title(title: str) -> str:
    return title.translate(_FORBIDDEN)[:_SHEET_NAME_MAX] or "Sheet"


def _fill(sheet: Worksheet, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append(list(row))
    for index, _ in enumerate(header, start=1):
        letter = get_column_letter(index)
        longest = max((len(str(c.value)) for c in sheet[letter] if c.value is not None),
                      default=4)
        sheet.column_dimensions[letter].width = min(max(8, longest * 1.6 + 2), 48)
    sheet.freeze_panes = "A2"


def report_workbook(*, summary_title: str, summary_lines: Sequence[str],
                    units_title: str, units_header: Sequence[str],
                    units_rows: Sequence[Sequence[Any]],
                    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """The workbook: a summary sheet, the by-unit sheet, then ``(title, header, rows)`` each."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = _sheet_title(summary_title)
    for line in summary_lines:
        summary.append([line])
    summary.column_dimensions["A"].width = 100
    _fill(book.create_sheet(_sheet_title(units_title)), units_header, units_rows)
    used = {summary.title, _sheet_title(units_title)}
    for title, header, rows in sheets:
        name = _sheet_title(title)
        while name in used:  # two figures with the same sheet title stay two sheets
            name = _sheet_title(name[:28] + f"_{len(used)}")
        used.add(name)
        _fill(book.create_sheet(name), header, rows)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
