"""`make bench`: Keel (`keel serve --workers N`) against a bare Litestar app on loopback, on SQLite and on
PostgreSQL, then start-up, the FastAPI and Express twins (benchmarks/twins/), gym, scribe and segmint.

Environment: BENCH_WORKERS (1), BENCH_DURATION seconds per scenario (10), BENCH_WARMUP seconds of the
same load before each, not measured (1; wrk only), BENCH_CONNECTIONS (32),
BENCH_THREADS (1), BENCH_LOAD (wrk; httpx forces the fallback), BENCH_GROUPS
(core,gym,startup,twins,scribe,market,segmint; market: the assistant's first streamed token,
benchmarks/market.py),
BENCH_DATABASES (sqlite,postgres), BENCH_POSTGRES_URL (DATABASE_URL when it is PostgreSQL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/keel_bench), BENCH_PIN (1: server on core 0, load on core 1),
BENCH_LOG_LEVEL (INFO), REDIS_URL (optional). Uses wrk when installed, else a small asyncio httpx load
generator. Per scenario: rps, p50, p99, the server's CPU ms per request (its /proc counters around the
run) and that CPU as a multiple of the bare Litestar hello world's in the same run (under uvicorn with its
access log on, as every server of the run logs each request; the same app without it is printed too).
Prints the tables and writes var/bench/results-<timestamp>.json. A group whose prerequisite is missing
is reported as not measured, with the reason, instead of stopping the run.

One module per part: `config` (BENCH_* settings, the servers' environment), `server`, `load` (wrk or
httpx, one measured scenario), `groups` (the runs; a group's data set-up goes in GROUP_SETUPS),
`report` (the tables), `main`. This package re-exports what other bench modules use.
"""

from benchmarks.run.config import (
    BIN,
    CONNECTIONS,
    DATABASES,
    DURATION,
    GROUPS,
    OUT,
    ROOT,
    THREADS,
    USE_WRK,
    WORKERS,
    database_url,
    free_port,
    postgres_url,
    server_env,
)
from benchmarks.run.groups import CORE_SESSIONS, GROUP_SETUPS, core_setup, group_values
from benchmarks.run.load import drain, measure, run_scenario, status_counts
from benchmarks.run.server import make_user, prepare_database, start, stop

__all__ = [
    "BIN",
    "CONNECTIONS",
    "CORE_SESSIONS",
    "DATABASES",
    "DURATION",
    "GROUPS",
    "GROUP_SETUPS",
    "OUT",
    "ROOT",
    "THREADS",
    "USE_WRK",
    "WORKERS",
    "core_setup",
    "database_url",
    "drain",
    "free_port",
    "group_values",
    "make_user",
    "measure",
    "postgres_url",
    "prepare_database",
    "run_scenario",
    "server_env",
    "start",
    "status_counts",
    "stop",
]
