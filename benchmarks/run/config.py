"""The bench's settings (BENCH_* environment), paths, and the environment every Keel server gets."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OUT = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


WORKERS = _env_int("BENCH_WORKERS", 1)
DURATION = _env_int("BENCH_DURATION", 10)
# seconds of the same load before each measured run, not counted: the pool's connections are opened and
# first-use paths taken then, so p99 is the steady state's, not the first second's
WARMUP = _env_int("BENCH_WARMUP", 1)
CONNECTIONS = _env_int("BENCH_CONNECTIONS", 32)
THREADS = _env_int("BENCH_THREADS", 1)
# BENCH_LOAD=httpx forces the built-in generator (what a machine without wrk uses)
USE_WRK = bool(shutil.which("wrk")) and os.environ.get("BENCH_LOAD", "wrk") == "wrk"
GROUPS = [
    g.strip()
    for g in os.environ.get("BENCH_GROUPS", "core,gym,startup,twins,scribe,market,segmint").split(",")
    if g.strip()
]
DATABASES = [d.strip() for d in os.environ.get("BENCH_DATABASES", "sqlite,postgres").split(",") if d.strip()]
LOAD_GROUPS = ("core", "gym")  # groups of wrk scenarios (startup, twins and scribe are their own)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_url() -> str:
    given = os.environ.get("DATABASE_URL", "")
    if given.startswith("postgresql"):
        return given
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/keel_bench")


def database_url(kind: str) -> str:
    return postgres_url() if kind == "postgres" else f"sqlite+aiosqlite:///{OUT / 'bench.db'}"


def server_env(database_url: str | None = None) -> dict[str, str]:
    """What a Keel server of the bench runs with; DATABASE_URL is `database_url` (default: the first
    of BENCH_DATABASES)."""
    database_url = database_url or globals()["database_url"](DATABASES[0])
    env = dict(os.environ)
    installed = [p.parent.name for p in sorted((ROOT / "src" / "keel" / "apps").glob("*/plugin.py"))]
    env.update(
        KEEL_APPS=env.get("KEEL_APPS", ",".join(installed)),
        DATABASE_URL=database_url,
        KEEL_ENV=env.get("BENCH_KEEL_ENV", "production"),
        JWT_SECRET=env.get("JWT_SECRET") or "bench-only-secret-0123456789abcdefghijklmnop",
        # production refuses to start without a Fernet key while segmint is served; a fixed bench-only one
        SEGMINT_ENCRYPTION_KEY=env.get("SEGMINT_ENCRYPTION_KEY")
        or "YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        LOG_LEVEL=env.get("BENCH_LOG_LEVEL", "INFO"),
        # production would hold new accounts until their address is verified by mail; the bench's users
        # sign in at registration, as in development
        AUTH_REQUIRE_VERIFIED_EMAIL=env.get("AUTH_REQUIRE_VERIFIED_EMAIL", "false"),
        # one client drives everything: the limiter still runs on every request, it just never refuses
        RATE_LIMIT_MAX=str(10**9),
        RATE_LIMIT_WINDOW="1",
        RATE_LIMIT_AUTH="1000000000/second",
        JOBS_IN_SERVER="false",
        STORAGE_URL=f"file://{OUT / 'storage'}",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if WORKERS > 1:  # several workers add their samples up through files; one keeps them in process
        env["PROMETHEUS_MULTIPROC_DIR"] = str(OUT / "prometheus")
    return env
