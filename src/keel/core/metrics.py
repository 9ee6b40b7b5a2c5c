"""Prometheus metrics, correct with several worker processes.

`keel serve --workers N` sets PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client, so
every process writes its samples to files that `/metrics` aggregates.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("keel_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "keel_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge("keel_http_requests_in_flight", "Requests being served", multiprocess_mode="livesum")
DB_POOL_CHECKED_OUT = Gauge(
    "keel_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
CACHE_ERRORS = Counter(
    "keel_cache_errors_total", "Cache backend failures (request served without cache)", ["op"]
)
CACHE_HITS = Counter("keel_cache_requests_total", "Cache lookups", ["result"])
RATE_LIMITED = Counter("keel_rate_limited_total", "Requests refused by a rate limit", ["route"])
DEGRADED = Gauge(
    "keel_degraded",
    "1 while a component runs on its fallback because its backend (Redis) is unreachable",
    ["component"],
    multiprocess_mode="max",
)
REALTIME_SUBSCRIBERS = Gauge(
    "keel_realtime_subscribers",
    "Open realtime streams of this instance",
    ["transport"],
    multiprocess_mode="livesum",
)
JOBS = Counter("keel_jobs_total", "Background jobs finished", ["task", "outcome"])


_engines: weakref.WeakSet[Any] = weakref.WeakSet()  # engines of this process, read at scrape time


class PoolCollector:
    """`keel_db_pool_{size,checked_out,overflow}` of this process's engines, read from the pool itself
    when scraped (labelled by pid: each worker process has its own pool)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "size": GaugeMetricFamily("keel_db_pool_size", "Connections the pool keeps", labels=["pid"]),
            "checkedout": GaugeMetricFamily(
                "keel_db_pool_checked_out", "Connections lent out of the pool now", labels=["pid"]
            ),
            "overflow": GaugeMetricFamily(
                "keel_db_pool_overflow", "Connections opened beyond the pool size now", labels=["pid"]
            ),
        }
        pid = str(os.getpid())
        totals = dict.fromkeys(families, 0)
        for engine in list(_engines):
            pool = engine.sync_engine.pool
            for name in families:
                reading = getattr(pool, name, None)
                if callable(reading):
                    totals[name] += max(0, int(reading()))
        for name, family in families.items():
            family.add_metric([pid], totals[name])
            yield family


_POOL_COLLECTOR = PoolCollector()
DEFAULT_REGISTRY.register(_POOL_COLLECTOR)


def instrument_pool(engine: Any) -> None:
    from sqlalchemy import event

    _engines.add(engine)
    event.listen(engine.sync_engine, "checkout", lambda *_: DB_POOL_CHECKED_OUT.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: DB_POOL_CHECKED_OUT.dec())


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # the runtime series of the process answering the scrape (the default registry has them too)
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(_POOL_COLLECTOR)
    else:
        registry = DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
