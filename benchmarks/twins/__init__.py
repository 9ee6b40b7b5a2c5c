"""Twins of Keel's two hot authenticated requests in other stacks, measured in the same bench run.

- `fastapi_app.py`: FastAPI + SQLAlchemy async (asyncpg), uvicorn with its access log.
- `express/`: Express 5 + Prisma 7 with its pg driver adapter (no engine binary), an access line per
  request.

Both serve `GET /api/v1/users/me` and `GET /api/v1/auth/sessions?limit=20` on the same PostgreSQL
database, for the same bench user and token (HS256, the bench's JWT_SECRET) Keel was just measured
with, and check the session on every request as Keel does. Their dependencies install only here, into
var/bench/twins/ (a venv and node_modules), never for `make run`; a twin that cannot be installed (no
network, no node) is reported as not measured. PostgreSQL only: the issue's comparison is on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.scenarios import Scenario

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VAR = ROOT / "var" / "bench" / "twins"
FASTAPI_DEPS = ["fastapi>=0.115", "uvicorn>=0.30", "sqlalchemy[asyncio]>=2.0", "asyncpg>=0.30", "pyjwt>=2.13"]
TWIN_SCENARIOS = [
    Scenario("twin", "users/me (bearer)", "GET", "/api/v1/users/me", auth=True),
    Scenario("twin", "my sessions, 20 of 100 with total", "GET", "/api/v1/auth/sessions?limit=20", auth=True),
]


def ensure_postgres_database(url: str) -> None:
    """CREATE DATABASE when the bench's PostgreSQL database does not exist yet."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)

    async def create() -> None:
        conn = await asyncpg.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database="postgres",
        )
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{parsed.database}"')
        finally:
            await conn.close()

    asyncio.run(create())


def _plain_url(url: str) -> str:
    """postgresql+asyncpg://… → postgresql://… (for pg / Prisma)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _fastapi() -> list[str]:
    venv = VAR / "fastapi-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        uv = Path(sys.executable).parent / "uv"
        subprocess.run([str(uv), "venv", "-q", "-p", sys.executable, str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(uv), "pip", "install", "-q", "--python", str(python), *FASTAPI_DEPS], check=True
        )
    return [str(python), "-m", "uvicorn", "benchmarks.twins.fastapi_app:app", "--log-level", "info"]


def _express() -> list[str]:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("node and npm are needed for the Express twin")
    work = VAR / "express"
    work.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "schema.prisma", "server.mjs", "noop-engine.sh"):
        shutil.copy2(HERE / "express" / name, work / name)
    if not (work / "node_modules" / "express").exists():
        subprocess.run(  # noqa: S603
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True
        )
    if not (work / "generated").exists():
        env = {**os.environ, "PRISMA_SCHEMA_ENGINE_BINARY": str(work / "noop-engine.sh")}
        env.setdefault("CHECKPOINT_DISABLE", "1")
        subprocess.run(  # noqa: S603
            [str(work / "node_modules" / ".bin" / "prisma"), "generate", "--schema", "schema.prisma"],
            cwd=work,
            env=env,
            check=True,
        )
    return [node, str(work / "server.mjs")]


TWINS: dict[str, Callable[[], list[str]]] = {
    "FastAPI + SQLAlchemy async": _fastapi,
    "Express 5 + Prisma 7 (pg adapter)": _express,
}


def run(kind: str, env: dict[str, str], user: dict[str, str], measure: Any) -> list[dict[str, Any]]:
    """Each twin's two scenarios, pinned like Keel; rows shaped like the bench's own."""
    from benchmarks import measure as m
    from benchmarks.run import OUT, free_port, start, stop

    if kind != "postgres":
        return []
    rows: list[dict[str, Any]] = []
    for name, prepare in TWINS.items():
        group = "fastapi" if name.startswith("FastAPI") else "express"
        try:
            command = prepare()
        except Exception as exc:  # no network, no node: say so, measure the rest
            traceback.print_exc()
            reason = f"install failed: {type(exc).__name__}: {exc}"[:300]
            rows += [
                {"database": kind, "group": group, "name": s.name, "skipped": reason} for s in TWIN_SCENARIOS
            ]
            continue
        port = free_port()
        twin_env = {
            **env,
            "PORT": str(port),
            "DATABASE_URL": env["DATABASE_URL"],
            "PG_URL": _plain_url(env["DATABASE_URL"]),
            "PYTHONPATH": str(ROOT),
        }
        if group == "fastapi":
            command = [*command, "--port", str(port)]
        try:
            proc = start(command, twin_env, port, OUT / f"twin-{group}.log")
        except BaseException as exc:  # start() raises SystemExit when the server dies
            rows += [
                {"database": kind, "group": group, "name": s.name, "skipped": f"did not start: {exc}"[:300]}
                for s in TWIN_SCENARIOS
            ]
            continue
        try:
            for scenario in TWIN_SCENARIOS:
                print(f"  {kind} twin {name}: {scenario.name} ...", flush=True)
                base = f"http://127.0.0.1:{port}"
                row = {"database": kind, "group": group, "name": scenario.name, "twin": name}
                try:
                    row.update(measure(base, scenario, user["token"], {}, pid=m.serving_pid(proc)))
                except Exception as exc:
                    row["skipped"] = f"{type(exc).__name__}: {exc}"[:300]
                rows.append(row)
        finally:
            stop(proc)
    return rows


def _cell(row: dict[str, Any] | None, bare_cpu: float | None) -> str:
    if not row or "skipped" in row or not row.get("cpu_ms"):
        return "not measured"
    times = f" ({row['cpu_ms'] / bare_cpu:.1f}x)" if bare_cpu else ""
    return f"{row['cpu_ms']:.2f} ms{times}"


def print_comparison(bare: dict[str, Any], rows: list[dict[str, Any]], twins: list[dict[str, Any]]) -> None:
    """The issue's table: server CPU ms per request (and x bare Litestar hello), PostgreSQL."""
    bare_cpu = (bare.get("/health") or {}).get("cpu_ms")
    keel = {r["name"]: r for r in rows if r.get("database") == "postgres" and r.get("group") == "core"}
    by = {(r["group"], r["name"]): r for r in twins}
    print("\nserver CPU per request, PostgreSQL (x the bare Litestar hello world of this run)")
    print(f"{'request':<36} {'Keel':>18} {'FastAPI twin':>18} {'Express+Prisma twin':>20}")
    print(f"{'bare hello (Litestar)':<36} {_cell(bare.get('/health'), bare_cpu):>18}")
    if quiet := bare.get("/health (no log)"):
        print(f"{'bare hello, no access log':<36} {_cell(quiet, bare_cpu):>18}")
    print(f"{'/health':<36} {_cell(keel.get('health'), bare_cpu):>18}")
    for scenario in TWIN_SCENARIOS:
        print(
            f"{scenario.name:<36} {_cell(keel.get(scenario.name), bare_cpu):>18} "
            f"{_cell(by.get(('fastapi', scenario.name)), bare_cpu):>18} "
            f"{_cell(by.get(('express', scenario.name)), bare_cpu):>20}"
        )
