"""The team ledger as an XLSX workbook, built in memory (the file format, out of domain/).

Sheets: hazards (隐患台账), shift handovers (交接班记录), pre-shift meetings
with who checked in (班前会签到), the training record (安全培训档案), the checks
with every answer (检查记录) and the incidents (事故台账).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from domain.incident import IncidentRow
from domain.ledger import HandoverRow, LedgerRow, MeetingRow, overdue_days

HEADERS = {
    "zh": ["序号", "隐患编号", "上报日期", "班组", "上报人", "地点", "类别", "等级", "描述",
           "责任人", "整改措施", "资金", "整改期限", "应急预案", "状态", "受理时间",
           "整改时间", "验证时间", "关闭时间", "超期天数", "照片"],
    "en": ["No.", "Code", "Reported", "Team", "Reporter", "Place", "Kind", "Severity",
           "Description", "Responsible", "Measures", "Funds", "Deadline", "Contingency plan",
           "State", "Acknowledged", "Fixed", "Verified", "Closed", "Days overdue", "Photos"],
}

HANDOVER_HEADERS = {
    "zh": ["序号", "交班时间", "班组", "交班人", "接班人", "设备状况", "未完成工作",
           "安全注意事项", "未关闭隐患", "其他交代", "状态", "接班确认时间", "确认人",
           "提醒时间", "上报车间时间"],
    "en": ["No.", "Handed over", "Team", "Outgoing leader", "Incoming leader", "Equipment",
           "Work in progress", "Safety notes", "Open hazards", "Other notes", "State",
           "Accepted", "Accepted by", "Reminded", "Escalated"],
}
MEETING_HEADERS = {
    "zh": ["序号", "班次开始", "班组", "班次", "简报发出", "开会确认", "主持人", "上报车间",
           "签到人数", "签到人员"],
    "en": ["No.", "Shift start", "Team", "Shift", "Briefing posted", "Held", "Led by",
           "Escalated", "Checked in", "Who checked in"],
}
TRAINING_HEADERS = {
    "zh": ["序号", "时间", "班组", "姓名", "类别", "内容", "结果"],
    "en": ["No.", "When", "Team", "Who", "Kind", "What", "Result"],
}
TRAINING_TITLE = {"zh": "安全培训档案", "en": "Training record"}
CHECK_HEADERS = {
    "zh": ["序号", "检查", "单位", "周期", "到期时间", "截止时间", "状态", "完成人", "完成时间",
           "项目序号", "检查项目", "回答", "合格", "说明", "照片", "隐患编号", "回答人",
           "回答时间"],
    "en": ["No.", "Check", "Unit", "Period", "Fell due", "Deadline", "State", "Done by",
           "Done at", "Item no.", "Item", "Answer", "OK", "Note", "Photo", "Hazard",
           "Answered by", "Answered at"],
}
CHECK_TITLE = {"zh": "检查记录", "en": "Checks"}
INCIDENT_HEADERS = {
    "zh": ["序号", "事故编号", "发生时间", "上报时间", "班组", "报告人", "事故经过", "地点",
           "受伤人数", "伤害程度", "已采取措施", "状态", "控制时间", "结案时间", "结案人",
           "事故原因", "整改措施", "吸取的教训", "过程记录"],
    "en": ["No.", "Code", "Happened", "Reported", "Team", "Reported by", "What happened",
           "Place", "Hurt", "Injury", "Action taken", "State", "Under control", "Closed",
           "Closed by", "Cause", "Measures", "Lessons", "History"],
}
INCIDENT_TITLE = {"zh": "事故台账", "en": "Incidents"}
SHEET_TITLES = {
    "zh": ("交接班记录", "班前会签到"),
    "en": ("Shift handovers", "Pre-shift meetings"),
}



def ledger_workbook(rows: Sequence[LedgerRow], *, lang: str, timezone: str,
                    now: datetime, title: str, handovers: Sequence[HandoverRow] = (),
                    meetings: Sequence[MeetingRow] = (),
                    training: Sequence[Sequence[Any]] = (),
                    checks: Sequence[Sequence[Any]] = (),
                    incidents: Sequence[IncidentRow] = ()) -> bytes:
    """An XLSX file (bytes): hazards, handovers, meetings, the training record
    (``[who, team, kind, what, result, when]`` rows), the checks (one row per answer,
    as ``services.inspections.sheet_rows`` makes them) and the incidents (事故台账),
    dates shown in ``timezone``."""
    zone = ZoneInfo(timezone)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    _fill(sheet, title, HEADERS.get(lang, HEADERS["zh"]), (
        [number, row.code, local(row.reported_at), row.team, row.reporter, row.location,
         row.category, row.severity, row.description, row.responsible, row.measures,
         row.funds, local(row.deadline), row.contingency, row.state,
         local(row.acknowledged_at), local(row.rectified_at), local(row.verified_at),
         local(row.closed_at), overdue_days(row.deadline, row.rectified_at, now, row.open),
         "\n".join(row.photos)] for number, row in enumerate(rows, start=1)),
        [6, 20, 17, 14, 12, 18, 12, 8, 40, 12, 30, 10, 17, 30, 14, 17, 17, 17, 17, 8, 40],
        freeze="C2")
    handover_title, meeting_title = SHEET_TITLES.get(lang, SHEET_TITLES["zh"])
    _fill(book.create_sheet(), handover_title, HANDOVER_HEADERS.get(lang, HANDOVER_HEADERS["zh"]), (
        [number, local(h.created_at), h.team, h.outgoing, h.incoming, h.equipment,
         h.work_in_progress, h.safety_notes, h.open_hazards, h.notes, h.state,
         local(h.accepted_at), h.accepted_by, local(h.reminded_at), local(h.escalated_at)]
        for number, h in enumerate(handovers, start=1)),
        [6, 17, 14, 12, 12, 30, 30, 30, 24, 30, 10, 17, 12, 17, 17], freeze="C2")
    separator = "、" if lang == "zh" else ", "
    _fill(book.create_sheet(), meeting_title, MEETING_HEADERS.get(lang, MEETING_HEADERS["zh"]), (
        [number, local(m.starts_at), m.team, m.shift, local(m.posted_at), local(m.held_at),
         m.held_by, local(m.escalated_at), len(m.attendees), separator.join(m.attendees)]
        for number, m in enumerate(meetings, start=1)),
        [6, 17, 14, 10, 17, 17, 12, 17, 8, 60], freeze="C2")
    _fill(book.create_sheet(), TRAINING_TITLE.get(lang, TRAINING_TITLE["zh"]),
          TRAINING_HEADERS.get(lang, TRAINING_HEADERS["zh"]), (
              [number, local(at), team, who, kind, what, result]
              for number, (who, team, kind, what, result, at) in enumerate(training, start=1)),
          [6, 17, 14, 12, 14, 40, 12], freeze="C2")
    _fill(book.create_sheet(), CHECK_TITLE.get(lang, CHECK_TITLE["zh"]),
          CHECK_HEADERS.get(lang, CHECK_HEADERS["zh"]), (
              [number, *(local(v) if isinstance(v, datetime) else v for v in row)]
              for number, row in enumerate(checks, start=1)),
          [6, 18, 14, 16, 17, 17, 10, 12, 17, 6, 40, 10, 6, 30, 30, 20, 12, 17], freeze="C2")
    _fill(book.create_sheet(), INCIDENT_TITLE.get(lang, INCIDENT_TITLE["zh"]),
          INCIDENT_HEADERS.get(lang, INCIDENT_HEADERS["zh"]), (
              [number, i.code, local(i.occurred_at), local(i.reported_at), i.team, i.reporter,
               i.what, i.place, i.injured, i.injury, i.action, i.state, local(i.controlled_at),
               local(i.closed_at), i.closed_by, i.cause, i.measures, i.lessons, i.history]
              for number, i in enumerate(incidents, start=1)),
          [6, 20, 17, 17, 14, 12, 40, 18, 8, 10, 30, 10, 17, 17, 12, 30, 30, 30, 50],
          freeze="C2")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _fill(sheet: Worksheet, title: str, headers: Sequence[str],
          rows: Iterable[Sequence[object]], widths: Sequence[int], *, freeze: str) -> None:
    """One sheet: a bold header row, the rows wrapped at the top, fixed widths."""
    sheet.title = title[:31]  # Excel's limit
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = freeze
