"""/metrics carries the process and Python runtime series and the database pool gauges, in the single
process registry and in the multi-process one `keel serve` uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keel.core.metrics import render_metrics

RUNTIME = ("process_resident_memory_bytes", "process_open_fds", "python_gc_collections_total", "python_info")


def value(text: str, name: str) -> float:
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)
    assert match, f"{name} missing"
    return float(match.group(1))


async def test_metrics_has_runtime_and_pool_series(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert (await client.get("/health")).status_code == 200
    text = (await client.get("/metrics")).text
    for name in RUNTIME:
        assert name in text
    assert value(text, "process_resident_memory_bytes") > 1_000_000
    assert value(text, "keel_db_pool_size") >= 0 and "keel_db_pool_checked_out" in text
    assert "keel_db_pool_overflow" in text


def test_multiprocess_registry_keeps_runtime_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = render_metrics()[0].decode()
    for name in (*RUNTIME, "keel_db_pool_size"):
        assert name in text
