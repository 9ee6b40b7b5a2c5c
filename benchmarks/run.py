"""`make bench`: Keel (`keel serve --workers N`) against a bare Litestar app on loopback, on SQLite and on
PostgreSQL, then start-up, the FastAPI and Express twins (benchmarks/twins/), gym and scribe.

Environment: BENCH_WORKERS (1), BENCH_DURATION seconds per scenario (10), BENCH_CONNECTIONS (32),
BENCH_THREADS (1), BENCH_LOAD (wrk; httpx forces the fallback), BENCH_GROUPS (core,gym,startup,twins,scribe,
market: the assistant's first streamed token, benchmarks/market.py),
BENCH_DATABASES (sqlite,postgres), BENCH_POSTGRES_URL (DATABASE_URL when it is PostgreSQL, else
postgresql+asyncpg://postgres@127.0.0.1:5432/keel_bench), BENCH_PIN (1: server on core 0, load on core 1),
BENCH_LOG_LEVEL (INFO), REDIS_URL (optional). Uses wrk when installed, else a small asyncio httpx load
generator. Per scenario: rps, p50, p99, the server's CPU ms per request (its /proc counters around the
run) and that CPU as a multiple of the bare Litestar hello world's in the same run. Prints the tables and
writes var/bench/results-<timestamp>.json. A group whose prerequisite is missing is reported as not
measured, with the reason, instead of stopping the run.
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

from benchmarks import measure as m
from benchmarks.scenarios import SCENARIOS, Scenario

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


WORKERS = _env_int("BENCH_WORKERS", 1)
DURATION = _env_int("BENCH_DURATION", 10)
CONNECTIONS = _env_int("BENCH_CONNECTIONS", 32)
THREADS = _env_int("BENCH_THREADS", 1)
# BENCH_LOAD=httpx forces the built-in generator (what a machine without wrk uses)
USE_WRK = bool(shutil.which("wrk")) and os.environ.get("BENCH_LOAD", "wrk") == "wrk"
GROUPS = [
    g.strip()
    for g in os.environ.get("BENCH_GROUPS", "core,gym,startup,twins,scribe,market").split(",")
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


def server_env(database_url: str) -> dict[str, str]:
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
        proc = subprocess.Popen(  # noqa: S603
            [*m.server_prefix(), *cmd], env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT
        )
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


def make_user(base: str) -> dict[str, str]:
    body = {
        "email": f"bench-user-{uuid.uuid4().hex[:12]}@bench.example",
        "password": "Bench-password-0001",
        "name": "B",
    }
    response = httpx.post(f"{base}/api/v1/auth/register", json=body, timeout=60)
    response.raise_for_status()
    return {**body, "token": response.json()["data"]["access_token"]}


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
        out = subprocess.run(  # noqa: S603
            [*m.load_prefix(), *cmd, url], capture_output=True, text=True, check=True
        ).stdout
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
    base: str,
    scenario: Scenario,
    token: str | None,
    values: dict[str, str],
    path: str | None = None,
    pid: int | None = None,
) -> dict[str, Any]:
    """One load run; with the server's `pid`, also its CPU ms per request over the run."""
    path = path or scenario.path
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    body = _body_template(scenario, values)
    meter = m.CpuMeter(pid)
    if USE_WRK:
        result = run_wrk(base + path, scenario, token, path, body)
    else:
        result = asyncio.run(_run_httpx(base + path, scenario, token, body))
    result["cpu_ms"] = meter.per_request(result.get("requests"))
    return result


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


def run_scenario(
    base: str, scenario: Scenario, token: str, values: dict[str, str], pid: int
) -> dict[str, Any]:
    before = status_counts(base)
    result = measure(base, scenario, token if scenario.auth else None, values, pid=pid)
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
                    f"http://127.0.0.1:{port}", scenario, None, {}, scenario.bare, pid=m.serving_pid(bare)
                )
    finally:
        stop(bare)
    return results


CORE_SESSIONS = 100  # the bench user's login sessions: the owner-scoped list pages 20 of them


def core_setup(base: str, email: str, password: str) -> dict[str, str]:
    """The bench user logs in until it has CORE_SESSIONS sessions (the list scenario's rows)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        for n in range(CORE_SESSIONS - 1):
            # a client address per login (loopback is a trusted proxy): the per-IP login limit stays out
            forwarded = {"X-Forwarded-For": f"10.77.{n // 256}.{n % 256}"}
            body = {"email": email, "password": password}
            client.post("/api/v1/auth/login", json=body, headers=forwarded).raise_for_status()
    return {}


def group_values(group: str, base: str, user: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    if group == "gym":
        from benchmarks import gym

        return gym.setup(base, user["token"], env["DATABASE_URL"])
    if group == "core":
        return core_setup(base, user["email"], user["password"])
    return {}


def _times_bare(row: dict[str, Any], bare_cpu: float | None) -> str:
    if not row.get("cpu_ms") or not bare_cpu:
        return "-"
    return f"{row['cpu_ms'] / bare_cpu:.1f}x"


def print_table(bare: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    bare_cpu = (bare.get("/health") or {}).get("cpu_ms")
    print(
        f"\n{'db':<9}{'group':<8}{'endpoint':<44} {'rps':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'cpu ms/req':>10} {'x bare':>7} {'non-2xx':>7}"
    )
    for path, ref in bare.items():
        print(
            f"{'-':<9}{'bare':<8}{'litestar hello world GET ' + path:<44} {ref['rps']:>7.0f} "
            f"{ref['p50_ms'] or 0:>7.2f} {ref['p99_ms'] or 0:>7.2f} {ref.get('cpu_ms') or 0:>10.3f} "
            f"{'1.0x':>7} {ref['errors']:>7}"
        )
    for row in rows:
        label = f"{row['name']}"[:44]
        db = row.get("database", "-")
        if "skipped" in row:
            print(f"{db:<9}{row['group']:<8}{label:<44} not measured: {row['skipped']}")
            continue
        print(
            f"{db:<9}{row['group']:<8}{label:<44} {row['rps']:>7.0f} {row['p50_ms'] or 0:>7.2f} "
            f"{row['p99_ms'] or 0:>7.2f} {row.get('cpu_ms') or 0:>10.3f} {_times_bare(row, bare_cpu):>7} "
            f"{row['errors']:>7}"
        )
        if row.get("non_2xx_by_status"):
            print(f"{'':<16}  non-2xx by status: {row['non_2xx_by_status']}")
        if row.get("drain_s", 0) > 1:
            print(f"{'':<16}  the server needed {row['drain_s']} s more to finish the requests still queued")


def print_startup(startup: dict[str, Any]) -> None:
    if "skipped" in startup:
        print(f"\nstart-up: not measured: {startup['skipped']}")
        return
    runs = ", ".join(f"{r['cpu_s']}/{r['wall_s']}/{r['rss_mb']}" for r in startup["runs"])
    print(
        f"\nstart-up to the first 200 on /health ({len(startup['runs'])} runs, all apps, "
        f"{startup['database']}): "
        f"median CPU {startup['cpu_s']} s, wall {startup['wall_s']} s, RSS {startup['rss_mb']} MB "
        f"(cpu s/wall s/RSS MB per run: {runs})"
    )


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


def prepare_database(kind: str) -> dict[str, str]:
    """A migrated database of KIND: SQLite starts fresh, PostgreSQL (created when missing) is reused."""
    url = database_url(kind)
    env = server_env(url)
    if kind == "sqlite":
        for leftover in OUT.glob("bench.db*"):
            leftover.unlink()
    else:
        from benchmarks.twins import ensure_postgres_database

        ensure_postgres_database(url)
    subprocess.run([str(BIN / "keel"), "migrate"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return env


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


def run_startup(env: dict[str, str], kind: str) -> dict[str, Any]:
    def command(port: int) -> list[str]:
        return [*m.server_prefix(), str(BIN / "keel"), "serve", "--workers", "1", "--port", str(port)]

    try:
        result = m.startup_runs(command, env, OUT / "startup.log", ROOT)
    except Exception as exc:
        return {"skipped": f"{type(exc).__name__}: {exc}"[:300]}
    return {**result, "database": kind}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "storage", ignore_errors=True)
    (OUT / "prometheus").mkdir(exist_ok=True)
    tool = "wrk" if USE_WRK else "httpx (install wrk for higher load)"
    print(
        f"load: {tool}, {DURATION}s per scenario, {CONNECTIONS} connections, {WORKERS} worker(s), "
        f"pinned {'server core 0, load core 1' if m.PIN else 'no'}; databases {','.join(DATABASES)}, "
        f"redis {'yes' if os.environ.get('REDIS_URL') else 'no'}; groups {','.join(GROUPS)}"
    )
    first_env = server_env(database_url(DATABASES[0]))
    wants_load = any(s.group in GROUPS for s in SCENARIOS)
    bare = (
        bare_baseline(first_env) if wants_load and any(s.bare for s in SCENARIOS if s.group in GROUPS) else {}
    )
    rows: list[dict[str, Any]] = []
    scribe_result: dict[str, Any] = {}
    startup: dict[str, Any] = {}
    twins: list[dict[str, Any]] = []
    market_result: dict[str, Any] = {}
    for index, kind in enumerate(DATABASES):
        try:
            env = prepare_database(kind)
        except Exception as exc:
            rows.append({"database": kind, "group": "-", "name": "(database)", "skipped": str(exc)[:300]})
            continue
        if "startup" in GROUPS and index == 0:
            print(f"  start-up: 5 cold starts on {kind} ...", flush=True)
            startup = run_startup(env, kind)
        user: dict[str, str] | None = None
        if wants_load or ("scribe" in GROUPS and index == 0) or "twins" in GROUPS:
            keel_rows, scribe_part, user = run_keel(kind, env, "scribe" in GROUPS and index == 0)
            rows += keel_rows
            scribe_result = scribe_result or scribe_part
        if "twins" in GROUPS and user is not None:
            from benchmarks import twins as twin_bench

            twins += twin_bench.run(kind, env, user, measure)
        if "market" in GROUPS and index == 0:
            from benchmarks import market as market_bench

            print(
                f"  market: assistant's first token, local engine and model server, on {kind} ...", flush=True
            )
            market_result = {"database": kind, **market_bench.run_all(prepare_database(kind))}

    if rows or bare:
        print_table(bare, rows + twins)
    if twins:
        from benchmarks import twins as twin_bench

        twin_bench.print_comparison(bare, rows, twins)
    if startup:
        print_startup(startup)
    if scribe_result:
        print_scribe(scribe_result)
    if market_result:
        from benchmarks import market as market_bench

        market_bench.print_table(market_result)
    errors: dict[str, int] = {}
    for kind in DATABASES:
        errors.update(server_errors(OUT / f"server-{kind}.log"))
    if market_result:
        for scenario in ("local", "model"):
            errors.update(server_errors(OUT / f"server-market-{scenario}.log"))
    if errors:
        print("\nunhandled errors in var/bench/server-*.log:")
        for what, count in errors.items():
            print(f"  {count:>5} x {what}")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = OUT / f"results-{stamp}.json"
    meta = {
        "workers": WORKERS,
        "duration_s": DURATION,
        "connections": CONNECTIONS,
        "tool": tool,
        "pinned": m.PIN,
        "databases": DATABASES,
        "redis": bool(os.environ.get("REDIS_URL")),
        "log_level": first_env["LOG_LEVEL"],
        "groups": GROUPS,
        "load_average": os.getloadavg(),
    }
    result = {
        "meta": meta,
        "bare": bare,
        "results": rows,
        "twins": twins,
        "startup": startup,
        "scribe": scribe_result,
        "market": market_result,
        "server_errors": errors,
    }
    path.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
