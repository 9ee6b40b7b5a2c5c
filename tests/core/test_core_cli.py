"""The `keel` command as a new user meets it: `cp .env.example .env` starts, every refusal is one
`Error:` line naming what to change (no traceback), `--version`, and one log format per run."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from keel import __version__
from keel.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
# what a developer's shell might carry that would change these runs
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "KEEL_APPS", "PROMETHEUS_MULTIPROC_DIR", "LOG_JSON", "CI")


def keel(args: list[str], cwd: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    clean.update(env)
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "keel.cli", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_env_example_loads_as_the_settings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable of .env.example, empty ones included (`AUTH_COOKIE_SECURE=`), is the default."""
    for field in msgspec.structs.fields(Settings):
        monkeypatch.delenv(field.name.upper(), raising=False)
    assert load_settings(ROOT / ".env.example") == Settings()


def test_empty_means_unset_for_typed_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTH_COOKIE_SECURE", "PORT", "LOG_JSON", "DEBUG", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("AUTH_COOKIE_SECURE=   # auto\nPORT=\nLOG_JSON=\nDEBUG=\nREDIS_URL=\n")
    settings = load_settings(env_file)
    assert (settings.auth_cookie_secure, settings.port, settings.log_json, settings.debug) == (
        None,
        8000,
        None,
        False,
    )
    assert settings.redis_url == ""  # a text setting keeps its empty value
    env_file.write_text("AUTH_COOKIE_SECURE=true\n")
    assert load_settings(env_file).cookie_secure is True


def test_version(tmp_path: Path) -> None:
    result = keel(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"keel {__version__}"


def test_worker_on_sqlite_is_one_error_line(tmp_path: Path) -> None:
    assert_one_error_line(keel(["worker"], tmp_path), "DATABASE_URL=postgresql")


def test_unknown_app_is_one_error_line(tmp_path: Path) -> None:
    result = keel(["migrate"], tmp_path, KEEL_APPS="gym,gmy")
    assert_one_error_line(result, "KEEL_APPS", "'gmy'", "gym, scribe, segmint, market")
    assert not (tmp_path / "var" / "keel.db").exists()  # refused before the database changed


def test_unsafe_production_settings_are_one_error_line(tmp_path: Path) -> None:
    assert_one_error_line(keel(["migrate"], tmp_path, KEEL_ENV="production"), "JWT_SECRET")


@pytest.mark.slow
def test_fresh_checkout_migrates_with_env_example(tmp_path: Path) -> None:
    """`cp .env.example .env && keel migrate`, with a PROMETHEUS_MULTIPROC_DIR that does not exist yet:
    the folder is made, the database migrated and seeded, and every log line is JSON (not a terminal)."""
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    metrics_dir = tmp_path / "var" / "metrics" / "not-yet"
    result = keel(["migrate"], tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    assert result.returncode == 0, result.stderr
    assert metrics_dir.is_dir()
    assert (tmp_path / "var" / "keel.db").exists()
    assert result.stdout.strip().splitlines()[-1] == "database at head"
    logs = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    events = [json.loads(line) for line in logs if line != "database at head"]
    assert any(e.get("logger") == "alembic.runtime.migration" for e in events)
    assert any(e["event"] == "seeded" and e["seeder"] == "gym" for e in events)


LOG_SCRIPT = """
import logging, structlog
from keel.core.logging import configure_logging
configure_logging("INFO", None)
structlog.get_logger("t").info("from_structlog", n=1)
logging.getLogger("lib").warning("from stdlib")
"""


# what every `keel` command does first (cli._settings): the format from LOG_JSON, else from the terminal
LOG_FROM_SETTINGS_SCRIPT = LOG_SCRIPT.replace(
    'configure_logging("INFO", None)',
    'from keel.settings import get_settings\nconfigure_logging("INFO", get_settings().log_json)',
)


def _run_logging(tty: bool, script: str = LOG_SCRIPT, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(extra)
    if not tty:
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout + result.stderr
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", script], env=env, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(controller)
    return b"".join(chunks).decode()


def test_one_log_format_per_run_console_on_a_terminal_json_otherwise() -> None:
    piped = [line for line in _run_logging(tty=False).splitlines() if line.strip()]
    assert {json.loads(line)["event"] for line in piped} == {"from_structlog", "from stdlib"}
    console = [line for line in _run_logging(tty=True).splitlines() if line.strip()]
    assert len(console) == 2
    assert all(not line.lstrip().startswith("{") for line in console)
    assert any("from_structlog" in line and "n=1" in line for line in console)
    assert any("from stdlib" in line and "[warning  ]" in line for line in console)


def test_log_json_setting_overrides_the_terminal_guess() -> None:
    on_terminal = _run_logging(True, LOG_FROM_SETTINGS_SCRIPT, LOG_JSON="true", KEEL_ENV="development")
    lines = [line for line in on_terminal.splitlines() if line.strip()]
    assert {json.loads(line)["event"] for line in lines} == {"from_structlog", "from stdlib"}
    piped = _run_logging(False, LOG_FROM_SETTINGS_SCRIPT, LOG_JSON="false", KEEL_ENV="development")
    lines = [line for line in piped.splitlines() if line.strip()]
    assert len(lines) == 2 and all(not line.lstrip().startswith("{") for line in lines)
    assert any("from stdlib" in line and "[warning  ]" in line for line in lines)


def test_serve_on_a_database_without_tables_is_one_error_line(tmp_path: Path) -> None:
    """A fresh folder: `keel serve` before `keel migrate` names the command, not a start-up traceback."""
    assert_one_error_line(keel(["serve", "--port", "9"], tmp_path), "no tables yet", "keel migrate")


def test_serve_on_a_database_a_release_behind_names_both_revisions(tmp_path: Path) -> None:
    import sqlite3

    from keel.core.schema_state import code_heads

    migrated = keel(["migrate", "--no-seed"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(tmp_path / "var" / "keel.db") as conn:  # new code deployed, `keel migrate` forgotten
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    (head,) = code_heads()
    assert_one_error_line(
        keel(["serve", "--port", "9"], tmp_path), "revision 0001", f"needs {head}", "keel migrate"
    )
    with sqlite3.connect(tmp_path / "var" / "keel.db") as conn:  # an older release on a newer database
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    assert_one_error_line(keel(["serve", "--port", "9"], tmp_path), "9999", "does not know")


def test_the_migrated_test_database_is_at_the_code_head(base_settings: Settings) -> None:
    """The same check on the configured database (SQLite, or PostgreSQL in the services lane): at head, so
    `keel serve` starts."""
    from keel.core.schema_state import code_heads, schema_problem

    assert len(code_heads()) == 1  # one line of history: two heads would need a merge revision
    assert schema_problem(base_settings.database_url) is None
