"""Settings: typed, from environment and .env, documented, and unsafe production values refused."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from keel.settings import DEFAULT_JWT_SECRET, Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
SAFE_SECRET = "p" * 40


def test_every_setting_is_documented_in_env_example_and_readme() -> None:
    env_example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for field in msgspec.structs.fields(Settings):
        name = field.name.upper()
        assert re.search(rf"^{name}=", env_example, re.M), f"{name} missing from .env.example"
        assert name in readme, f"{name} missing from README"


def test_env_file_is_read_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9001\nRATE_LIMIT_MAX=7\n")
    monkeypatch.setenv("RATE_LIMIT_MAX", "8")
    monkeypatch.delenv("PORT", raising=False)
    settings = load_settings(env_file)
    assert settings.port == 9001
    assert settings.rate_limit_max == 8


def test_wrong_type_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(SettingsError, match="PORT"):
        load_settings(None)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_secret": DEFAULT_JWT_SECRET}, "JWT_SECRET"),
        ({"jwt_secret": "short"}, "JWT_SECRET"),
        ({"debug": True}, "DEBUG"),
        ({"cors_origin": "*", "cors_allow_credentials": True}, "CORS_ORIGIN"),
        ({"smtp_host": ""}, "SMTP_HOST"),  # verification mails could not leave: nobody could sign up
    ],
)
def test_production_refuses_unsafe_values(overrides: dict, variable: str) -> None:
    base = {"keel_env": "production", "jwt_secret": SAFE_SECRET}
    with pytest.raises(SettingsError, match=variable):
        load_settings(None, **{**base, **overrides})


def test_production_accepts_safe_values() -> None:
    from cryptography.fernet import Fernet

    settings = load_settings(
        None,
        keel_env="production",
        jwt_secret=SAFE_SECRET,
        cors_origin="https://app.example",
        segmint_encryption_key=Fernet.generate_key().decode(),
        smtp_host="mail.example",
    )
    assert settings.is_production and settings.cookie_secure


def test_cli_refuses_to_start_in_production_with_default_secret(tmp_path: Path) -> None:
    env = {"KEEL_ENV": "production", "PATH": "/usr/bin:/bin", "JWT_SECRET": DEFAULT_JWT_SECRET}
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "keel.cli", "openapi", str(tmp_path / "o.json")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


def test_identity_throttles_come_from_settings_and_a_bad_one_names_its_variable(make_settings) -> None:
    from keel.app import create_app
    from keel.settings import SettingsError

    app = create_app(make_settings(login_ip_limit="7/minute", email_limit="2/day"))
    identity = app.state.identity
    assert (identity.login_ip_limit.amount, identity.login_ip_limit.get_expiry()) == (7, 60)
    assert (identity.email_limit.amount, identity.email_limit.get_expiry()) == (2, 86400)
    with pytest.raises(SettingsError, match="REGISTER_LIMIT='lots' is not a rate limit"):
        create_app(make_settings(register_limit="lots"))
