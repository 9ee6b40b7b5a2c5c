"""Load generators (wrk, or a small asyncio httpx one) and one measured scenario run: rps, p50, p99, the
server's CPU ms per request, and the non-2xx answers by status from the server's /metrics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from typing import Any

import httpx

from benchmarks import measure as m
from benchmarks.run.config import CONNECTIONS, DURATION, THREADS, USE_WRK, WARMUP
from benchmarks.scenarios import Scenario

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


def run_wrk(
    url: str, scenario: Scenario, token: str | None, path: str, body: str, seconds: int = DURATION
) -> dict[str, Any]:
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
        f"{seconds}s",
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
    if USE_WRK and WARMUP > 0:
        run_wrk(base + path, scenario, token, path, body, seconds=WARMUP)
        drain(base)
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
