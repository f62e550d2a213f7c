"""Settings read once: durations as timedeltas, the escalation policy file checked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from content.hazards import POLICY_FILE, escalation_policy, use_escalation_file
from domain.hazard import Severity


def test_durations_are_timedeltas_once_read() -> None:
    settings = Settings(_env_file=None, reminder_grace="45m", handover_escalate_after="1h30m",
                        document_reminders="4h, 1d", invite_valid_for=3600)
    assert settings.reminder_grace == timedelta(minutes=45)
    assert settings.handover_escalate_after == timedelta(hours=1, minutes=30)
    assert settings.invite_valid_for == timedelta(hours=1)
    assert settings.document_reminders == (timedelta(hours=4), timedelta(days=1))
    defaults = Settings(_env_file=None)
    assert defaults.meeting_grace == timedelta(minutes=30)
    assert defaults.document_reminders == (timedelta(days=1), timedelta(days=2))
    assert defaults.masked()["DOCUMENT_REMINDERS"] == "1d,2d"
    assert defaults.masked()["HANDOVER_REMIND_AFTER"] == "30m"


def test_durations_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCUMENT_REMINDERS", "2h,3d")
    monkeypatch.setenv("MEETING_GRACE", "10m")
    settings = Settings(_env_file=None)
    assert settings.document_reminders == (timedelta(hours=2), timedelta(days=3))
    assert settings.meeting_grace == timedelta(minutes=10)


@pytest.mark.parametrize("field", ["reminder_grace", "document_reminders", "invite_valid_for"])
def test_a_bad_duration_stops_start_up(field: str) -> None:
    with pytest.raises(ValidationError, match="not a duration"):
        Settings(_env_file=None, **{field: "soon"})


def test_the_escalation_file_is_configurable_and_checked(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="escalation_file"):
        Settings(_env_file=None, escalation_file=tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("general: {acknowledge_within: 4h}\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"broken\.yaml"):
        Settings(_env_file=None, escalation_file=broken)

    strict = tmp_path / "strict.yaml"
    strict.write_text(POLICY_FILE.read_text(encoding="utf-8").replace(
        "acknowledge_within: 4h", "acknowledge_within: 1h"), encoding="utf-8")
    settings = Settings(_env_file=None, escalation_file=strict)
    try:
        use_escalation_file(settings.escalation_file)
        policy = escalation_policy().for_severity(Severity.GENERAL)
        assert policy.acknowledge_within == timedelta(hours=1)
    finally:
        use_escalation_file(POLICY_FILE)
    shipped = escalation_policy().for_severity(Severity.GENERAL)
    assert shipped.acknowledge_within == timedelta(hours=4)


def test_extra_bot_tokens_are_a_comma_separated_list_of_secrets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_EXTRA_BOT_TOKENS", "7001:AAAAsecret, 7002:BBBBsecret")
    settings = Settings(_env_file=None)
    assert [t.get_secret_value() for t in settings.telegram_extra_bot_tokens] == [
        "7001:AAAAsecret", "7002:BBBBsecret"]
    shown = settings.masked()["TELEGRAM_EXTRA_BOT_TOKENS"]
    assert shown == "7001:*** (set),7002:*** (set)" and "secret" not in shown
    assert Settings(_env_file=None, telegram_extra_bot_tokens="").telegram_extra_bot_tokens == ()
    monkeypatch.setenv("TELEGRAM_EXTRA_BOT_TOKENS", "not-a-token")
    with pytest.raises(ValidationError, match="123456:ABC"):
        Settings(_env_file=None)
