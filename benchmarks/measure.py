"""What a bench run reads from the operating system: a process's CPU time and RSS (from /proc), core
pinning (taskset), and the start-up scenario (CPU and wall seconds to the first 200 on /health, RSS).

Server CPU per request is the figure that stays stable on a shared machine: throughput on a free core
is about 1000 / (CPU ms per request), whatever else the machine is doing.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

CLK_TCK = os.sysconf("SC_CLK_TCK")
# BENCH_PIN=0 turns pinning off; otherwise the server gets core 0 and the load generator core 1
PIN = os.environ.get("BENCH_PIN", "1") != "0" and shutil.which("taskset") is not None and os.cpu_count() != 1
SERVER_CORE, LOAD_CORE = "0", "1"


def server_prefix() -> list[str]:
    return ["taskset", "-c", SERVER_CORE] if PIN else []


def load_prefix() -> list[str]:
    return ["taskset", "-c", LOAD_CORE] if PIN else []


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def serving_pid(proc: subprocess.Popen[bytes]) -> int:
    """The pid that answers requests: taskset execs its command, so it is the child's own pid."""
    return proc.pid


class CpuMeter:
    """CPU ms per request of one server process around one load run."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.before = cpu_seconds(pid) if pid else 0.0

    def per_request(self, requests: int | None) -> float | None:
        if not self.pid or not requests:
            return None
        return round((cpu_seconds(self.pid) - self.before) * 1000 / requests, 3)


def first_200(
    cmd: list[str], env: dict[str, str], port: int, log: Path, cwd: Path, timeout: float = 120
) -> dict[str, Any]:
    """Start a server, poll /health every 10 ms; at the first 200: wall and CPU seconds and RSS."""
    started = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        with httpx.Client(timeout=1) as client:
            while time.perf_counter() - started < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        wall = time.perf_counter() - started
                        return {
                            "wall_s": round(wall, 2),
                            "cpu_s": round(cpu_seconds(proc.pid), 2),
                            "rss_mb": rss_mb(proc.pid),
                        }
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        raise RuntimeError("no 200 on /health")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def startup_runs(make_cmd: Any, env: dict[str, str], log: Path, cwd: Path, runs: int = 5) -> dict[str, Any]:
    """`runs` cold starts of the same command (`make_cmd(port)`); medians and every run."""
    from benchmarks.run import free_port

    samples = []
    for _ in range(runs):
        port = free_port()
        samples.append(first_200(make_cmd(port), env, port, log, cwd))
    return {
        "runs": samples,
        "cpu_s": statistics.median(s["cpu_s"] for s in samples),
        "wall_s": statistics.median(s["wall_s"] for s in samples),
        "rss_mb": statistics.median(s["rss_mb"] for s in samples),
    }
