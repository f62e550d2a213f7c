"""The tables. Every piece of state the bot needs lives here, nothing only in memory."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.delivery import OutboxStatus
from domain.handover import HandoverState
from domain.hazard import HazardState, Severity
from domain.org import Role, UnitKind
from storage.types import StrEnumType, UTCDateTime


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

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    title: str = Field(default="", max_length=255)
    chat_type: str = Field(default="group", max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", unique=True)
    language: str | None = Field(default=None, max_length=8)
    active: bool = True
    # Why the chat is inactive (kicked, left) — shown to managers.
    inactive_reason: str | None = Field(default=None, max_length=64)
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
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

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
    __table_args__ = (UniqueConstraint("unit_id", "shift_key", name="uq_pre_shift_meeting"),)

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
        UniqueConstraint("document_id", "unit_id", "person_id", name="uq_read_receipt"),)

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
    __table_args__ = (Index("ix_training_record_person_at", "person_id", "at"),)

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
