"""Configuration from the environment and an optional ``.env`` file."""

from __future__ import annotations

import re
import socket
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from content.checklists import SHIPPED_CHECKLISTS, load_checklists
from content.hazards import POLICY_FILE, load_escalation_policy
from content.risk_cards import SHIPPED_RISK_CARDS, load_risk_cards
from domain.durations import as_duration, as_durations, format_duration
from domain.escalation import PolicyError
from domain.inspections import ChecklistError
from domain.language import SUPPORTED_LANGUAGES
from domain.risk_cards import RiskCardError
from storage.db import MAX_OVERFLOW, POOL_SIZE, POOL_TIMEOUT, Database

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/safetybot.db"
# What Telegram allows in a webhook's secret token.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Served beside the webhook on the same port.
RESERVED_PATHS = frozenset({"healthz", "metrics"})
INSTANCE_MAX_LENGTH = 48  # with "#" and a 12-character process token it fits a claim owner


def default_instance() -> str:
    """The outbox instance identity when none is set: this machine's host name.

    The host name outlives a restart of the process, which is what lets the new
    process take back at once what the killed one left mid-send.
    """
    name = socket.gethostname().replace("#", "-").strip() or "safetybot"
    return name[:INSTANCE_MAX_LENGTH]


def _duration(value: Any) -> Any:
    """``30m``, ``4h``, ``3d`` (or a number of seconds) as a timedelta, read once here."""
    return as_duration(value if isinstance(value, int | timedelta) else str(value))


def _durations(value: Any) -> Any:
    """``1d,2d``: a comma-separated list of durations."""
    return as_durations(value if isinstance(value, str) else [_duration(v) for v in value])


# Parsed once when the settings are read: callers get timedeltas, never text.
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Durations = Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_durations)]


class Settings(BaseSettings):
    """Everything the bot reads from its environment.

    Names match the environment variables (case-insensitive), e.g.
    ``TELEGRAM_BOT_TOKEN``, ``DATABASE_URL``.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    # More bots sharing the fan-out (comma separated): each team group is bound to one
    # of them, private chats go through the bot the person started (bot/fleet.py).
    telegram_extra_bot_tokens: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    telegram_api_base_url: str = "https://api.telegram.org"
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connection pool (SQLite ignores them): kept open, opened beyond that
    # at busy moments, and how long a session waits for a free one before failing.
    database_pool_size: int = Field(default=POOL_SIZE, ge=1, le=1000)
    database_max_overflow: int = Field(default=MAX_OVERFLOW, ge=0, le=1000)
    database_pool_timeout: Duration = timedelta(seconds=POOL_TIMEOUT)
    default_timezone: str = "Asia/Shanghai"
    default_language: str = "zh"
    bot_admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    media_dir: Path = Path("./media")
    log_level: str = "INFO"
    # "text" for people, "json" for a log collector: one JSON object a line.
    log_format: Literal["text", "json"] = "text"

    # Webhook mode (production): Telegram POSTs updates to WEBHOOK_URL/WEBHOOK_PATH, and
    # only requests carrying WEBHOOK_SECRET_TOKEN are taken. Unset: long polling.
    webhook_url: str | None = None
    webhook_secret_token: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=0, le=65535)
    webhook_path: str = "telegram"
    # /healthz and /metrics on their own port (also in polling mode); unset: only on the
    # webhook port, if any. They carry no secrets but are not for the internet.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # Shift handover: remind the incoming leader, then tell the workshop (30s, 15m, 4h, 3d).
    handover_remind_after: Duration = timedelta(minutes=30)
    handover_escalate_after: Duration = timedelta(hours=2)
    # Pre-shift meeting: a briefing whose time passed while the bot was down still goes
    # out within this window; a meeting not held this long after shift start escalates.
    reminder_grace: Duration = timedelta(minutes=30)
    meeting_grace: Duration = timedelta(minutes=30)
    # How long a one-time /invite code for binding a group stays usable.
    invite_valid_for: Duration = timedelta(hours=24)
    # Policy documents: reminder rounds after posting, for those who have not read it
    # (rounds at or after the due date are not sent; the workshop hears instead).
    document_reminders: Durations = (timedelta(days=1), timedelta(days=2))
    # 复岗: a worker seen again in their team group after this long unseen is briefed
    # on their post's risk cards again.
    briefing_after_absence: Duration = timedelta(days=30)
    # The daily quiz poll in every team group: at this local time (the team's zone);
    # one the bot missed while down still goes out within the window.
    quiz_time: time = time(10, 0)
    quiz_window: Duration = timedelta(hours=2)
    # Stop work / evacuate: members not reported safe this long after the alert are
    # listed to the leader and the workshop, once.
    evacuate_missing_after: Duration = timedelta(minutes=10)
    # Drills: each team group taking part is reminded this long before the start.
    drill_reminders: Durations = (timedelta(days=1), timedelta(hours=1))
    # The monthly report goes out on each enterprise's report day (``report_day`` in the
    # org file, default the 20th) from this local time on.
    monthly_report_time: time = time(9, 0)
    # Risk notification cards shown in the briefing; the shipped file fits the example
    # organisation only. A missing file means briefings without a risk section.
    risk_cards_file: Path = SHIPPED_RISK_CARDS
    # Who hears about an unhandled hazard, and when (per severity). Checked at start-up.
    escalation_file: Path = POLICY_FILE
    # The checklists (检查) checks fall due by: one YAML file each. Checked at start-up.
    checklists_dir: Path = SHIPPED_CHECKLISTS

    # The local sandbox (``safetybot sandbox``, or ``run`` without a token): its page.
    # It has no login, so it listens on the loopback unless told otherwise.
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8080, ge=0, le=65535)

    outbox_max_attempts: int = 8
    outbox_poll_seconds: float = 2.0
    # Who this deployment is to the outbox. A restarted process with the same identity
    # takes back at once the rows its killed predecessor claimed; those of another
    # identity (a standby) wait for their lease. Run one process per identity at a time.
    outbox_instance: str = Field(default_factory=default_instance)
    # Hot standby (PostgreSQL only; see bot.leadership): "advisory-lock" lets several
    # instances share one database, one active and the others waiting to take over.
    # "off": this is the only instance. SQLite is always single-instance.
    leader_election: Literal["off", "advisory-lock"] = "off"
    # How often a standby tries to take over, and the leader checks it still leads.
    leader_retry: Duration = timedelta(seconds=1)
    leader_check: Duration = timedelta(seconds=1)
    # Telegram's flood limits. Just under 30/s overall, sent evenly spaced: network
    # jitter can bunch sends that left on time, and Telegram answers each excess call
    # with 429 (see bot.app.flood_limiter and bench/briefing_fanout.py).
    flood_overall_per_second: float = 28.5
    flood_group_per_minute: float = 20.0
    # Updates handled at once (in order per chat; see bot.updates). A shift start's
    # taps wait on the database, not on each other.
    update_concurrency: int = Field(default=64, ge=1, le=1024)
    # Requests to Telegram in flight at once (each a pooled connection); more wait in
    # order. A few suffice: an answer takes milliseconds (see bot.http.BotApiHTTP).
    telegram_connections: int = Field(default=8, ge=1, le=256)

    @field_validator("bot_admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.replace(",", " ").split()]
        return value

    @field_validator("telegram_extra_bot_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        tokens = tuple(str(v.get_secret_value() if isinstance(v, SecretStr) else v)
                       for v in value)
        for token in tokens:
            if not bot_id_of(token):
                raise ValueError("each token looks like 123456:ABC… (the bot's id, a colon, "
                                 "the secret)")
        return tokens

    @field_validator("default_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("escalation_file")
    @classmethod
    def _check_escalation(cls, value: Path) -> Path:
        try:
            load_escalation_policy(value)
        except (PolicyError, OSError) as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("checklists_dir")
    @classmethod
    def _check_checklists(cls, value: Path) -> Path:
        try:
            load_checklists(value)
        except (ChecklistError, OSError) as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("risk_cards_file")
    @classmethod
    def _check_risk_cards(cls, value: Path) -> Path:
        try:
            load_risk_cards(value)
        except RiskCardError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("outbox_instance")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        value = value.strip()
        if not value or "#" in value or len(value) > INSTANCE_MAX_LENGTH:
            raise ValueError(f"1 to {INSTANCE_MAX_LENGTH} characters, without '#'")
        return value

    @field_validator("webhook_secret_token")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("1 to 256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        value = value.strip("/")
        if not value or value in RESERVED_PATHS:
            raise ValueError(f"a path other than {', '.join(sorted(RESERVED_PATHS))}")
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        # Without the secret anyone who guesses the URL can post updates as any user.
        if self.webhook_url and self.webhook_secret_token is None:
            raise ValueError("WEBHOOK_URL is set: set WEBHOOK_SECRET_TOKEN too")
        return self

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, value: str) -> str:
        if value not in SUPPORTED_LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(SUPPORTED_LANGUAGES)}")
        return value

    def database(self) -> Database:
        """The database handle these settings describe (URL and pool)."""
        return Database(self.database_url, pool_size=self.database_pool_size,
                        max_overflow=self.database_max_overflow,
                        pool_timeout=self.database_pool_timeout.total_seconds())

    @property
    def webhook_endpoint(self) -> str | None:
        """The full URL Telegram posts updates to (None in polling mode)."""
        if not self.webhook_url:
            return None
        return f"{self.webhook_url.rstrip('/')}/{self.webhook_path}"

    @property
    def api_base_url(self) -> str:
        """Bot API URL prefix in PTB's form (``…/bot``; the token is appended)."""
        base = self.telegram_api_base_url.rstrip("/")
        return base if base.endswith("/bot") else f"{base}/bot"

    @property
    def api_base_file_url(self) -> str:
        """File download URL prefix in PTB's form (``…/file/bot``)."""
        base = self.telegram_api_base_url.rstrip("/")
        base = base.removesuffix("/bot")
        return f"{base}/file/bot"

    def masked(self) -> dict[str, str]:
        """The effective settings as strings, secrets masked, for ``check-config``."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, tuple) and all(isinstance(v, SecretStr) for v in value):
                text = ",".join(f"{bot_id_of(v.get_secret_value())}:*** (set)" for v in value)
            elif isinstance(value, SecretStr):
                secret = value.get_secret_value()
                text = f"{secret[:4]}…{secret[-2:]} (set)" if len(secret) > 8 else "*** (set)"
            elif name == "database_url":
                text = _mask_url_password(str(value))
            elif value is None:
                text = "(not set)"
            elif isinstance(value, timedelta):
                text = format_duration(value)
            elif isinstance(value, tuple) and all(isinstance(v, timedelta) for v in value):
                text = ",".join(format_duration(v) for v in value)
            else:
                text = str(value)
            shown[name.upper()] = text
        return shown


def bot_id_of(token: str) -> int:
    """The bot's Telegram id, the part of its token before the colon (0 if malformed)."""
    head, colon, secret = token.partition(":")
    return int(head) if colon and secret and head.isdigit() else 0


def _mask_url_password(url: str) -> str:
    """Hide the password in ``scheme://user:password@host/db``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    if ":" in credentials:
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
