"""One typed settings object, read from the environment and `.env`.

Every field maps to the environment variable of the same name in upper case. The defaults are the
embedded, no-services set-up; production refuses to start with unsafe values (see `check_production`).
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import msgspec
from dotenv import dotenv_values

DEFAULT_JWT_SECRET = "change-me-insecure-development-secret"  # noqa: S105 - the value production refuses
MIN_SECRET_LENGTH = 32


class SettingsError(RuntimeError):
    """Settings are missing or unsafe; the message names the variable to set."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    keel_env: Literal["development", "test", "production"] = "development"
    keel_apps: str = "gym,scribe,market,segmint"
    debug: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    shutdown_timeout: float = 30.0
    log_level: str = "INFO"
    log_json: bool | None = None  # None: console lines on a terminal, JSON lines otherwise

    # database
    database_url: str = "sqlite+aiosqlite:///./var/keel.db"
    # 20 connections per worker, opened on demand and kept: overflow connections are closed as soon as
    # they are returned, so a worker busier than its pool size kept connecting (asyncpg connect, codecs,
    # statements prepared again) on a share of its requests
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_pool_timeout: float = 30.0
    db_pool_recycle: int = 1800
    db_echo: bool = False

    redis_url: str = ""

    # identity
    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_algorithm: Literal["HS256", "RS256", "EdDSA"] = "HS256"
    jwt_private_key_file: str = ""
    jwt_public_key_file: str = ""
    jwt_issuer: str = "keel"
    jwt_audience: str = "keel-api"
    jwt_expires_in: int = 900  # access token lifetime, seconds (seed 003's JWT_EXPIRES_IN)
    refresh_idle_ttl: int = 14 * 24 * 3600
    refresh_absolute_ttl: int = 60 * 24 * 3600
    refresh_reuse_grace: float = 10.0
    password_hash_time_cost: int = 2
    password_hash_memory_kib: int = 19456
    password_hash_parallelism: int = 1
    password_hash_concurrency: int = 4
    auth_cookie_secure: bool | None = None  # None: secure everywhere but development
    auth_require_verified_email: bool | None = None  # None: on in production, off otherwise
    login_max_failures: int = 5
    login_lockout_base: int = 30
    login_ip_limit: str = "30/minute"  # login attempts per client IP (moving window)
    register_limit: str = "20/hour"  # registrations per client IP
    email_limit: str = "5/hour"  # reset / verification mails per address
    email_ip_limit: str = "30/hour"  # reset / verification requests per client IP
    frontend_url: str = "http://127.0.0.1:8000"

    # mail
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Keel <no-reply@keel.local>"

    # http protection
    cors_origin: str = "http://localhost:3000,http://127.0.0.1:3000"
    cors_allow_credentials: bool = True
    trusted_proxies: str = "127.0.0.1,::1"
    max_body_size: int = 1_048_576
    max_upload_size: int = 2 * 1024**3
    max_query_string: int = 4096
    rate_limit_window: int = 60  # seconds (seed 003 gives ms; we use seconds throughout)
    rate_limit_max: int = 300
    rate_limit_auth: str = "10/minute"
    rate_limit_enabled: bool = True

    # cache, storage, jobs
    cache_ttl: int = 300
    storage_url: str = "file://./var/storage"
    jobs_in_server: bool = True
    jobs_concurrency: int = 2
    jobs_poll_interval: float = 2.0  # seconds between queue polls (new jobs also arrive by notification)
    jobs_heartbeat_interval: float = 10.0  # seconds between worker heartbeats
    jobs_stalled_timeout: float = 60.0  # a worker silent this long is dead: its running jobs are retried
    jobs_recover_interval: int = 30  # seconds between sweeps for jobs of dead workers
    jobs_task_modules: str = ""  # extra modules exposing a `tasks` procrastinate Blueprint
    realtime_keepalive: float = 15.0  # seconds between SSE keep-alive comments
    metrics_enabled: bool = True
    prometheus_multiproc_dir: str = ""
    # OpenTelemetry traces (HTTP, SQL, jobs) over OTLP/HTTP to this base URL (…/v1/traces); empty: off
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = "keel"

    # language model (keel.core.llm): one OpenAI-compatible chat-completions server for every app
    ai_base_url: str = ""  # e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1; empty: local engines
    ai_api_key: str = ""
    ai_model: str = "gpt-4o-mini"
    ai_timeout: float = 30.0  # seconds per request to the model server (connect, and between stream reads)
    ai_max_retries: int = 2  # retries with exponential backoff on connection errors, 408/409/429/5xx
    ai_daily_token_quota: int = (
        0  # prompt + completion tokens per user per UTC day (429 beyond); 0: unlimited
    )

    # scribe
    whisper_model_dir: str = ""  # a CTranslate2 Whisper folder; "" = the bundled tiny.en (English only)
    whisper_device: str = "auto"  # cpu, cuda or auto (cuda when ctranslate2 sees a GPU)
    whisper_compute_type: str = "int8"  # int8, int8_float16, float16, float32, default
    whisper_threads: int = 0  # CPU threads per transcription; 0 = the cores given to the worker
    whisper_beam_size: int = 5
    scribe_sync_max_seconds: int = 1800  # longest audio the OpenAI-compatible endpoint transcribes in-request
    scribe_remote_url: str = ""
    scribe_remote_key: str = ""
    scribe_remote_model: str = "whisper-1"
    scribe_max_upload_size: int = 2 * 1024**3  # bytes per uploaded audio/video file (413 beyond)
    scribe_max_concurrent_jobs: int = 2  # transcriptions running at once per user; more wait in the queue
    scribe_max_queued_jobs: int = 100  # queued or running transcriptions per user (429 beyond)
    scribe_max_batch_files: int = 50  # files in one POST /transcriptions/batch (400 beyond)
    scribe_max_minutes_per_day: int = 600  # minutes of audio a user may submit per UTC day (429 beyond)

    # market
    market_max_media_size: int = 25 * 1024**2  # bytes per chat media upload (413 beyond)
    # segmint
    segmint_encryption_key: str = ""  # Fernet key(s), comma-separated, first encrypts; empty: derived (dev)
    segmint_publish_timeout: float = 15.0  # seconds per request to a publishing target
    segmint_allow_private_targets: bool = False  # let integrations post to loopback/private addresses (SSRF)
    # segmint networks: OAuth apps (empty client id: that network cannot be connected) and API base URLs
    segmint_oauth_redirect_base: str = ""  # e.g. https://app.example.com/connect; empty: FRONTEND_URL/...
    segmint_x_client_id: str = ""
    segmint_x_client_secret: str = ""  # empty: a public client (PKCE only)
    segmint_x_api_url: str = "https://api.x.com"
    segmint_x_authorize_url: str = "https://x.com/i/oauth2/authorize"
    segmint_linkedin_client_id: str = ""
    segmint_linkedin_client_secret: str = ""
    segmint_linkedin_api_url: str = "https://api.linkedin.com"
    segmint_linkedin_oauth_url: str = "https://www.linkedin.com/oauth/v2"
    segmint_linkedin_version: str = "202511"  # LinkedIn-Version header (YYYYMM; versions retire after a year)
    segmint_bluesky_service: str = "https://bsky.social"  # default entryway/PDS for app-password sign-in

    # gym
    gym_edit_window_hours: int = 24  # sets of a session finished longer ago than this are read-only (409)
    gym_import_max_size: int = 10 * 1024**2  # bytes of CSV per import (413 beyond)
    gym_import_max_rows: int = 50_000  # CSV rows per import

    @property
    def is_production(self) -> bool:
        return self.keel_env == "production"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def apps(self) -> list[str]:
        return [a.strip() for a in self.keel_apps.split(",") if a.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origin.split(",") if o.strip()]

    @property
    def cookie_secure(self) -> bool:
        if self.auth_cookie_secure is not None:
            return self.auth_cookie_secure
        return self.keel_env != "development" and self.keel_env != "test"

    @property
    def require_verified_email(self) -> bool:
        """Registration signs nobody in and login waits until the address is proven by a mailed link."""
        if self.auth_require_verified_email is not None:
            return self.auth_require_verified_email
        return self.is_production


# old name -> new name; the old ones keep working (with a DeprecationWarning) while deployments move
DEPRECATED_NAMES = {
    "segmint_ideas_url": "ai_base_url",
    "segmint_ideas_key": "ai_api_key",
    "segmint_ideas_model": "ai_model",
}


def _text_fields() -> set[str]:
    """Fields typed plain `str`: for them an empty value is a value (no Redis, no SMTP host, ...)."""
    return {f.name for f in msgspec.structs.fields(Settings) if f.type is str}


def _from_mapping(raw: dict[str, Any]) -> Settings:
    fields = {f.name for f in msgspec.structs.fields(Settings)}
    text = _text_fields()
    lowered = {k.lower(): v for k, v in raw.items() if v is not None}
    data = {}
    for name, value in lowered.items():
        if name not in fields:
            continue
        if isinstance(value, str) and not value.strip() and name not in text:
            continue  # `AUTH_COOKIE_SECURE=` in .env means "unset": the default (often "auto") applies
        data[name] = value
    for old, new in DEPRECATED_NAMES.items():
        if old in lowered and lowered[old] != "":
            warnings.warn(
                f"{old.upper()} is deprecated; set {new.upper()} instead", DeprecationWarning, stacklevel=3
            )
            data.setdefault(new, lowered[old])
    try:
        return msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        # msgspec says "at `$.port`": name the environment variable instead
        msg = str(exc)
        if "$." in msg:
            field = msg.split("$.", 1)[1].rstrip("`").split("`")[0]
            msg = f"{msg} (environment variable {field.upper()})"
        raise SettingsError(f"Invalid setting: {msg}") from exc


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Environment wins over `.env`; explicit overrides (tests, CLI flags) win over both."""
    raw: dict[str, Any] = {}
    if env_file and Path(env_file).is_file():
        raw.update(dotenv_values(env_file))
    raw.update(os.environ)
    raw.update({k.upper(): v for k, v in overrides.items()})
    settings = _from_mapping(raw)
    check_production(settings)
    return settings


def _valid_fernet_keys(value: str) -> bool:
    from cryptography.fernet import Fernet

    keys = [k.strip() for k in value.split(",") if k.strip()]
    try:
        for key in keys:
            Fernet(key)
    except ValueError:
        return False
    return bool(keys)


def check_production(s: Settings) -> None:
    if not s.is_production:
        return
    problems = []
    weak_secret = s.jwt_secret == DEFAULT_JWT_SECRET or len(s.jwt_secret) < MIN_SECRET_LENGTH
    if s.jwt_algorithm == "HS256" and weak_secret:
        problems.append(
            f"JWT_SECRET must be set to a random value of at least {MIN_SECRET_LENGTH} characters"
        )
    if s.jwt_algorithm != "HS256" and not (s.jwt_private_key_file and s.jwt_public_key_file):
        problems.append(
            "JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE must be set for asymmetric JWT_ALGORITHM"
        )
    if s.debug:
        problems.append("DEBUG must be false in production")
    if "segmint" in s.apps and not _valid_fernet_keys(s.segmint_encryption_key):
        problems.append(
            "SEGMINT_ENCRYPTION_KEY must be set to one or more Fernet keys (comma-separated; make one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        )
    if s.require_verified_email and not s.smtp_host:
        problems.append(
            "SMTP_HOST must be set: new accounts wait for their verification mail "
            "(AUTH_REQUIRE_VERIFIED_EMAIL, on in production); or set AUTH_REQUIRE_VERIFIED_EMAIL=false"
        )
    if "*" in s.cors_origins and s.cors_allow_credentials:
        problems.append("CORS_ORIGIN must list explicit origins when CORS_ALLOW_CREDENTIALS is true")
    if problems:
        raise SettingsError("Refusing to start in production: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
