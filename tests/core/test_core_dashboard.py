"""The Grafana dashboard (deploy/grafana/keel-dashboard.json) is built only on series that exist: every
metric name in its expressions is in the /metrics of a real `keel serve` after ordinary traffic, with the
multi-process registry (which lists only series that were written) and with one worker's in-process one."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "keel-dashboard.json"
KEEL = str(Path(sys.executable).with_name("keel"))
METRIC = re.compile(r"\b(?:keel|process|python)_[a-zA-Z0-9_]+")


def expressions() -> list[str]:
    def walk(panels: list[dict]) -> list[str]:  # type: ignore[type-arg]
        found: list[str] = []
        for panel in panels:
            found += [t["expr"] for t in panel.get("targets", [])]
            found += walk(panel.get("panels", []))
        return found

    dashboard = json.loads(DASHBOARD.read_text())
    variables = [v["definition"] for v in dashboard["templating"]["list"] if v.get("definition")]
    return walk(dashboard["panels"]) + variables


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expr)  # label values such as "5.." are not metric names
    return set(METRIC.findall(without_labels))


def test_dashboard_covers_every_area_of_the_issue() -> None:
    names = set().union(*(metric_names(e) for e in expressions()))
    for wanted in (
        "keel_http_requests_total",
        "keel_http_request_duration_seconds_bucket",
        "keel_db_pool_size",
        "keel_db_pool_checked_out",
        "keel_db_pool_overflow",
        "keel_db_query_duration_seconds_bucket",
        "keel_cache_requests_total",
        "keel_job_duration_seconds_bucket",
        "keel_jobs_queue_depth",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "keel_realtime_subscribers",
    ):
        assert wanted in names, wanted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("multiprocess", [True, False], ids=["multiprocess", "one-worker-in-process"])
def test_every_metric_in_the_dashboard_is_in_a_live_metrics_output(
    settings, tmp_path: Path, multiprocess: bool
) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "OTEL_"))}
    env.update(
        KEEL_ENV="test",
        KEEL_APPS="gym",
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url,
        JWT_SECRET="test-only-secret-that-is-long-enough-0123456789",  # noqa: S106
        LOG_LEVEL="WARNING",
        RATE_LIMIT_AUTH="3/minute",
        JOBS_IN_SERVER="true",
        JOBS_POLL_INTERVAL="0.2",
        JOBS_RECOVER_INTERVAL="1",  # the stalled-job sweep: a job every second, so job series exist
        STORAGE_URL=f"file://{tmp_path}/storage",
    )
    if multiprocess:  # a folder given (as for several workers, or a `keel worker` sharing it)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    # else one worker and no folder: `keel serve` keeps the samples in its own registry
    cmd = [KEEL, "serve", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "keel serve did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as client:
            account = {"email": "dash@example.com", "password": "Dashboard-password-01", "name": "D"}
            registered = client.post("/api/v1/auth/register", json=account)
            assert registered.status_code == 201, registered.text
            headers = {"Authorization": f"Bearer {registered.json()['data']['access_token']}"}
            assert client.get("/api/v1/users/me", headers=headers).status_code == 200
            assert client.get("/api/v1/gym/exercises", headers=headers).status_code == 200  # the cache
            assert client.get("/api/v1/nowhere").status_code == 404
            wrong = {"email": "dash@example.com", "password": "not-the-password-00"}
            codes = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(4)]
            assert 429 in codes, codes  # a rate limit refusal
            deadline = time.monotonic() + 30
            while "keel_job_duration_seconds_bucket" not in (text := client.get("/metrics").text):
                assert time.monotonic() < deadline, "no job ran"
                time.sleep(0.5)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

    live = {line.split("{", 1)[0].split(" ", 1)[0] for line in text.splitlines() if line and line[0] != "#"}
    used = set().union(*(metric_names(e) for e in expressions()))
    assert len(used) >= 15
    missing = sorted(used - live)
    assert not missing, f"the dashboard uses series /metrics does not have: {missing}"
