"""The `safetybot` command line, as an admin uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "content" / "examples" / "org.yaml"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path


def test_check_config_masks_secrets(env: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:SECRET-TOKEN-VALUE")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot:hunter2@db/safety")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "SECRET-TOKEN-VALUE" not in out and "hunter2" not in out
    assert "TELEGRAM_BOT_TOKEN=1234…UE (set)" in out
    assert "DATABASE_URL=postgresql+asyncpg://bot:***@db/safety" in out
    assert "DEFAULT_TIMEZONE=Asia/Shanghai" in out


def test_run_without_token_starts_the_sandbox_and_says_why(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import sandbox

    started: list[tuple[object, str | None]] = []

    async def serve(settings: object, options: sandbox.SandboxOptions, *,
                    why: str | None = None) -> None:
        started.append((options, why))

    monkeypatch.setattr(sandbox, "serve", serve)
    monkeypatch.setenv("SANDBOX_PORT", "8099")
    assert main(["run"]) == 0
    [(options, why)] = started
    assert isinstance(options, sandbox.SandboxOptions)
    assert (options.host, options.port, options.reset) == ("127.0.0.1", 8099, False)
    assert why is not None and "TELEGRAM_BOT_TOKEN is not set" in why
    assert main(["sandbox", "--reset", "--port", "0"]) == 0
    assert started[-1][0].reset and started[-1][0].port == 0  # type: ignore[attr-defined]


def test_sandbox_on_a_busy_port_is_one_sentence(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import sandbox

    async def serve(*_args: object, **_kwargs: object) -> None:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(sandbox, "serve", serve)
    assert main(["sandbox"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Address already in use" in err and "SANDBOX_PORT" in err


def test_bad_setting_is_one_sentence_and_exit_2(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Mars/Olympus")
    assert main(["check-config"]) == 2
    assert "DEFAULT_TIMEZONE" in capsys.readouterr().err


def test_org_import_twice_then_export(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(EXAMPLE)]) == 0
    assert "6 units created" in capsys.readouterr().out
    assert main(["org", "import", str(EXAMPLE)]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert main(["org", "export", str(env / "out.yaml")]) == 0
    exported = (env / "out.yaml").read_text(encoding="utf-8")
    assert "合成甲班" in exported and "team_leader" in exported


def test_bad_org_file_names_file_and_line_and_changes_nothing(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(EXAMPLE)]) == 0
    capsys.readouterr()
    bad = env / "bad.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("name: 合成乙班", "name: 合成乙班二")
    text = text.replace("role: safety_officer", "role: boss")
    bad.write_text(text, encoding="utf-8")
    assert main(["org", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "role: boss" in row)
    assert f"bad.yaml:{line}:" in err and "boss" in err
    assert main(["org", "export"]) == 0
    assert "合成乙班二" not in capsys.readouterr().out


def test_missing_org_file(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(env / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_db_upgrade(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert (env / "cli.db").exists()


@pytest.mark.parametrize("dates", [["--from", "0001-01-01"], ["--to", "9999-12-31"],
                                   ["--from", "9999-12-31", "--to", "9999-12-31"],
                                   ["--from", "2026-02-30"], ["--from", "99999999999"],
                                   ["--from", "2026-11-30", "--to", "2026-11-01"]])
def test_ledger_export_with_absurd_dates_is_one_sentence_and_exit_2(
        env: Path, capsys: pytest.CaptureFixture[str], dates: list[str]) -> None:
    assert main(["ledger", "export", "--unit", "acme", *dates]) == 2
    err = capsys.readouterr().err
    assert err.startswith("safetybot: ") and err.count("\n") == 1 and "YYYY-MM-DD" in err


def test_report_monthly_writes_the_files_of_an_imported_unit(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(EXAMPLE)]) == 0
    assert main(["report", "monthly", "--unit", "ws-synthesis", "--month", "2026-11",
                 "--out", str(env / "out")]) == 0
    out = capsys.readouterr().out
    assert "wrote the 2026-11 report of ws-synthesis" in out
    names = sorted(p.name for p in (env / "out").iterdir())
    assert names == ["levels-ws-synthesis-2026-11.png", "monthly-ws-synthesis-2026-11.xlsx",
                     "summary-ws-synthesis-2026-11.txt", "trend-ws-synthesis-2026-11.png",
                     "units-ws-synthesis-2026-11.png"]
    summary = (env / "out" / "summary-ws-synthesis-2026-11.txt").read_text(encoding="utf-8")
    assert "2026-11 安全月报" in summary and "隐患上报 0 条" in summary
    for bad in (["--unit", "nope"], ["--unit", "ws-synthesis", "--month", "2026-13"]):
        assert main(["report", "monthly", *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("safetybot: ") and err.count("\n") == 1
