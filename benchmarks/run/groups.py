"""The runs: the bare baseline, every load scenario of the wanted groups against one `keel serve`, and
start-up. A group that needs data prepared first (its scenarios' `{values}`) names its set-up in
GROUP_SETUPS: `setup(base, user, env) -> values`."""

from __future__ import annotations

import compileall
import os
import shutil
import sys
import traceback
from collections.abc import Callable
from typing import Any

import httpx

from benchmarks import measure as m
from benchmarks.run.config import BIN, GROUPS, OUT, ROOT, WORKERS, free_port
from benchmarks.run.load import measure, run_scenario
from benchmarks.run.server import make_user, start, stop
from benchmarks.scenarios import SCENARIOS


def bare_baseline(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The bare Litestar hello world under uvicorn with its access log on, as every server of the run has
    (Keel's own access log, the FastAPI twin's uvicorn log, the Express twin's line per request): the
    reference of the `x bare` ratios. The same app without its access log is measured too and printed as a
    second row, for the cost of a log line alone (~0.05 ms here)."""
    results: dict[str, dict[str, Any]] = {}
    servers = (("", ["--log-level", "info"]), (QUIET, ["--no-access-log", "--log-level", "warning"]))
    for label, flags in servers:
        port = free_port()
        cmd = [
            sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", "--port", str(port),
            "--workers", str(WORKERS), *flags,
        ]  # fmt: skip
        bare = start(cmd, env, port, OUT / f"bare-server{label.replace(' ', '-')}.log")
        try:
            for scenario in SCENARIOS:
                if scenario.group in GROUPS and scenario.bare and scenario.bare + label not in results:
                    results[scenario.bare + label] = measure(
                        f"http://127.0.0.1:{port}", scenario, None, {}, scenario.bare, pid=m.serving_pid(bare)
                    )
        finally:
            stop(bare)
    return results


QUIET = " (no log)"  # the key suffix of the bare rows measured without an access log


CORE_SESSIONS = 100  # the bench user's login sessions: the owner-scoped list pages 20 of them
CORE_POSTS = 100  # the bench user's segmint posts (two tags each): the content list pages 20 of them


def core_setup(base: str, email: str, password: str, token: str) -> dict[str, str]:
    """The bench user logs in until it has CORE_SESSIONS sessions and writes CORE_POSTS posts (the list
    scenarios' rows)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(CORE_SESSIONS - 1):
            # a client address per login (loopback is a trusted proxy): the per-IP login limit stays out
            forwarded = {"X-Forwarded-For": f"10.77.{n // 256}.{n % 256}"}
            body = {"email": email, "password": password}
            client.post("/api/v1/auth/login", json=body, headers=forwarded).raise_for_status()
        auth = {"Authorization": f"Bearer {token}"}
        for n in range(CORE_POSTS):
            post = {"text": f"Bench list post {n}", "tone": "friendly", "tags": ["bench", f"t{n % 7}"]}
            client.post("/api/v1/segmint/content", json=post, headers=auth).raise_for_status()
    return {}


def _gym_setup(base: str, user: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    from benchmarks import gym

    return gym.setup(base, user["token"], env["DATABASE_URL"])


# group -> its set-up (base URL, the bench user {email, password, token}, the server's env) -> values
GROUP_SETUPS: dict[str, Callable[[str, dict[str, str], dict[str, str]], dict[str, str]]] = {
    "core": lambda base, user, _env: core_setup(base, user["email"], user["password"], user["token"]),
    "gym": _gym_setup,
}


def group_values(group: str, base: str, user: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    setup = GROUP_SETUPS.get(group)
    return setup(base, user, env) if setup else {}


def run_keel(kind: str, env: dict[str, str], scribe_wanted: bool) -> tuple[list[dict[str, Any]], Any, Any]:
    """Every load scenario of the wanted groups against one `keel serve` on database KIND."""
    rows: list[dict[str, Any]] = []
    scribe_result: dict[str, Any] = {}
    port = free_port()
    serve = [str(BIN / "keel"), "serve", "--workers", str(WORKERS), "--port", str(port)]
    keel = start(serve, env, port, OUT / f"server-{kind}.log")
    base, pid = f"http://127.0.0.1:{port}", m.serving_pid(keel)
    try:
        user = make_user(base)
        for group in dict.fromkeys(s.group for s in SCENARIOS if s.group in GROUPS):
            scenarios = [s for s in SCENARIOS if s.group == group]
            try:
                values = group_values(group, base, user, env)
            except Exception as exc:  # a missing prerequisite is reported, the other groups still run
                traceback.print_exc()
                reason = f"set-up failed: {type(exc).__name__}: {exc}"[:300]
                rows += [
                    {"database": kind, "group": group, "name": s.name, "skipped": reason} for s in scenarios
                ]
                continue
            for scenario in scenarios:
                print(f"  {kind} {group}: {scenario.name} ...", flush=True)
                row: dict[str, Any] = {
                    "database": kind,
                    "group": group,
                    "name": scenario.name,
                    "endpoint": f"{scenario.method} {scenario.path}",
                }
                try:
                    row.update(run_scenario(base, scenario, user["token"], values, pid))
                except Exception as exc:
                    row["skipped"] = f"{type(exc).__name__}: {exc}"[:300]
                rows.append(row)
        if scribe_wanted:
            print("  scribe: realtime factor of each engine, WER suite, 1 GB upload ...", flush=True)
            from benchmarks import scribe

            try:
                scribe_result = scribe.run(base, user["token"], keel.pid)
            except Exception as exc:
                traceback.print_exc()
                scribe_result = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        stop(keel)
        shutil.rmtree(OUT / "storage", ignore_errors=True)
    return rows, scribe_result, user


def compile_sources() -> bool:
    """Byte-compile Keel's own modules first, as an installed server has them (`make install`, the
    Dockerfile): with PYTHONDONTWRITEBYTECODE=1 and no `__pycache__` in src/, every start would compile
    ~470 modules from source (~0.8 s of CPU on this machine), a cost no deployed server pays.
    BENCH_COMPILE=0 measures the uncompiled start instead."""
    if os.environ.get("BENCH_COMPILE", "1") == "0":
        return False
    return compileall.compile_dir(str(ROOT / "src" / "keel"), quiet=1, workers=1)


def run_startup(env: dict[str, str], kind: str) -> dict[str, Any]:
    def command(port: int) -> list[str]:
        return [*m.server_prefix(), str(BIN / "keel"), "serve", "--workers", "1", "--port", str(port)]

    compiled = compile_sources()
    try:
        result = m.startup_runs(command, env, OUT / "startup.log", ROOT)
    except Exception as exc:
        return {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    return {**result, "database": kind, "bytecode": "compiled" if compiled else "from source"}
