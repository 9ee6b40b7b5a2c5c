"""`make bench`: Keel (`keel serve --workers N`) against a bare Litestar app on loopback, then gym and scribe.

Environment: BENCH_WORKERS (1), BENCH_DURATION seconds per scenario (10), BENCH_CONNECTIONS (32),
BENCH_THREADS (2), BENCH_LOAD (wrk; httpx forces the fallback), BENCH_GROUPS (core,gym,scribe),
BENCH_LOG_LEVEL (INFO), DATABASE_URL (default: a fresh SQLite database under var/bench), REDIS_URL
(optional). Uses wrk when installed, else a small asyncio httpx load generator. Prints a table and writes
var/bench/results-<timestamp>.json. A group whose prerequisite is missing is reported as not measured,
with the reason, instead of stopping the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
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
# BENCH_LOAD=httpx forces the built-in generator (what a machine without wrk uses)
USE_WRK = bool(shutil.which("wrk")) and os.environ.get("BENCH_LOAD", "wrk") == "wrk"
GROUPS = [g.strip() for g in os.environ.get("BENCH_GROUPS", "core,gym,scribe").split(",") if g.strip()]


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
        # production refuses to start without a Fernet key while segmint is served; a fixed bench-only one
        SEGMINT_ENCRYPTION_KEY=env.get("SEGMINT_ENCRYPTION_KEY")
        or "YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=",
        LOG_LEVEL=env.get("BENCH_LOG_LEVEL", "INFO"),
        # one client drives everything: the limiter still runs on every request, it just never refuses
        RATE_LIMIT_MAX=str(10**9),
        RATE_LIMIT_WINDOW="1",
        RATE_LIMIT_AUTH="1000000000/second",
        JOBS_IN_SERVER="false",
        PROMETHEUS_MULTIPROC_DIR=str(OUT / "prometheus"),
        STORAGE_URL=f"file://{OUT / 'storage'}",
    )
    return env


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server; its output (JSON log lines, tracebacks) goes to `log`, never to an undrained pipe."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server failed: {log.read_text()[-3000:]}")
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
        "email": f"bench-user-{uuid.uuid4().hex[:12]}@bench.example",
        "password": "Bench-password-0001",
        "name": "B",
    }
    response = httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=60)
    response.raise_for_status()
    return response.json()["data"]["access_token"]


# --------------------------------------------------------------------------- load generators

_WRK_LUA = """
local counter = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) counter = tonumber(tid) * 10000000000 end
request = function()
  counter = counter + 1
  local body = nil
  if BODY ~= "" then
    body = string.gsub(BODY, "{n}", RUN .. tostring(counter))
    body = string.gsub(body, "{uuid}", RUN .. "-0000-4000-8000-" .. string.format("%012d", counter))
  end
  if SPREAD then
    local c = counter % 16777216
    local a, b = math.floor(c / 65536), math.floor(c / 256) % 256
    HEADERS["X-Forwarded-For"] = string.format("10.%d.%d.%d", a, b, c % 256)
  end
  return wrk.format(METHOD, PATH, HEADERS, body)
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _body_template(scenario: Scenario, values: dict[str, str]) -> str:
    """The body with set-up values filled in and `{{`/`}}` unescaped; `{n}`/`{uuid}` stay per request."""
    if not scenario.body:
        return ""
    body = scenario.body
    for key, value in values.items():
        body = body.replace("{" + key + "}", value)
    return body.replace("{{", "{").replace("}}", "}")


def run_wrk(url: str, scenario: Scenario, token: str | None, path: str, body: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    lua = (
        f"METHOD = {json.dumps(scenario.method)}\nPATH = {json.dumps(path)}\nBODY = {json.dumps(body)}\n"
        f"RUN = {json.dumps(secrets.token_hex(4))}\n"
        f"SPREAD = {'true' if scenario.spread_clients else 'false'}\n"
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
        "--timeout",
        "60s",  # slow endpoints must show as slow, not vanish as wrk's default 2 s timeouts
        "--latency",
        "-s",
        script.name,
    ]
    try:
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {
        m.group(1): _ms(m.group(2), m.group(3)) for m in re.finditer(r"\s(50|99)%\s+([\d.]+)(us|ms|s|m)", out)
    }
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "requests": int(done.group(1)) if done else None,
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
        "errors": (int(non2xx.group(1)) if non2xx else 0)
        + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0),
    }


async def _run_httpx(url: str, scenario: Scenario, token: str | None, body: str) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    errors = 0
    run = secrets.token_hex(4)
    counter = 0
    deadline = time.perf_counter() + DURATION
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                content = (
                    body.replace("{n}", f"{run}{counter}").replace(
                        "{uuid}", f"{run}-0000-4000-8000-{counter:012d}"
                    )
                    if body
                    else None
                )
                if scenario.spread_clients:
                    headers["X-Forwarded-For"] = (
                        f"10.{counter // 65536 % 256}.{counter // 256 % 256}.{counter % 256}"
                    )
                started = time.perf_counter()
                response = await client.request(scenario.method, url, headers=dict(headers), content=content)
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

    return {
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def measure(
    base: str, scenario: Scenario, token: str | None, values: dict[str, str], path: str | None = None
) -> dict[str, Any]:
    path = path or scenario.path
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    body = _body_template(scenario, values)
    if USE_WRK:
        return run_wrk(base + path, scenario, token, path, body)
    return asyncio.run(_run_httpx(base + path, scenario, token, body))


_SAMPLE = re.compile(
    r'^keel_http_requests_total\{method="([^"]+)",route="([^"]+)",status="(\d+)"\} ([\d.e+]+)$'
)


def status_counts(base: str) -> Counter[tuple[str, str, str]]:
    """Requests served so far by (method, route template, status), from the server's /metrics."""
    counts: Counter[tuple[str, str, str]] = Counter()
    try:
        text = httpx.get(f"{base}/metrics", timeout=30).text
    except httpx.HTTPError:
        return counts
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            counts[match.group(1), match.group(2), match.group(3)] += int(float(match.group(4)))
    return counts


_IN_FLIGHT = re.compile(r"^keel_http_requests_in_flight(?:\{[^}]*\})? ([\d.e+-]+)$", re.MULTILINE)


def drain(base: str, timeout: float = 300.0) -> float:
    """Wait until the server has finished what the last scenario left queued (wrk stops sending, the
    server does not stop working): otherwise the next scenario measures the previous one's backlog.
    Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            text = httpx.get(f"{base}/metrics", timeout=timeout).text
        except httpx.HTTPError:
            break
        in_flight = sum(float(m.group(1)) for m in _IN_FLIGHT.finditer(text))
        if in_flight <= 1:  # the /metrics request itself
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def run_scenario(base: str, scenario: Scenario, token: str, values: dict[str, str]) -> dict[str, Any]:
    before = status_counts(base)
    result = measure(base, scenario, token if scenario.auth else None, values)
    result["drain_s"] = drain(base)
    after = status_counts(base)
    statuses: Counter[str] = Counter()
    for (method, route, status), count in (after - before).items():
        if method == scenario.method and route != "/metrics" and not status.startswith("2"):
            statuses[status] += count
    result["non_2xx_by_status"] = dict(sorted(statuses.items()))
    return result


# --------------------------------------------------------------------------- the run


def bare_baseline(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", "--port", str(port),
        "--workers", str(WORKERS), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    bare = start(cmd, env, port, OUT / "bare-server.log")
    results: dict[str, dict[str, Any]] = {}
    try:
        for scenario in SCENARIOS:
            if scenario.group in GROUPS and scenario.bare and scenario.bare not in results:
                results[scenario.bare] = measure(
                    f"http://127.0.0.1:{port}", scenario, None, {}, scenario.bare
                )
    finally:
        stop(bare)
    return results


def group_values(group: str, base: str, token: str, env: dict[str, str]) -> dict[str, str]:
    if group == "gym":
        from benchmarks import gym

        return gym.setup(base, token, env["DATABASE_URL"])
    return {}


def print_table(bare: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    print(
        f"\n{'group':<7}{'endpoint':<46} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'vs bare':>8}"
    )
    for path, ref in bare.items():
        print(
            f"{'bare':<7}{'litestar hello world GET ' + path:<46} {ref['rps']:>8.0f} "
            f"{ref['p50_ms'] or 0:>8.2f} "
            f"{ref['p99_ms'] or 0:>8.2f} {ref['errors']:>8}"
        )
    for row in rows:
        label = f"{row['name']}"[:46]
        if "skipped" in row:
            print(f"{row['group']:<7}{label:<46} not measured: {row['skipped']}")
            continue
        ratio = f"{row['ratio_vs_bare']:.0%}" if row.get("ratio_vs_bare") else "-"
        print(
            f"{row['group']:<7}{label:<46} {row['rps']:>8.0f} {row['p50_ms'] or 0:>8.2f} "
            f"{row['p99_ms'] or 0:>8.2f} {row['errors']:>8} {ratio:>8}"
        )
        if row.get("non_2xx_by_status"):
            print(f"{'':<7}  non-2xx by status: {row['non_2xx_by_status']}")
        if row.get("drain_s", 0) > 1:
            print(f"{'':<7}  the server needed {row['drain_s']} s more to finish the requests still queued")


def server_errors(log: Path) -> dict[str, int]:
    """Unhandled errors in the server's JSON log, by route and the exception's last line."""
    errors: Counter[str] = Counter()
    if not log.exists():
        return {}
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if '"unhandled_error"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            last = (entry.get("exception") or "").strip().splitlines()[-1:] or ["?"]
            errors[f"{entry.get('path', '?')}: {last[0][:160]}"] += 1
    return dict(errors.most_common())


def print_scribe(scribe: dict[str, Any]) -> None:
    if "skipped" in scribe:
        print(f"\nscribe: not measured: {scribe['skipped']}")
        return
    print(f"\n{'scribe engine':<20} {'audio s':>8} {'took s':>8} {'RTF':>7} {'words':>6}")
    for row in scribe["engines"]:
        if "skipped" in row:
            print(f"{row['engine']:<20} not measured: {row['skipped']}")
        else:
            print(
                f"{row['engine']:<20} {row['audio_s']:>8} {row['processing_s']:>8.2f} "
                f"{row['realtime_factor']:>7.3f} {row['words']:>6}"
            )
    if "wer" in scribe:
        from benchmarks import scribe_wer

        scribe_wer.print_table(scribe["wer"])
    from benchmarks import scribe as scribe_bench

    scribe_bench.print_media_tables(scribe)  # speaker turns, the 60-minute file
    up = scribe["upload"]
    if "skipped" in up:
        print(f"upload: not measured: {up['skipped']}")
        return
    print(
        f"upload {up['bytes'] / 1024**3:.1f} GB (multipart, streamed): HTTP {up['status']}, "
        f"{up['seconds']} s, "
        f"{up['mb_per_s']} MB/s; server RSS idle {up['idle_rss_mb']} MB, peak {up['peak_rss_mb']} MB "
        f"(+{up['peak_over_idle_mb']} MB over idle)"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    env = server_env()
    if env["DATABASE_URL"].startswith("sqlite"):
        for leftover in OUT.glob("bench.db*"):
            leftover.unlink()
    shutil.rmtree(OUT / "storage", ignore_errors=True)
    (OUT / "prometheus").mkdir(exist_ok=True)
    subprocess.run([str(BIN / "keel"), "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    tool = "wrk" if USE_WRK else "httpx (install wrk for higher load)"
    database = env["DATABASE_URL"].split(":", 1)[0]
    print(
        f"load: {tool}, {DURATION}s per scenario, {CONNECTIONS} connections, {WORKERS} worker(s); "
        f"database {database}, redis {'yes' if env.get('REDIS_URL') else 'no'}; groups {','.join(GROUPS)}"
    )

    bare = bare_baseline(env) if any(s.bare for s in SCENARIOS if s.group in GROUPS) else {}
    rows: list[dict[str, Any]] = []
    scribe_result: dict[str, Any] = {}
    port = free_port()
    serve = [str(BIN / "keel"), "serve", "--workers", str(WORKERS), "--port", str(port)]
    keel = start(serve, env, port, OUT / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        token = make_user(base)
        for group in dict.fromkeys(s.group for s in SCENARIOS if s.group in GROUPS):
            scenarios = [s for s in SCENARIOS if s.group == group]
            try:
                values = group_values(group, base, token, env)
            except Exception as exc:  # a missing prerequisite is reported, the other groups still run
                traceback.print_exc()
                reason = f"set-up failed: {type(exc).__name__}: {exc}"[:300]
                rows += [{"group": group, "name": s.name, "skipped": reason} for s in scenarios]
                continue
            for scenario in scenarios:
                print(f"  {group}: {scenario.name} ...", flush=True)
                row: dict[str, Any] = {
                    "group": group,
                    "name": scenario.name,
                    "endpoint": f"{scenario.method} {scenario.path}",
                }
                try:
                    row.update(run_scenario(base, scenario, token, values))
                except Exception as exc:
                    row["skipped"] = f"{type(exc).__name__}: {exc}"[:300]
                if scenario.bare and "rps" in row and bare.get(scenario.bare, {}).get("rps"):
                    row["bare_rps"] = bare[scenario.bare]["rps"]
                    row["ratio_vs_bare"] = round(row["rps"] / row["bare_rps"], 3)
                rows.append(row)
        if "scribe" in GROUPS:
            print("  scribe: realtime factor of each engine, WER suite, 1 GB upload ...", flush=True)
            from benchmarks import scribe

            try:
                scribe_result = scribe.run(base, token, keel.pid)
            except Exception as exc:
                traceback.print_exc()
                scribe_result = {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        stop(keel)
        shutil.rmtree(OUT / "storage", ignore_errors=True)

    if rows or bare:
        print_table(bare, rows)
    if scribe_result:
        print_scribe(scribe_result)
    errors = server_errors(OUT / "server.log")
    if errors:
        print("\nunhandled errors in var/bench/server.log:")
        for what, count in errors.items():
            print(f"  {count:>5} x {what}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = OUT / f"results-{stamp}.json"
    meta = {
        "workers": WORKERS,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "tool": tool,
        "database": database,
        "redis": bool(env.get("REDIS_URL")),
        "log_level": env["LOG_LEVEL"],
        "groups": GROUPS,
        "load_average": os.getloadavg(),
    }
    path.write_text(
        json.dumps(
            {"meta": meta, "bare": bare, "results": rows, "scribe": scribe_result, "server_errors": errors},
            indent=2,
        )
    )
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
