"""Every multi-line text keeps its lines: each field and each list item on a line of its own.

Each case renders a text with sample values and says, line by line, which values
must be on that line (``BLANK``: an empty line). A value found on any other line
means two lines ran together (or one was split), whatever the language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from content.render import Renderer, keep_line_breaks

AT = datetime(2026, 11, 23, 0, 42, tzinfo=UTC)
BLANK: tuple[str, ...] = ("<blank>",)
Lines = list[tuple[str, ...]]


def lines(*spec: tuple[str, ...] | str | int) -> Lines:
    """``"A"`` or ``("A", "B")``: the values on one line; ``0``: a line of fixed text only."""
    out: Lines = []
    for item in spec:
        if item == 0:
            out.append(())
        elif isinstance(item, str):
            out.append((item,))
        else:
            assert isinstance(item, tuple)
            out.append(item)
    return out


def fixed(count: int) -> Lines:
    return [()] * count


def event(kind: str, who: str, unit: str = "") -> dict[str, Any]:
    """A history line as ``handlers.hazards.history_line`` makes it."""
    return {"at": AT, "kind": kind, "facts": {"who": who, "unit": unit, "level": "",
                                              "watch": "ack", "reason": "",
                                              "responsible": ""}}


HAZARDS = [{"code": "HC1", "severity": "SEV1", "category": "CAT1", "state": "ST1",
            "overdue": True},
           {"code": "HC2", "severity": "SEV2", "category": "CAT2", "state": "ST2",
            "overdue": False},
           {"code": "HC3", "severity": "SEV3", "category": "CAT3", "state": "ST3",
            "overdue": False}]
SHIFTS = [{"name": "SH1", "start": "08:00", "end": "16:00", "night": False, "days": "DAYS1",
           "leader": "LEAD1"},
          {"name": "SH2", "start": "22:00", "end": "06:00", "night": True, "days": "DAYS2",
           "leader": None}]
FULL_BRIEFING = {
    "unit": "UNIT", "shift": "SHIFT", "starts_at": AT, "tip": "TIP",
    "risks": [{"post": "POST1", "level": "LVL1", "accidents": ["ACC1", "ACC2"],
               "measures": ["MEAS1", "MEAS2"]},
              {"post": "POST2", "level": "LVL2", "accidents": ["ACC3"], "measures": ["MEAS3"]}],
    "hazards": HAZARDS[:2], "documents": [{"title": "DOC1", "unread": 3},
                                          {"title": "DOC2", "unread": 1}],
    "unbriefed": ["NEW1", "NEW2"], "attendees": ["ATT1", "ATT2"]}
EMPTY_BRIEFING = {**FULL_BRIEFING, "risks": [], "hazards": [], "documents": [], "attendees": [],
                  "unbriefed": []}
PREVIEW = {"file": True, "audience": ["AUD1", "AUD2"], "teams": ["TEAM1", "TEAM2"],
           "without": ["WITHOUT1", "WITHOUT2"], "requires_ack": True, "people": 37,
           "due_hours": 8, "extends": True}
POSTED = {"unit": "UNIT", "outgoing": "OUT", "incoming_id": 7, "incoming": "INC",
          "equipment": "EQUIP", "wip": "WIP", "safety": "SAFETY", "hazards": "HAZ",
          "notes": "NOTES"}
SECTION_ROWS = [{"indent": "", "name": "ROW1", "read": 1, "required": 3, "percent": 33,
                 "missing": ["MISS1", "MISS2"], "more": 1},
                {"indent": "  ", "name": "ROW2", "read": 2, "required": 2, "percent": 100,
                 "missing": [], "more": 0}]
LIST_CARD = {"post": "POST", "items": ["ITEM1", "ITEM2"], "mnemonic": "MNEMO"}
DRILL = {"kind": "KIND", "number": 7, "at": AT, "minutes": 90, "scenario": "SCEN",
         "unit": "UNIT"}
DRILLS = [{"number": 1, "kind": "DK1", "at": AT, "state": "ST1"},
          {"number": 2, "kind": "DK2", "at": AT, "state": "ST2"}]
DRILL_LIST = {"title": "TITLE", "last": "LAST", "due": "DUE", "upcoming": DRILLS[:1],
              "recent": DRILLS[1:]}
CASES: dict[str, list[tuple[dict[str, Any], Lines]]] = {
    "drill.preview": [({**DRILL, "teams": ["TEAM1", "TEAM2"]},
                       lines(0, "KIND", "90", ("TEAM1", "TEAM2"), "SCEN"))],
    "drill.announce": [(DRILL, lines("KIND", "90", "SCEN"))],
    "drill.reminder": [(DRILL, lines("KIND", "90", "SCEN"))],
    "drill.post": [(DRILL, lines("KIND", ("UNIT", "90"), "SCEN", 0))],
    "drill.findings_posted": [({**DRILL, "attended": 11, "absent": 3, "went_well": "WELL",
                                "problems": "PROB", "measures": "MEAS"},
                               lines("KIND", ("11", "3"), "WELL", "PROB", "MEAS"))],
    "drill.list": [(DRILL_LIST, lines("TITLE", ("LAST", "DUE"), 0, ("DK1", "ST1"), 0,
                                      ("DK2", "ST2"))),
                   ({**DRILL_LIST, "title": "", "due": None, "upcoming": [], "recent": []},
                    fixed(3))],
    "drill.lapse": [({"unit": "UNIT", "rule": "RULE", "last": None, "due": "DUE"},
                     lines("UNIT", ("RULE", "DUE"), 0))],
    "record.private": [({"name": "NAME", "total": 3, "more": 1,
                         "summary": [{"kind": "K1", "count": 2}, {"kind": "K2", "count": 1}],
                         "entries": [{"at": AT, "kind": "K1", "what": "W1", "result": "R1"},
                                     {"at": AT, "kind": "K2", "what": "W2", "result": "R2"}]},
                        lines(("NAME", "K1", "K2"), ("K1", "W1", "R1"), ("K2", "W2", "R2"), 0))],
    "cards.card_risk": [({"post": "POST", "level": "LEVEL", "factors": ["F1", "F2"],
                          "accidents": ["A1"], "measures": ["M1", "M2"], "emergency": ["E1"],
                          "report": "REPORT"},
                         lines(("POST", "LEVEL"), ("F1", "F2"), "A1", ("M1", "M2"), "E1",
                               "REPORT"))],
    "cards.card_duty": [(LIST_CARD, lines("POST", "ITEM1", "ITEM2"))],
    "cards.card_operation": [(LIST_CARD, lines("POST", "ITEM1", "ITEM2"))],
    "cards.card_emergency": [(LIST_CARD, lines("POST", "ITEM1", "ITEM2", "MNEMO"))],
    "start.private": [({"name": "NAME"}, lines("NAME", 0, 0))],
    "help": [({}, fixed(25))],
    "group.greeting": [({}, fixed(2))],
    "group.arrived": [({"unit": "UNIT", "path": "PATH"}, lines(0, ("UNIT", "PATH")))],
    "group.removed_notice": [({"unit": "UNIT", "chat_title": "CHAT"},
                              lines(("UNIT", "CHAT"), 0))],
    "setup.choose": [({"chat_title": "CHAT", "has_teams": True}, lines("CHAT")),
                     ({"chat_title": "CHAT", "has_teams": False}, lines("CHAT", 0))],
    "invite.choose": [({"more": True}, fixed(2)), ({"more": False}, fixed(1))],
    "invite.created": [({"new_team": False, "unit": "UNIT", "expires_at": AT, "code": "CODE",
                         "link": "LINK"}, lines("UNIT", "CODE", "LINK", "CODE")),
                       ({"new_team": True, "unit": "UNIT", "expires_at": AT, "code": "CODE",
                         "link": "LINK"}, lines("UNIT", "CODE", "LINK", "CODE"))],
    "setup.bound": [({"unit": "UNIT", "path": "PATH"}, lines(("UNIT", "PATH"), 0))],
    "role.usage": [({}, fixed(3))],
    "whoami": [
        ({"name": "NAME", "username": "USERNAME", "telegram_id": 42, "is_admin": True,
          "roles": [{"role": "worker", "unit": "ROLEUNIT1", "kind": "team"},
                    {"role": "manager", "unit": "ROLEUNIT2", "kind": "enterprise"}],
          "member_of": None, "started": True},
         lines(("NAME", "USERNAME"), 0, 0, 0, "ROLEUNIT1", "ROLEUNIT2", 0)),
        ({"name": "NAME", "username": None, "telegram_id": 42, "is_admin": False, "roles": [],
          "member_of": "MEMBEROF", "started": False},
         lines("NAME", 0, "MEMBEROF", 0))],
    "report.confirm": [
        ({"photos": 2, "location": "LOC", "category": "CAT", "severity": "SEV",
          "description": "DESC"}, lines(0, 0, "LOC", "CAT", "SEV", "DESC")),
        ({"photos": 2, "location": "LOC", "category": "CAT", "severity": "SEV",
          "description": None}, lines(0, 0, "LOC", "CAT", "SEV"))],
    "hazard.card": [
        ({"code": "CODE", "severity": "SEV", "category": "CAT", "location": "LOC",
          "description": "DESC", "reporter": "REPORTER", "deadline": AT},
         lines(("CODE", "SEV"), "CAT", "LOC", "DESC", "REPORTER", 0)),
        ({"code": "CODE", "severity": "SEV", "category": "CAT", "location": "LOC",
          "description": None, "reporter": "REPORTER", "deadline": AT},
         lines(("CODE", "SEV"), "CAT", "LOC", "REPORTER", 0))],
    "hazard.escalation": [
        ({"code": "CODE", "severity": "SEV", "team": "TEAM", "watch": "ack", "deadline": AT,
          "category": "CAT", "location": "LOC", "earlier": "EARLIER"},
         lines(("CODE", "SEV", "TEAM"), ("CAT", "LOC"), "EARLIER")),
        ({"code": "CODE", "severity": "SEV", "team": "TEAM", "watch": "rectify",
          "deadline": AT, "category": "CAT", "location": "LOC", "earlier": ""},
         lines(("CODE", "SEV", "TEAM"), ("CAT", "LOC")))],
    "hazards.list": [({"unit": "UNIT", "hazards": HAZARDS},
                      lines("UNIT", ("HC1", "SEV1", "CAT1", "ST1"),
                            ("HC2", "SEV2", "CAT2", "ST2"), ("HC3", "SEV3", "CAT3", "ST3")))],
    "hazard.detail": [
        ({"code": "CODE", "severity": "SEV", "state": "STATE", "team": "TEAM",
          "category": "CAT", "location": "LOC", "description": "DESC",
          "events": [event("reported", "WHO1"), event("escalated", "", "UNIT1"),
                     event("handed_up", "WHO3", "UNIT2")]},
         lines(("CODE", "SEV", "STATE"), "TEAM", ("CAT", "LOC"), "DESC", 0, "WHO1", "UNIT1",
               ("WHO3", "UNIT2"))),
        ({"code": "CODE", "severity": "SEV", "state": "STATE", "team": "TEAM",
          "category": "CAT", "location": "LOC", "description": None,
          "events": [event("acknowledged", "WHO1")]},
         lines(("CODE", "SEV", "STATE"), "TEAM", ("CAT", "LOC"), 0, "WHO1"))],
    "my.private": [
        ({"name": "NAME", "points": 8, "open_count": 12, "finished_count": 2,
          "open": [{"code": "HC1", "state": "ST1", "category": "CAT1", "at": AT},
                   {"code": "HC2", "state": "ST2", "category": "CAT2", "at": AT}],
          "finished": [{"code": "HC3", "state": "ST3", "category": "CAT3", "at": AT},
                       {"code": "HC4", "state": "ST4", "category": "CAT4", "at": AT}],
          "documents": [{"title": "DOC1", "version": 2, "due": AT},
                        {"title": "DOC2", "version": 1, "due": AT}]},
         lines("NAME", 0, ("HC1", "ST1", "CAT1"), ("HC2", "ST2", "CAT2"), 0, 0,
               ("HC3", "ST3", "CAT3"), ("HC4", "ST4", "CAT4"), 0, "DOC1", "DOC2")),
        ({"name": "NAME", "points": 0, "open_count": 0, "finished_count": 0, "open": [],
          "finished": [], "documents": [{"title": "DOC1", "version": 2, "due": AT}]},
         lines("NAME", 0, 0, "DOC1")),
        ({"name": "NAME", "points": 3, "open_count": 0, "finished_count": 1, "open": [],
          "finished": [{"code": "HC3", "state": "ST3", "category": "CAT3", "at": AT}],
          "documents": []},
         lines("NAME", 0, ("HC3", "ST3", "CAT3"), 0))],
    "five.saved": [({"code": "CODE", "responsible": "RESP", "measures": "MEASURES",
                     "funds": "FUNDS", "deadline": AT, "plan": "PLAN"},
                    lines("CODE", "RESP", "MEASURES", "FUNDS", 0, "PLAN"))],
    "handover.ask_hazards": [({"codes": "HC1, HC2"}, lines("HC1", 0)),
                             ({"codes": ""}, lines(0, 0))],
    "handover.posted": [
        (POSTED, lines("UNIT", ("OUT", "INC"), "EQUIP", "WIP", "SAFETY", "HAZ", "NOTES", 0)),
        ({**POSTED, "incoming_id": None, "notes": None},
         lines("UNIT", "OUT", "EQUIP", "WIP", "SAFETY", "HAZ", 0))],
    "handover.list": [({"unit": "UNIT", "items": [
        {"at": AT, "outgoing": "OUT1", "incoming": "INC1", "accepted_at": AT},
        {"at": AT, "outgoing": "OUT2", "incoming": "INC2", "accepted_at": None},
        {"at": AT, "outgoing": "OUT3", "incoming": "INC3", "accepted_at": AT}]},
        lines("UNIT", ("OUT1", "INC1"), ("OUT2", "INC2"), ("OUT3", "INC3")))],
    "meeting.briefing": [
        (FULL_BRIEFING, lines(("UNIT", "SHIFT"), 0, ("POST1", "LVL1", "MEAS1", "MEAS2"),
                              ("POST2", "LVL2", "MEAS3"), 0, ("HC1", "SEV1", "CAT1"),
                              ("HC2", "SEV2", "CAT2"), ("DOC1", "DOC2"), ("NEW1", "NEW2"),
                              "TIP", 0,
                              ("ATT1", "ATT2"))),
        (EMPTY_BRIEFING, lines(("UNIT", "SHIFT"), 0, "TIP", 0))],
    "quiz.question": [
        ({"round": 1, "number": 1, "total": 5, "topic": "TOPIC", "question": "QTEXT",
          "options": ["OPT1", "OPT2", "OPT3"]},
         lines("TOPIC", "QTEXT", "OPT1", "OPT2", "OPT3")),
        ({"round": 2, "number": 1, "total": 2, "topic": "TOPIC", "question": "QTEXT",
          "options": ["OPT1", "OPT2"]},
         lines("TOPIC", "QTEXT", "OPT1", "OPT2"))],
    "quiz.feedback": [
        ({"number": 1, "total": 5, "question": "QTEXT", "options": ["OPT1", "OPT2"],
          "chosen": "CHOSEN", "correct": False, "right": "RIGHT", "explanation": "EXPL"},
         lines("QTEXT", "OPT1", "OPT2", ("CHOSEN", "RIGHT"), "EXPL")),
        ({"number": 1, "total": 5, "question": "QTEXT", "options": ["OPT1", "OPT2"],
          "chosen": "CHOSEN", "correct": True, "right": "RIGHT", "explanation": "EXPL"},
         lines("QTEXT", "OPT1", "OPT2", "CHOSEN", "EXPL"))],
    "evacuate.alert": [
        ({"unit": "UNIT", "who": "WHO", "reason": "REASON", "at": AT},
         lines(0, ("UNIT", "WHO"), "REASON", 0)),
        ({"unit": "UNIT", "who": "WHO", "reason": None, "at": AT},
         lines(0, ("UNIT", "WHO"), 0, 0))],
    "evacuate.alert_up": [
        ({"unit": "UNIT", "who": "WHO", "reason": "REASON", "at": AT},
         lines("UNIT", "WHO", "REASON"))],
    "monthly.summary": [
        ({"unit": "UNIT", "month": "MONTH", "partial": False, "until": AT,
          "lines": ["LINE1", "LINE2"]}, lines(("UNIT", "MONTH"), "LINE1", "LINE2"))],
    "evacuate.missing": [
        ({"unit": "UNIT", "minutes": 10, "names": ["NAME1", "NAME2"]},
         lines("UNIT", ("NAME1", "NAME2")))],
    "checks.due": [({"title": "TITLE", "unit": "UNIT", "items": 6, "deadline": AT},
                    lines(("TITLE", "UNIT"), 0))],
    "checks.due_group": [
        ({"title": "TITLE", "unit": "UNIT", "items": 6, "deadline": AT,
          "people": [{"id": 1, "name": "WHO1"}, {"id": 2, "name": "WHO2"}]},
         lines(("TITLE", "UNIT"), ("WHO1", "WHO2"))),
        ({"title": "TITLE", "unit": "UNIT", "items": 6, "deadline": AT, "people": []},
         lines(("TITLE", "UNIT"), 0))],
    "checks.item": [
        ({"title": "TITLE", "number": 1, "count": 6, "text": "TEXT", "kind": "yes_no"},
         lines("TITLE", "TEXT")),
        ({"title": "TITLE", "number": 3, "count": 6, "text": "TEXT", "kind": "number",
          "min": "0.2", "max": "0.6", "unit": "MPA"}, lines("TITLE", ("TEXT", "MPA")))],
    "checks.ask_number": [
        ({"title": "TITLE", "number": 3, "count": 6, "text": "TEXT", "min": "0.2",
          "max": None, "unit": "MPA"}, lines("TITLE", ("TEXT", "MPA")))],
    "checks.board": [
        ({"units": "UNITS", "days": 7, "checks": [
            {"title": "CHECK1", "unit": "U1", "state": "due", "answered": 2, "count": 6,
             "deadline": AT, "tz": "Asia/Shanghai", "who": "", "done_at": None},
            {"title": "CHECK2", "unit": "U2", "state": "done", "answered": 6, "count": 6,
             "deadline": AT, "tz": "Asia/Shanghai", "who": "WHO2", "done_at": AT},
            {"title": "CHECK3", "unit": "U3", "state": "missed", "answered": 0, "count": 6,
             "deadline": AT, "tz": "Asia/Shanghai", "who": "", "done_at": None}]},
         lines("UNITS", ("CHECK1", "U1"), ("CHECK2", "U2", "WHO2"), ("CHECK3", "U3")))],
    "quiz.stats": [
        ({"team": "TEAM", "days": 30, "participants": 7, "members": 9, "answers": 41,
          "average": 66, "weakest": ["WEAK1", "WEAK2"]},
         lines("TEAM", 0, 0, ("WEAK1", "WEAK2"))),
        ({"team": "TEAM", "days": 30, "participants": 7, "members": 9, "answers": 41,
          "average": 66, "weakest": []},
         lines("TEAM", 0, 0, 0))],
    "meeting.held": [
        ({"unit": "UNIT", "shift": "SHIFT", "held_by": "HELDBY", "attendees": ["ATT1", "ATT2"]},
         lines(("UNIT", "SHIFT", "HELDBY"), ("ATT1", "ATT2"))),
        ({"unit": "UNIT", "shift": "SHIFT", "held_by": "HELDBY", "attendees": []},
         lines(("UNIT", "SHIFT", "HELDBY"), 0))],
    "shifts.show": [
        ({"saved": True, "unit": "UNIT", "timezone": "TZ", "lead": "LEADTIME", "shifts": SHIFTS,
          "upcoming": {"name": "NEXTSHIFT", "at": AT}},
         lines(0, ("UNIT", "TZ", "LEADTIME"), ("SH1", "DAYS1", "LEAD1"), ("SH2", "DAYS2"),
               "NEXTSHIFT")),
        ({"saved": False, "unit": "UNIT", "timezone": "TZ", "lead": "LEADTIME",
          "shifts": SHIFTS[1:], "upcoming": None},
         lines(("UNIT", "TZ", "LEADTIME"), ("SH2", "DAYS2")))],
    "document.post": [
        ({"title": "TITLE", "version": 2, "summary": "SUMMARY", "note": "NOTE", "body": "BODY"},
         lines("TITLE", "SUMMARY", "NOTE", "BODY")),
        ({"title": "TITLE", "version": 1, "summary": None, "note": None, "body": "BODY"},
         lines("TITLE", "BODY"))],
    "document.file_caption": [
        ({"title": "TITLE", "version": 2, "summary": "SUMMARY", "note": "NOTE"},
         lines("TITLE", "SUMMARY", "NOTE")),
        ({"title": "TITLE", "version": 2, "summary": None, "note": None}, lines("TITLE"))],
    "document.roll_call": [({"title": "TITLE", "version": 2, "due": AT, "read": 3,
                             "required": 3}, lines("TITLE", 0))],
    "document.roll_call_replaced": [({"title": "TITLE", "version": 2, "new_version": 3,
                                      "read": 1, "required": 3}, lines("TITLE", 0))],
    "publish.ask_audience": [({"chosen": ["CHOSEN1", "CHOSEN2"], "more": 4},
                              lines(0, ("CHOSEN1", "CHOSEN2"))),
                             ({"chosen": [], "more": 0}, lines(0))],
    "publish.preview": [
        (PREVIEW, lines(0, ("AUD1", "AUD2"), ("TEAM1", "TEAM2"), ("WITHOUT1", "WITHOUT2"),
                        0, 0, 0)),
        ({**PREVIEW, "file": False, "teams": [], "without": [], "requires_ack": False,
          "extends": False}, lines(0, ("AUD1", "AUD2"), 0, 0, 0))],
    "publish.done": [
        ({"title": "TITLE", "version": 3, "teams": ["TEAM1", "TEAM2"], "people": 9,
          "replaced": [1, 2], "without": ["WITHOUT1"]},
         lines(("TITLE", "TEAM1", "TEAM2"), 0, "WITHOUT1")),
        ({"title": "TITLE", "version": 1, "teams": ["TEAM1"], "people": 9, "replaced": [],
          "without": []}, lines(("TITLE", "TEAM1")))],
    "readstatus.show": [({"sections": [
        {"title": "TITLE1", "version": 1, "key": "KEY1", "rows": SECTION_ROWS},
        {"title": "TITLE2", "version": 2, "key": "KEY2", "rows": [
            {**SECTION_ROWS[0], "name": "ROW3", "missing": ["MISS3"], "more": 0}]}]},
        lines(("TITLE1", "KEY1"), ("ROW1", "MISS1", "MISS2"), "ROW2", ("TITLE2", "KEY2"),
              ("ROW3", "MISS3")))],
    "shifts.ask": [({"current": "CURRENT"}, lines(0, 0, 0, 0, 0, "CURRENT")),
                   ({"current": ""}, fixed(4))],
    "team": [
        ({"unit": "UNIT", "path": "PATH",
          "leaders": [{"telegram_id": 1, "name": "LEADER1"}, {"telegram_id": 2,
                                                              "name": "LEADER2"}],
          "officers": [{"name": "OFFICER1"}],
          "members": [{"name": "MEMBER1", "roles": ["team_leader"]},
                      {"name": "MEMBER2", "roles": []},
                      {"name": "MEMBER3", "roles": ["worker", "safety_officer"]}]},
         lines("UNIT", "PATH", ("LEADER1", "LEADER2"), "OFFICER1", BLANK, 0, "MEMBER1",
               "MEMBER2", "MEMBER3")),
        ({"unit": "UNIT", "path": "PATH", "leaders": [], "officers": [], "members": []},
         lines("UNIT", "PATH", BLANK, 0, 0))],
    # Accident quick reports (事故快报) and golden ideas (金点子).
    "incident.confirm": [
        ({"unit": "UNIT", "what": "WHAT", "place": "PLACE", "at": AT, "injured": 2,
          "injury": "INJ", "action": "ACTION", "photo": True},
         lines("UNIT", "WHAT", "PLACE", 0, ("INJ",), "ACTION", 0)),
        ({"unit": "UNIT", "what": "WHAT", "place": "PLACE", "at": AT, "injured": 0,
          "injury": "INJ", "action": "ACTION", "photo": False},
         lines("UNIT", "WHAT", "PLACE", 0, 0, "ACTION", 0))],
    "incident.report": [({"code": "CODE", "unit": "UNIT", "occurred_at": AT, "place": "PLACE",
                          "what": "WHAT", "injured": 3, "injury": "INJ", "action": "ACTION",
                          "who": "WHO", "at": AT},
                         lines("CODE", "UNIT", 0, "PLACE", "WHAT", "INJ", "ACTION", "WHO"))],
    "incident.update": [({"code": "CODE", "unit": "UNIT", "who": "WHO", "at": AT,
                          "kind": "note", "text": "TEXT", "injured": 1, "injury": "INJ",
                          "state": "STATE"},
                         lines(("CODE", "UNIT"), ("WHO", "TEXT"), ("INJ", "STATE"))),
                        ({"code": "CODE", "unit": "UNIT", "who": "WHO", "at": AT,
                          "kind": "controlled", "text": None, "injured": 0, "injury": "INJ",
                          "state": "STATE"},
                         lines(("CODE", "UNIT"), "WHO", "STATE"))],
    "incident.final": [({"code": "CODE", "unit": "UNIT", "who": "WHO", "at": AT,
                         "what": "WHAT", "injured": 1, "injury": "INJ", "cause": "CAUSE",
                         "measures": "MEAS", "lessons": "LESSON",
                         "history": [{"at": AT, "who": "W1", "kind": "K1", "detail": "D1"},
                                     {"at": AT, "who": "W2", "kind": "K2", "detail": ""}]},
                        lines(("CODE", "UNIT"), "WHO", "WHAT", "INJ", "CAUSE", "MEAS", "LESSON",
                              0, ("W1", "K1", "D1"), ("W2", "K2")))],
    "idea.review": [({"number": 7, "unit": "UNIT", "level": "LEVEL", "proposer": "PROP",
                      "text": "TEXT", "at": AT, "passed_by": None},
                     lines("UNIT", "PROP", "TEXT", "LEVEL")),
                    ({"number": 7, "unit": "UNIT", "level": "LEVEL", "proposer": "PROP",
                      "text": "TEXT", "at": AT, "passed_by": "PASSER"},
                     lines("UNIT", "PROP", "TEXT", ("PASSER", "LEVEL")))],
    "idea.list": [({"title": "TITLE", "counts": {"submitted": 1},
                    "ideas": [{"number": 1, "at": AT, "tz": "UTC", "team": "TEAM1",
                               "proposer": "PROP1", "text": "TEXT1", "state": "ST1",
                               "submitted": True, "level": "LEVEL1", "points": 0},
                              {"number": 2, "at": AT, "tz": "UTC", "team": "TEAM2",
                               "proposer": "PROP2", "text": "TEXT2", "state": "ST2",
                               "submitted": False, "level": "", "points": 3}]},
                   lines("TITLE", ("TEAM1", "PROP1", "TEXT1", "ST1", "LEVEL1"),
                         ("TEAM2", "PROP2", "TEXT2", "ST2")))],
}


def multi_line_texts(renderer: Renderer, lang: str) -> set[str]:
    """Every template file, and every catalog text of more than one line."""
    files = {p.name.removesuffix(".html.j2")
             for p in (renderer.loader.root / "templates" / lang).glob("*.html.j2")}
    return files | {key for key, text in renderer.loader.catalogs[lang].items() if "\n" in text}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_multi_line_text_has_a_line_structure_case(lang: str) -> None:
    assert multi_line_texts(Renderer(), lang) == set(CASES)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("key", sorted(CASES))
def test_each_field_and_item_keeps_its_own_line(key: str, lang: str) -> None:
    renderer = Renderer()
    for values, expected in CASES[key]:
        text = renderer.html(key, lang, **values)
        got = text.split("\n")
        shown = f"{key} ({lang}) rendered:\n{text}"
        assert len(got) == len(expected), shown
        markers = {m for line in expected if line is not BLANK for m in line}
        for number, (line, want) in enumerate(zip(got, expected, strict=True)):
            if want is BLANK:
                assert line.strip() == "", shown
                continue
            assert line.strip(), f"line {number + 1} is empty; {shown}"
            for marker in want:
                assert marker in line, f"{marker} not on line {number + 1}; {shown}"
            for marker in markers - set(want):
                assert marker not in line, f"{marker} ran into line {number + 1}; {shown}"


def test_a_block_tag_ending_a_line_of_text_keeps_the_line_break() -> None:
    source = "a: {% if x %}X{% endif %}\n{% if y %}\nb\n{% endif %}\nc {% for i in l %}{{ i }}"
    assert keep_line_breaks(source) == ("a: {% if x %}X{% endif +%}\n{% if y %}\nb\n"
                                        "{% endif %}\nc {% for i in l %}{{ i }}")
