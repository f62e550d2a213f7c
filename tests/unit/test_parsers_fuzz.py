"""Every parser of dates, durations and ids, fed nasty text: a sane value or its own error.

Never an OverflowError or a bare ValueError out of ``datetime``/``int``: a user who
types ``99999999999d`` or forges ``hz:show:<56 digits>`` gets a reason, not a crash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.dates import (
    MAX_DAY,
    MAX_DEADLINE,
    MIN_DAY,
    DateError,
    parse_day,
    parse_deadline,
    parse_period,
)
from domain.documents import MAX_DUE, MAX_VERSION, DocumentError, parse_document
from domain.durations import MAX_DURATION, DurationError, parse_duration
from domain.escalation import PolicyError, parse_policy
from domain.language import parse_language_choice
from domain.shifts import MAX_LEAD, ScheduleError, parse_schedule, schedule_from_text
from services.buttons import MAX_ARG, int_arg
from services.orgfile import OrgFileError, parse_org

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
ZONE = "Asia/Shanghai"

NASTY = [
    "", " ", "\t\n", "\x00", "1d\x00", "0", "00", "-0", "+1", "-1", "1", "7 ", " 7", "1_000",
    "9" * 20, "9" * 5000, "a" * 10_000, "1" * 10_000 + "d",
    "99999999999d", "99999999999w", "99999999999s", "1000000000000000000000h", "0s", "0d",
    "-5d", "1d-1h", "1.5h", "1h30m", "1e309", "inf", "-inf", "nan", "NaN", "True", "null", "~",
    "１２", "٣", "١٢h", "３d", "²", "Ⅻ", "😀", "🔥1d", "1d😀", "𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗d",
    "'; DROP TABLE hazard; --", "\" OR 1=1 --", "<b>1d</b>", "<script>alert(1)</script>",
    "&amp;", "{{ 7*7 }}", "{% for %}", "${jndi:ldap://x}", "%s%s%s", "\\", "'", '"',
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "2026-00-10", "2026-1-1",
    "2026-11-30T08:00", "10000-01-01", "-2026-01-01", "2026-11-30\n", "1999-12-31",
    "2101-01-01", "２０２６-11-30", "2026/11/30", "30.11.2026", "2026-11-31",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "2147483647",
    "2147483648", "18446744073709551616", "0x10", "1e3", "[1]", "{a: 1}", "*alias", "&a 1",
    "!!python/object:os.system", "? x", "- 1", ": x",
]
STRINGS = st.one_of(st.sampled_from(NASTY), st.text(max_size=80),
                    st.from_regex(r"\A-?[0-9]{1,30}[smhdw]?\Z"),
                    st.from_regex(r"\A[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}\Z"))
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def check(parser: Callable[[str], object], errors: tuple[type[BaseException], ...],
          text: str) -> object:
    """The parser's value, or None when it raised one of its own errors."""
    try:
        return parser(text)
    except errors:
        return None



# ---------------------------------------------------------------- the parsers


def duration(text: str) -> None:
    value = check(parse_duration, (DurationError,), text)
    assert value is None or timedelta(0) < value <= MAX_DURATION  # type: ignore[operator]


def day(text: str) -> None:
    value = check(parse_day, (DateError,), text)
    assert value is None or MIN_DAY <= value <= MAX_DAY  # type: ignore[operator]


def period(text: str) -> None:
    for args in ([text], [text, "2026-11-30"], ["2026-01-01", text], [text, text]):
        value = check(lambda _, a=args: parse_period(a, NOW, ZONE), (DateError,), text)
        if value is not None:
            since, until = value  # type: ignore[misc]
            assert since < until
            assert datetime(1999, 12, 31, tzinfo=UTC) < since < datetime(2102, 1, 1, tzinfo=UTC)
            assert until < datetime(2102, 1, 2, tzinfo=UTC)


def deadline(text: str) -> None:
    value = check(lambda t: parse_deadline(t, NOW, ZONE), (DateError,), text)
    assert value is None or NOW < value <= NOW + MAX_DEADLINE  # type: ignore[operator]
    if value is not None:
        value + timedelta(days=5 * 365)  # type: ignore[operator]  # what escalation adds


def callback_id(text: str) -> None:
    for data in (text, f"hz:show:{text}"):
        value = int_arg(data.split(":")[-1:], 0)
        assert value is None or 0 <= value <= MAX_ARG
        assert int_arg(data.split(":"), 5) is None


def language(text: str) -> None:
    assert parse_language_choice(text) in (None, "zh", "en")


def schedule(text: str) -> None:
    for typed in (f"早班 08:00-16:00\n提前 {text}", f"早班 08:00-16:00\n节假日 {text}",
                  f"早班 08:00-16:00\n调休 2026-10-11 {text}", f"早班 08:00-16:00 {text}",
                  f"{text} 08:00-16:00", text):
        try:
            found = parse_schedule(schedule_from_text(typed), ZONE)
        except ScheduleError:
            continue
        assert timedelta(0) < found.briefing_before <= MAX_LEAD
        assert all(MIN_DAY <= d <= MAX_DAY for d in found.holidays | found.workdays)


def document(text: str) -> None:
    for field in ("due", "due_days", "version"):
        for value in (text, json.dumps(text)):  # as YAML reads it, and as a quoted string
            head = {"due": "", "due_days": "", "version": ""}
            head[field] = f"{field}: {value}\n"
            source = (f"---\nid: doc\n{head['version'] or 'version: 1'}\ntitle: T\n"
                      f"{head['due']}{head['due_days']}---\nBody\n")
            found = check(lambda s: parse_document(s, "d.md", "zh"), (DocumentError,), source)
            if found is not None:
                assert 1 <= found.due_hours <= MAX_DUE.days * 24  # type: ignore[attr-defined]
                assert 1 <= found.version <= MAX_VERSION  # type: ignore[attr-defined]


ORG = """\
version: 1
units:
  - key: acme
    kind: enterprise
    name: A
    children:
      - key: ws
        kind: workshop
        name: W
        children:
          - key: t
            kind: team
            name: T
            chat_id: {chat}
            shifts:
              briefing_before: {lead}
              shifts:
                - {{name: D, start: "08:00", end: "16:00", leader: {leader}}}
              holidays: [{day}]
people:
  - telegram_id: {person}
    name: P
"""
ORG_SANE = {"chat": "-100123", "lead": "15m", "leader": "200001", "day": "2026-10-01",
            "person": "200001"}


def org(text: str) -> None:
    assert parse_org(ORG.format(**ORG_SANE), "org.yaml").units  # the base is fine
    for field in ORG_SANE:
        for value in (text, json.dumps(text)):
            if "\n" in value or "{" in value or "}" in value:
                value = json.dumps(value)
            source = ORG.format(**{**ORG_SANE, field: value})
            try:
                spec = parse_org(source, "org.yaml")
            except OrgFileError:
                continue
            for person in spec.people:
                assert 0 < person.telegram_id < 2**63


POLICY = """\
{sev}:
  acknowledge_within: {ack}
  rectify_within: 1d
  levels:
    - {{unit: workshop, after: {after}, repeat: 1h}}
"""


def policy(text: str) -> None:
    value = json.dumps(text)
    for ack, after in ((value, "0s"), ("30m", value)):
        source = "".join(POLICY.format(sev=s, ack=ack, after=after)
                         for s in ("general", "serious", "major"))
        check(lambda s: parse_policy(s, "escalation.yaml"), (PolicyError,), source)


PARSERS = [duration, day, period, deadline, callback_id, language, schedule, document, org,
           policy]


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("text", NASTY)
def test_every_parser_on_nasty_strings(parser: Callable[[str], None], text: str) -> None:
    parser(text)


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@FUZZ
@given(text=STRINGS)
def test_every_parser_on_made_up_text(parser: Callable[[str], None], text: str) -> None:
    parser(text)


@FUZZ
@given(amount=st.integers(min_value=-(10**30), max_value=10**30),
       unit=st.sampled_from("smhdw"))
def test_durations_are_bounded_before_any_arithmetic(amount: int, unit: str) -> None:
    duration(f"{amount}{unit}")
    value = check(lambda t: parse_duration(int(t)), (DurationError,), str(amount))
    assert value is None or timedelta(0) < value <= MAX_DURATION  # type: ignore[operator]


@FUZZ
@given(moment=st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_any_calendar_day_is_a_day_or_a_reason(moment: date) -> None:
    for parser in (day, period, deadline, schedule):  # org: the nasty table covers it
        parser(moment.isoformat())


def test_the_reported_inputs() -> None:
    """The crashes of the report, one by one, as reasons."""
    with pytest.raises(DurationError) as too_long:
        parse_duration("99999999999d")
    assert too_long.value.code == "too_long"
    for args in (["2026-01-01", "9999-12-31"], ["9999-12-31", "9999-12-31"], ["0001-01-01"]):
        with pytest.raises(DateError) as bad:
            parse_period(args, NOW, ZONE)
        assert bad.value.code == "out_of_range"
    for typed in ("99999999999d", "9999-12-31"):
        with pytest.raises(DateError) as far:
            parse_deadline(typed, NOW, ZONE)
        assert far.value.code == "too_far"
    with pytest.raises(ScheduleError) as lead:
        parse_schedule(schedule_from_text("早班 08:00-16:00\nbefore 99999999999d"), ZONE)
    assert lead.value.code == "lead_too_long"
    assert int_arg(["show", "9" * 56], 1) is None
    assert int_arg(["show", "42"], 1) == 42
