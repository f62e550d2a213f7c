"""The tables. Every piece of state the bot needs lives here, nothing only in memory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.delivery import OutboxStatus
from domain.handover import HandoverState
from domain.hazard import HazardState, Severity
from domain.idea import IdeaState
from domain.incident import IncidentEventKind, IncidentState, Injury
from domain.org import Role, UnitKind
from storage.types import StrEnumType, UTCDateTime

# Outbox rows not yet settled (statuses of domain.delivery.OutboxStatus).
OUTBOX_OPEN = "status IN ('pending', 'sending')"


def _utc_column(nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Unit(SQLModel, table=True):
    """A node of the organisation: authority, enterprise, workshop or team."""

    __tablename__ = "unit"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    kind: UnitKind = Field(sa_column=Column(StrEnumType(UnitKind, 16), nullable=False))
    name: str = Field(max_length=100)
    parent_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    # Materialised path "/1/4/9/": subtree = prefix match, ancestors = split.
    path: str = Field(default="", max_length=255, index=True)
    language: str | None = Field(default=None, max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    # Raw extra sections of the org file (e.g. `shifts`), kept as JSON text.
    extra_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_utc_column())


class GroupChat(SQLModel, table=True):
    """A Telegram group the bot is (or was) in, bound to at most one unit."""

    __tablename__ = "group_chat"
    __table_args__ = (Index("ix_group_chat_bot_id", "bot_id", "active"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    title: str = Field(default="", max_length=255)
    chat_type: str = Field(default="group", max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", unique=True)
    language: str | None = Field(default=None, max_length=8)
    active: bool = True
    # Why the chat is inactive (kicked, left) — shown to managers.
    inactive_reason: str | None = Field(default=None, max_length=64)
    # The bot (its Telegram id) that speaks here when several tokens are configured;
    # empty: the main bot. See services/fleet.py.
    bot_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    added_at: datetime = Field(sa_column=_utc_column())
    updated_at: datetime = Field(sa_column=_utc_column())


class Person(SQLModel, table=True):
    """Someone the bot has seen or been told about, keyed by Telegram user id."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    name: str = Field(max_length=128)
    username: str | None = Field(default=None, max_length=64, index=True)
    language_code: str | None = Field(default=None, max_length=16)
    # Chosen with /language in a private chat; wins over language_code.
    language: str | None = Field(default=None, max_length=8)
    # The bot may write first only to people who pressed Start and did not block it.
    started: bool = False
    blocked: bool = False
    # With several bot tokens: the bot (Telegram id) the person last wrote to privately,
    # the one that may write to them; empty: the main bot.
    bot_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    is_admin: bool = False
    # The post (岗位) whose risk cards the person must know: a key of content/post_cards.
    post: str | None = Field(default=None, max_length=32)
    # Why the person still has to go through their cards (join, post, return); None once
    # briefed. ``briefing_since`` starts the round: acknowledgements before it do not count.
    briefing_reason: str | None = Field(default=None, max_length=16, index=True)
    briefing_since: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    briefed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    created_at: datetime = Field(sa_column=_utc_column())
    updated_at: datetime = Field(sa_column=_utc_column())


class RoleGrant(SQLModel, table=True):
    """A role a person holds on a unit (and so on everything below it)."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("person_id", "unit_id", "role", name="uq_role_grant"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    role: Role = Field(sa_column=Column(StrEnumType(Role, 32), nullable=False))
    source: str = Field(default="chat", max_length=16)  # "org" file or "chat" command
    granted_by: int | None = Field(default=None, foreign_key="person.id")
    granted_at: datetime = Field(sa_column=_utc_column())


class Membership(SQLModel, table=True):
    """A person seen in a group chat (learned from messages and member updates)."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("group_chat_id", "person_id", name="uq_membership"),
    )

    id: int | None = Field(default=None, primary_key=True)
    group_chat_id: int = Field(foreign_key="group_chat.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    active: bool = True
    first_seen: datetime = Field(sa_column=_utc_column())
    last_seen: datetime = Field(sa_column=_utc_column())


class GroupInvite(SQLModel, table=True):
    """A one-time code that lets a group be bound to a unit without a role over it.

    Created with /invite by someone who may bind groups there; only the code's
    digest is kept. ``new_team``: the group becomes a new team under the unit.
    """

    __tablename__ = "group_invite"

    id: int | None = Field(default=None, primary_key=True)
    code_digest: str = Field(max_length=64, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    new_team: bool = False
    created_by: int = Field(foreign_key="person.id")
    created_at: datetime = Field(sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())
    # Set once, by a conditional update: the code is spent.
    used_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    used_by: int | None = Field(default=None, foreign_key="person.id")
    used_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))


class OutboxMessage(SQLModel, table=True):
    """One notification the bot sends on its own: written first, sent after."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The rows still to send, by id: the claim reads them oldest first, and the
        # millions already sent stay out of its way (docs/postgresql.md).
        Index("ix_outbox_open", "id", sqlite_where=text(OUTBOX_OPEN),
              postgresql_where=text(OUTBOX_OPEN)),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Idempotency: the same key is never queued twice (e.g. "kicked:unit:7:2026-11-23").
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    purpose: str = Field(default="", max_length=64)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    person_id: int | None = Field(default=None, foreign_key="person.id")
    method: str = Field(default="sendMessage", max_length=32)
    # Bot API parameters as JSON (text, parse_mode, reply_markup, …): plain values only.
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: OutboxStatus = Field(default=OutboxStatus.PENDING, sa_column=Column(
        StrEnumType(OutboxStatus, 16), nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=_utc_column())
    # A claim: who is sending it and until when (safe with a second instance around).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    telegram_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    # Indexed: a sweep looks up the rows it queued together (see statuses_of_batch).
    created_at: datetime = Field(sa_column=_utc_column(index=True))
    sent_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # A sent poll's id (sendPoll answers with it): ``poll_answer`` updates name only this.
    poll_id: str | None = Field(default=None, max_length=64, index=True)


class ProcessedUpdate(SQLModel, table=True):
    """The update inbox: every update received, kept until it is handled, and the
    ids handled, so a redelivered update does nothing twice (see bot/inbox.py).

    Received and not yet handled: ``payload`` holds the update's JSON and
    ``processed_at`` is empty. Handled: ``processed_at`` is set, the payload dropped.
    """

    __tablename__ = "processed_update"

    bot_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime | None = Field(default=None,
                                          sa_column=_utc_column(nullable=True, index=True))
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Hazard(SQLModel, table=True):
    """A reported hazard (隐患) and where it is in its closed loop.

    The escalation fields make the hazard its own timetable: ``next_escalation_at``
    is indexed, so a sweep reads only what is due, however many are stored.
    """

    __tablename__ = "hazard"
    # The monthly report reads one unit set and one month through these: its cost
    # follows the units reported, not the years of history stored.
    __table_args__ = (Index("ix_hazard_team_reported", "team_unit_id", "reported_at"),
                      Index("ix_hazard_team_closed", "team_unit_id", "closed_at"),
                      Index("ix_hazard_team_deadline", "team_unit_id", "deadline"))

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)  # who owns it now
    team_unit_id: int = Field(foreign_key="unit.id")  # where it was reported
    reporter_id: int = Field(foreign_key="person.id", index=True)
    state: HazardState = Field(sa_column=Column(StrEnumType(HazardState, 16), nullable=False,
                                                index=True))
    severity: Severity = Field(sa_column=Column(StrEnumType(Severity, 16), nullable=False))
    category: str = Field(max_length=32)
    location_text: str | None = Field(default=None, max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # 五落实: responsible person, measures, funds, deadline, contingency plan.
    responsible_id: int | None = Field(default=None, foreign_key="person.id")
    measures: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    funds: str | None = Field(default=None, max_length=64)
    deadline: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    contingency: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fixer_id: int | None = Field(default=None, foreign_key="person.id")
    reject_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reported_at: datetime = Field(sa_column=_utc_column())
    acknowledged_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    rectified_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    verified_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # Escalation: which deadline is watched, how far up alerts went, when to look again.
    watch: str | None = Field(default=None, max_length=16)  # "ack" | "rectify"
    watch_deadline: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    alerted_level: int = -1
    last_alert_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    next_escalation_at: datetime | None = Field(
        default=None, sa_column=_utc_column(nullable=True, index=True))
    # The card posted in the team group, edited as the hazard moves.
    card_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    card_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    # Bumped on every change: two leaders pressing at once, one wins.
    version: int = 1
    updated_at: datetime = Field(sa_column=_utc_column())


class HazardPhoto(SQLModel, table=True):
    """Evidence: photos before (the report) and after (the fix)."""

    __tablename__ = "hazard_photo"

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    kind: str = Field(default="before", max_length=16)
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=64, index=True)
    local_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=_utc_column())


class HazardEvent(SQLModel, table=True):
    """Append-only history of a hazard: every transition and notification."""

    __tablename__ = "hazard_event"

    id: int | None = Field(default=None, primary_key=True)
    hazard_id: int = Field(foreign_key="hazard.id", index=True)
    at: datetime = Field(sa_column=_utc_column())
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=32)
    from_state: HazardState | None = Field(default=None, sa_column=Column(
        StrEnumType(HazardState, 16), nullable=True))
    to_state: HazardState | None = Field(default=None, sa_column=Column(
        StrEnumType(HazardState, 16), nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ConversationDraft(SQLModel, table=True):
    """A conversation in progress (a report, a fix, a handover…): one per person per chat.

    ``step`` says which conversation and where it stands; kept across restarts and
    dropped by a sweep when left idle.
    """

    __tablename__ = "conversation_draft"
    __table_args__ = (UniqueConstraint("chat_id", "person_id", name="uq_conversation_draft"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    person_id: int = Field(foreign_key="person.id")
    step: str = Field(max_length=16)
    data: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_utc_column(index=True))


class ReporterPoints(SQLModel, table=True):
    """Points a reporter earned for a verified hazard (one entry per hazard, ever)."""

    __tablename__ = "reporter_points"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    hazard_id: int = Field(foreign_key="hazard.id", unique=True)
    points: int
    awarded_at: datetime = Field(sa_column=_utc_column())


class Handover(SQLModel, table=True):
    """A shift handover (交接班): what the outgoing leader hands to the incoming one."""

    __tablename__ = "handover"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    outgoing_id: int = Field(foreign_key="person.id")
    incoming_id: int | None = Field(default=None, foreign_key="person.id")  # None: any leader
    equipment: str = Field(sa_column=Column(Text, nullable=False))
    work_in_progress: str = Field(sa_column=Column(Text, nullable=False))
    safety_notes: str = Field(sa_column=Column(Text, nullable=False))
    open_hazards: str = Field(sa_column=Column(Text, nullable=False))  # codes and a remark
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    state: HandoverState = Field(default=HandoverState.AWAITING, sa_column=Column(
        StrEnumType(HandoverState, 16), nullable=False))
    created_at: datetime = Field(sa_column=_utc_column())
    reminded_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    escalated_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    accepted_by: int | None = Field(default=None, foreign_key="person.id")
    # When the sweep looks again (reminder, then escalation); None once settled.
    next_check_at: datetime | None = Field(
        default=None, sa_column=_utc_column(nullable=True, index=True))
    version: int = 1


class PreShiftMeeting(SQLModel, table=True):
    """One team's pre-shift meeting (班前会) for one shift on one day."""

    __tablename__ = "pre_shift_meeting"
    __table_args__ = (
        UniqueConstraint("unit_id", "shift_key", name="uq_pre_shift_meeting"),
        # "Was this shift's briefing posted?" by key or by start, and the monthly report.
        Index("ix_pre_shift_meeting_unit_starts", "unit_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    shift_key: str = Field(max_length=64)  # "2026-11-23/早班": the idempotency key
    shift_name: str = Field(max_length=32)
    # Indexed: each minute's sweep reads the meetings that just started or ended.
    starts_at: datetime = Field(sa_column=_utc_column(index=True))
    ends_at: datetime = Field(sa_column=_utc_column(index=True))
    posted_at: datetime = Field(sa_column=_utc_column())
    held_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    held_by: int | None = Field(default=None, foreign_key="person.id")
    escalated_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    summary_prompted_at: datetime | None = Field(
        default=None, sa_column=_utc_column(nullable=True))
    # The shift left the schedule after its briefing (a holiday declared, the shift
    # removed): not escalated, not prompted, not in the ledger.
    cancelled_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_edit_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # The briefing as posted (without the check-in line), to edit the roll call in place.
    briefing_html: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str = Field(default="zh", max_length=8)
    # The outbox row of the briefing's message with the buttons: its Telegram message
    # id, once sent, is what roll-call and "held" edits target.
    briefing_outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    # Check-ins not shown yet (throttled); indexed: the roll-call sweep runs every 10 s.
    roll_call_dirty: bool = Field(default=False, index=True)
    roll_call_edits: int = 0


class Attendance(SQLModel, table=True):
    """A worker's check-in at a pre-shift meeting (part of the training record)."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id", name="uq_attendance"),)

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="pre_shift_meeting.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    checked_in_at: datetime = Field(sa_column=_utc_column())


class PublishedDocument(SQLModel, table=True):
    """One version of a policy document as published (文件规定到班组).

    ``texts_json`` holds ``{lang: {title, summary, html}}``; ``html`` is None when
    the original file (PDF, Word) is posted instead of the text. A newer version
    supersedes this one: its unread acknowledgements stop counting.
    """

    __tablename__ = "policy_document"
    __table_args__ = (UniqueConstraint("doc_key", "version", name="uq_policy_document"),)

    id: int | None = Field(default=None, primary_key=True)
    doc_key: str = Field(max_length=64, index=True)
    version: int
    source: str = Field(default="library", max_length=16)  # "library" | "upload"
    texts_json: str = Field(sa_column=Column(Text, nullable=False))
    file_id: str | None = Field(default=None, max_length=255)
    file_name: str | None = Field(default=None, max_length=255)
    change_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    requires_ack: bool = True
    due_hours: int = 72  # from posting to the due date; whole hours ("8h": the shift's end)
    # Unit keys chosen as the audience; everything below them is included.
    audience_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    published_by: int | None = Field(default=None, foreign_key="person.id")
    published_at: datetime = Field(sa_column=_utc_column())
    superseded_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class DocumentPost(SQLModel, table=True):
    """A document posted into one team's group, with its roll call and its timetable."""

    __tablename__ = "document_post"
    __table_args__ = (UniqueConstraint("document_id", "unit_id", name="uq_document_post"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="policy_document.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    language: str = Field(default="zh", max_length=8)
    posted_at: datetime = Field(sa_column=_utc_column())
    due_at: datetime = Field(sa_column=_utc_column())
    # The outbox row of the roll-call message: its Telegram message id, once sent,
    # is what the in-place edits target (and it follows a group's migration).
    roll_call_outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    # Indexed: the roll-call sweep looks for dirty roll calls every 10 s.
    roll_call_dirty: bool = Field(default=False, index=True)
    roll_call_edits: int = 0
    last_edit_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    reminders_done: int = 0
    reported_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # When the sweep looks again (next reminder or the due date); None once reported.
    next_check_at: datetime | None = Field(
        default=None, sa_column=_utc_column(nullable=True, index=True))


class ReadReceipt(SQLModel, table=True):
    """Who must acknowledge a document in a team, and when they did."""

    __tablename__ = "read_receipt"
    __table_args__ = (
        UniqueConstraint("document_id", "unit_id", "person_id", name="uq_read_receipt"),
        Index("ix_read_receipt_unit_required", "unit_id", "required_at"))

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="policy_document.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    required_at: datetime = Field(sa_column=_utc_column())
    late: bool = False  # joined (or was first seen) after the document was posted
    read_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class TrainingRecord(SQLModel, table=True):
    """One entry of a worker's training record (安全培训档案): who, when, what, result.

    Quiz answers, risk-card acknowledgements and drill attendance are written here;
    meeting check-ins (``attendance``) and document acknowledgements (``read_receipt``)
    stay in their own tables and join the record when it is read. Kept at least six
    years: no sweep deletes these rows.
    """

    __tablename__ = "training_record"
    __table_args__ = (Index("ix_training_record_person_at", "person_id", "at"),
                      Index("ix_training_record_unit_kind_at", "unit_id", "kind", "at"))

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    # The team the person belonged to when it happened (the record follows the
    # person; the team's export reads this).
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    kind: str = Field(max_length=16)  # quiz, risk_card, drill, …
    subject: str = Field(max_length=255)  # what: a question id, a card, a drill
    result: str = Field(max_length=64)  # correct / wrong / acknowledged / attended / …
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(sa_column=_utc_column())
    # Makes writing idempotent: Telegram may deliver an answer twice.
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True)


class QuizPoll(SQLModel, table=True):
    """A team's daily quiz question, posted in its group as a Telegram quiz poll."""

    __tablename__ = "quiz_poll"
    __table_args__ = (UniqueConstraint("unit_id", "day", name="uq_quiz_poll_day"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    day: str = Field(max_length=10)  # the team's local date, "2026-11-23": once a day
    question_id: str = Field(max_length=40)
    correct_option: int
    # The outbox row of the sendPoll: once sent, its poll_id identifies the answers.
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id", index=True)
    posted_at: datetime = Field(sa_column=_utc_column())


class EarlyPollAnswer(SQLModel, table=True):
    """A daily poll vote that arrived before the poll's id was recorded.

    The outbox records a sent poll's id after Telegram answers the sendPoll; a fast
    voter's ``poll_answer`` can be fetched in between. It waits here, and is recorded
    once the id is known (or dropped after a while: then the poll was not ours).
    """

    __tablename__ = "early_poll_answer"
    __table_args__ = (UniqueConstraint("poll_id", "telegram_id", name="uq_early_poll_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: str = Field(max_length=64, index=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    name: str = Field(max_length=200)
    username: str | None = Field(default=None, max_length=64)
    language_code: str | None = Field(default=None, max_length=16)
    option_ids: str = Field(max_length=64)  # "0" or "0,2"
    confirmed: bool = False
    received_at: datetime = Field(sa_column=_utc_column())


class QuizSession(SQLModel, table=True):
    """A worker's quiz in a private chat: the questions of this round and where it stands.

    Kept in the database, so a restart continues it. Round 1 asks the chosen
    questions; round 2 asks again the ones answered wrong in round 1.
    """

    __tablename__ = "quiz_session"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The worker's team when the quiz began (for the training record), if known.
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    topic: str | None = Field(default=None, max_length=40)
    language: str = Field(default="zh", max_length=8)
    status: str = Field(default="active", max_length=16)  # active, finished, cancelled
    round: int = 1
    # This round's question ids, as JSON; ``position`` indexes the one being asked.
    question_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    position: int = 0
    # This round's wrong answers (question ids, JSON) and its count of correct ones.
    wrong_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    correct: int = 0
    # Round 1's score, kept when round 2 starts.
    first_correct: int = 0
    first_total: int = 0
    started_at: datetime = Field(sa_column=_utc_column())
    updated_at: datetime = Field(sa_column=_utc_column())


class Evacuation(SQLModel, table=True):
    """A stop-work order (停工撤人) in a team: the alert, who is safe, when it ended.

    At most one active evacuation per team (``ended_at`` empty), checked by the
    service. The alert's roll call is edited in place like a briefing's.
    """

    __tablename__ = "evacuation"
    # One active evacuation per team, kept by the database: two leaders sending
    # /evacuate at the same moment start one between them.
    __table_args__ = (Index("uq_evacuation_active_unit", "unit_id", unique=True,
                            sqlite_where=text("ended_at IS NULL"),
                            postgresql_where=text("ended_at IS NULL")),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    group_chat_id: int = Field(foreign_key="group_chat.id")
    started_by: int = Field(foreign_key="person.id")
    reason: str | None = Field(default=None, max_length=500)
    language: str = Field(max_length=8)
    alert_html: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime = Field(sa_column=_utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    ended_by: int | None = Field(default=None, foreign_key="person.id")
    # The outbox row of the alert in the group: the message the roll call edits.
    alert_outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    last_edit_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    roll_call_dirty: bool = False
    roll_call_edits: int = 0
    missing_told_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class EvacuationSafe(SQLModel, table=True):
    """One member's "I am safe" during an evacuation (once per person)."""

    __tablename__ = "evacuation_safe"
    __table_args__ = (UniqueConstraint("evacuation_id", "person_id",
                                       name="uq_evacuation_safe_person"),)

    id: int | None = Field(default=None, primary_key=True)
    evacuation_id: int = Field(foreign_key="evacuation.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    safe_at: datetime = Field(sa_column=_utc_column())


class Drill(SQLModel, table=True):
    """An emergency drill (应急演练): its type, time, scenario, and once held, its findings.

    The teams taking part are ``drill_team`` rows (the units chosen, down to their
    teams). A drill counts towards the rules of ``domain.drills`` once its findings
    are recorded (``closed_at``).
    """

    __tablename__ = "drill"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # domain.drills.DrillType
    starts_at: datetime = Field(sa_column=_utc_column(index=True))
    duration_minutes: int
    scenario: str = Field(sa_column=Column(Text, nullable=False))
    # None: scheduled by the operator at the command line.
    scheduled_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(sa_column=_utc_column())
    # How many reminder rounds (DRILL_REMINDERS, the earliest first) went out.
    reminders_done: int = 0
    started_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_by: int | None = Field(default=None, foreign_key="person.id")
    went_well: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    problems: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    measures: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DrillTeam(SQLModel, table=True):
    """A team taking part in a drill, and the drill's post in its group (the roll call)."""

    __tablename__ = "drill_team"
    __table_args__ = (UniqueConstraint("drill_id", "unit_id", name="uq_drill_team_unit"),)

    id: int | None = Field(default=None, primary_key=True)
    drill_id: int = Field(foreign_key="drill.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    # The team's group when the drill started (None: the team has no group).
    group_chat_id: int | None = Field(default=None, foreign_key="group_chat.id")
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    language: str | None = Field(default=None, max_length=8)
    post_outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    last_edit_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    roll_call_dirty: bool = False
    roll_call_edits: int = 0


class DrillAttendance(SQLModel, table=True):
    """One member's "I am here" at a drill (once per person and drill)."""

    __tablename__ = "drill_attendance"
    __table_args__ = (UniqueConstraint("drill_id", "person_id",
                                       name="uq_drill_attendance_person"),)

    id: int | None = Field(default=None, primary_key=True)
    drill_id: int = Field(foreign_key="drill.id", index=True)
    drill_team_id: int = Field(foreign_key="drill_team.id")
    person_id: int = Field(foreign_key="person.id")
    at: datetime = Field(sa_column=_utc_column())


class DrillLapse(SQLModel, table=True):
    """A unit fallen behind a drill rule, told once: the lapse is named by its due day."""

    __tablename__ = "drill_lapse"
    __table_args__ = (UniqueConstraint("unit_id", "rule", "due_on",
                                       name="uq_drill_lapse_due"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")
    rule: str = Field(max_length=32)  # domain.drills.DrillRule.name
    due_on: str = Field(max_length=10)  # YYYY-MM-DD, the unit's local day
    told_at: datetime = Field(sa_column=_utc_column())


class Inspection(SQLModel, table=True):
    """One check (检查) falling due: a checklist, a unit, a period, and how it went.

    ``state`` is ``due`` until every item is answered (``done``) or its deadline
    passes (``missed``, escalated once). ``subject_id`` is the worker of a post
    checklist (one check each), 0 for a role's (one per unit): with the period it
    keeps a check from falling due twice.
    """

    __tablename__ = "inspection"
    __table_args__ = (
        UniqueConstraint("checklist_id", "unit_id", "period", "subject_id",
                         name="uq_inspection_occurrence"),
        Index("ix_inspection_unit_due", "unit_id", "due_at"),
        Index("ix_inspection_state_deadline", "state", "deadline_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    checklist_id: str = Field(max_length=40)
    unit_id: int = Field(foreign_key="unit.id")
    period: str = Field(max_length=64)  # "2026-11-23" or "2026-11-23/早班"
    subject_id: int = 0
    # Who is asked first (the first holder of the role, or the post's worker).
    assignee_id: int | None = Field(default=None, foreign_key="person.id")
    state: str = Field(default="due", max_length=16)
    due_at: datetime = Field(sa_column=_utc_column())
    deadline_at: datetime = Field(sa_column=_utc_column())
    items: int = 0  # how many items the checklist had when it fell due
    started_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    done_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    done_by: int | None = Field(default=None, foreign_key="person.id")
    escalated_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    created_at: datetime = Field(sa_column=_utc_column())


class InspectionAnswer(SQLModel, table=True):
    """One item's answer in a check: OK or not, the number typed, photo, note, hazard."""

    __tablename__ = "inspection_answer"
    __table_args__ = (UniqueConstraint("inspection_id", "item_index",
                                       name="uq_inspection_answer_item"),)

    id: int | None = Field(default=None, primary_key=True)
    inspection_id: int = Field(foreign_key="inspection.id", index=True)
    item_index: int
    item_text: str = Field(max_length=300)  # as the answerer read it
    person_id: int = Field(foreign_key="person.id")
    ok: bool
    value: float | None = None  # a number item's answer
    photo_file_id: str | None = Field(default=None, max_length=255)
    photo_unique_id: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The hazard report an answer "not OK" became.
    hazard_id: int | None = Field(default=None, foreign_key="hazard.id")
    answered_at: datetime = Field(sa_column=_utc_column())


class Incident(SQLModel, table=True):
    """An accident quick report (事故快报) of a team, from the first report to the final one.

    The casualty count and how badly are the latest (follow-ups change them); each
    step is an :class:`IncidentEvent` with who and when.
    """

    __tablename__ = "incident"
    __table_args__ = (Index("ix_incident_unit_occurred", "unit_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str | None = Field(default=None, max_length=32, unique=True)
    unit_id: int = Field(foreign_key="unit.id")
    reporter_id: int = Field(foreign_key="person.id")
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # where it was reported
    what: str = Field(sa_column=Column(Text, nullable=False))
    place: str = Field(max_length=200)
    occurred_at: datetime = Field(sa_column=_utc_column())
    injured: int = 0
    injury: Injury = Field(sa_column=Column(StrEnumType(Injury, 16), nullable=False))
    action_taken: str = Field(sa_column=Column(Text, nullable=False))
    photo_file_id: str | None = Field(default=None, max_length=255)
    photo_unique_id: str | None = Field(default=None, max_length=128)
    state: IncidentState = Field(sa_column=Column(StrEnumType(IncidentState, 16),
                                                  nullable=False))
    reported_at: datetime = Field(sa_column=_utc_column())
    controlled_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    controlled_by: int | None = Field(default=None, foreign_key="person.id")
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    closed_by: int | None = Field(default=None, foreign_key="person.id")
    cause: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    measures: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    lessons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class IncidentEvent(SQLModel, table=True):
    """One step of an incident: reported, casualties changed, under control, a note, closed."""

    __tablename__ = "incident_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = Field(sa_column=_utc_column())
    actor_id: int = Field(foreign_key="person.id")
    kind: IncidentEventKind = Field(sa_column=Column(StrEnumType(IncidentEventKind, 16),
                                                     nullable=False))
    injured: int | None = None
    injury: Injury | None = Field(default=None, sa_column=Column(StrEnumType(Injury, 16),
                                                                 nullable=True))
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Idea(SQLModel, table=True):
    """A worker's suggestion (金点子) and its review: adopted with points, declined, passed up."""

    __tablename__ = "idea"
    # The monthly figures read ideas by submission and by decision, per unit.
    __table_args__ = (Index("ix_idea_unit_submitted", "unit_id", "submitted_at"),
                      Index("ix_idea_unit_decided", "unit_id", "decided_at"))

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="unit.id")  # the proposer's team
    proposer_id: int = Field(foreign_key="person.id", index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))  # where it was proposed
    text: str = Field(sa_column=Column(Text, nullable=False))
    photo_file_id: str | None = Field(default=None, max_length=255)
    photo_unique_id: str | None = Field(default=None, max_length=128)
    state: IdeaState = Field(sa_column=Column(StrEnumType(IdeaState, 16), nullable=False))
    # Who reviews it now: the team, or the unit it was passed up to.
    reviewing_unit_id: int = Field(foreign_key="unit.id")
    submitted_at: datetime = Field(sa_column=_utc_column())
    passed_up_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    passed_up_by: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    points: int = 0  # awarded on adoption
    reason: str | None = Field(default=None, max_length=500)  # why it was declined


class OutboxFile(SQLModel, table=True):
    """A file the bot uploads itself (a chart, a workbook), referenced by outbox rows.

    The outbox keeps Bot API parameters as JSON; a file made by the bot has no
    Telegram file id yet, so its bytes live here and a row's parameter says
    ``{"outbox_file": id}``. Kept by content digest: the same chart sent to five
    managers is stored once.
    """

    __tablename__ = "outbox_file"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)  # sha256 of name and content
    filename: str = Field(max_length=128)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=_utc_column(index=True))
