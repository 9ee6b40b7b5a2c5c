"""`make bench`: Keel (`keel serve --workers N`) against a bare Litestar app on loopback.

Environment: BENCH_WORKERS (1), BENCH_DURATION seconds per scenario (10), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), DATABASE_URL (default: a fresh SQLite database under var/bench), REDIS_URL (optional).
Uses wrk when installed, else a small asyncio httpx load generator. Prints a table and writes
var/bench/results-<timestamp>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.scenarios import SCENARIOS, Scenario

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


WORKERS = _env_int("BENCH_WORKERS", 1)
DURATION = _env_int("BENCH_DURATION", 10)
CONNECTIONS = _env_int("BENCH_CONNECTIONS", 32)
THREADS = _env_int("BENCH_THREADS", 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{OUT / 'bench.db'}"
    installed = [p.parent.name for p in sorted((ROOT / "src" / "keel" / "apps").glob("*/plugin.py"))]
    env.update(
        KEEL_APPS=env.get("KEEL_APPS", ",".join(installed)),
        DATABASE_URL=database_url,
        KEEL_ENV=env.get("BENCH_KEEL_ENV", "production"),
        JWT_SECRET=env.get("JWT_SECRET") or "bench-only-secret-0123456789abcdefghijklmnop",
        LOG_LEVEL=env.get("BENCH_LOG_LEVEL", "INFO"),
        # one client drives everything: the limiter still runs on every request, it just never refuses
        RATE_LIMIT_MAX=str(10**9),
        RATE_LIMIT_WINDOW="1",
        RATE_LIMIT_AUTH="1000000000/second",
        JOBS_IN_SERVER="false",
        PROMETHEUS_MULTIPROC_DIR=str(OUT / "prometheus"),
    )
    return env


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server failed: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def make_user(base: str) -> str:
    body = {
        "email": f"bench-user-{int(time.time())}@bench.example",
        "password": "Bench-password-0001",
        "name": "B",
    }
    response = httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=30)
    response.raise_for_status()
    return response.json()["data"]["access_token"]


_WRK_LUA = """
local counter = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) counter = tonumber(tid) * 100000000 + os.time() % 100000 * 1000 end
request = function()
  counter = counter + 1
  local body = nil
  if BODY ~= "" then body = string.gsub(BODY, "{n}", tostring(counter)) end
  return wrk.format(METHOD, PATH, HEADERS, body)
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, scenario: Scenario, token: str | None, path: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    template = scenario.body.replace("{{", "{").replace("}}", "}") if scenario.body else ""
    lua = (
        f"METHOD = {json.dumps(scenario.method)}\nPATH = {json.dumps(path)}\nBODY = {json.dumps(template)}\n"
        f"HEADERS = {{{', '.join(f'[{json.dumps(k)}] = {json.dumps(v)}' for k, v in headers.items())}}}\n"
        + _WRK_LUA
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    cmd = [
        "wrk",
        "-t",
        str(THREADS),
        "-c",
        str(CONNECTIONS),
        "-d",
        f"{DURATION}s",
        "--latency",
        "-s",
        script.name,
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {
        m.group(1): _ms(m.group(2), m.group(3)) for m in re.finditer(r"\s(50|99)%\s+([\d.]+)(us|ms|s|m)", out)
    }
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


async def _run_httpx(url: str, scenario: Scenario, token: str | None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    errors = 0
    counter = int(time.time()) % 100000 * 100000
    deadline = time.perf_counter() + DURATION
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                content = (
                    scenario.body.replace("{{", "{").replace("}}", "}").replace("{n}", str(counter))
                    if scenario.body
                    else None
                )
                started = time.perf_counter()
                response = await client.request(scenario.method, url, headers=headers, content=content)
                latencies.append(time.perf_counter() - started)
                errors += response.status_code >= 400

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float | None:
        return (
            round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 2)
            if latencies
            else None
        )

    return {"rps": len(latencies) / elapsed, "p50_ms": pct(0.5), "p99_ms": pct(0.99), "errors": errors}


def measure(base: str, scenario: Scenario, token: str | None, path: str | None = None) -> dict[str, Any]:
    path = path or scenario.path
    if shutil.which("wrk"):
        return run_wrk(base + path, scenario, token, path)
    return asyncio.run(_run_httpx(base + path, scenario, token))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    env = server_env()
    if env["DATABASE_URL"].startswith("sqlite"):
        for leftover in OUT.glob("bench.db*"):
            leftover.unlink()
    (OUT / "prometheus").mkdir(exist_ok=True)
    subprocess.run([str(BIN / "keel"), "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    tool = "wrk" if shutil.which("wrk") else "httpx (install wrk for higher load)"
    print(f"load: {tool}, {DURATION}s per scenario, {CONNECTIONS} connections, {WORKERS} worker(s)")

    results: list[dict[str, Any]] = []
    bare_port = free_port()
    bare_cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.bare_app:app",
        "--port",
        str(bare_port),
        "--workers",
        str(WORKERS),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    bare = start(bare_cmd, env, bare_port)
    bare_results: dict[str, dict[str, Any]] = {}
    try:
        for scenario in SCENARIOS:
            if scenario.bare and scenario.bare not in bare_results:
                bare_results[scenario.bare] = measure(
                    f"http://127.0.0.1:{bare_port}", scenario, None, scenario.bare
                )
    finally:
        stop(bare)

    port = free_port()
    keel = start([str(BIN / "keel"), "serve", "--workers", str(WORKERS), "--port", str(port)], env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        token = make_user(base)
        for scenario in SCENARIOS:
            result = measure(base, scenario, token if scenario.auth else None)
            row = {"endpoint": f"{scenario.method} {scenario.path}", "name": scenario.name, **result}
            if scenario.bare:
                ref = bare_results[scenario.bare]
                row["bare_rps"] = ref["rps"]
                row["ratio_vs_bare"] = round(result["rps"] / ref["rps"], 3) if ref["rps"] else None
            results.append(row)
    finally:
        stop(keel)

    print(f"\n{'endpoint':<44} {'rps':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}")
    for ref_path, ref in bare_results.items():
        print(
            f"{'bare litestar GET ' + ref_path:<44} {ref['rps']:>10.0f} {ref['p50_ms'] or 0:>8.2f} "
            f"{ref['p99_ms'] or 0:>8.2f} {ref['errors']:>7}"
        )
    for row in results:
        ratio = f"{row['ratio_vs_bare']:.0%}" if row.get("ratio_vs_bare") else "-"
        print(
            f"{row['endpoint'][:44]:<44} {row['rps']:>10.0f} {row['p50_ms'] or 0:>8.2f} "
            f"{row['p99_ms'] or 0:>8.2f} {row['errors']:>7} {ratio:>8}"
        )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = OUT / f"results-{stamp}.json"
    meta = {
        "workers": WORKERS,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "tool": tool,
        "database": env["DATABASE_URL"].split(":", 1)[0],
        "redis": bool(env.get("REDIS_URL")),
    }
    path.write_text(json.dumps({"meta": meta, "bare": bare_results, "results": results}, indent=2))
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
