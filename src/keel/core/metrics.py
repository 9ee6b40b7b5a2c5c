"""Prometheus metrics, correct with several worker processes.

`keel serve --workers N` sets PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client, so
every process writes its samples to files that `/metrics` aggregates.
"""

from __future__ import annotations

import os
import time
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
CACHE_HITS = Counter("keel_cache_requests_total", "Cache lookups", ["namespace", "result"])
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
# series that exist from the start (0) rather than after the first failure: a dashboard or an alert on them
# sees "no failure" instead of "no data", also in the multi-process registry (it lists only written series)
for _component in ("cache", "ratelimit", "realtime"):
    DEGRADED.labels(_component).set(0)
for _transport in ("sse", "websocket"):
    REALTIME_SUBSCRIBERS.labels(_transport).inc(0)
for _op in ("get", "set", "invalidate", "bypass"):
    CACHE_ERRORS.labels(_op)
JOBS = Counter("keel_jobs_total", "Background jobs finished", ["task", "outcome"])
JOB_DURATION = Histogram(
    "keel_job_duration_seconds",
    "Time a job ran on a worker (every attempt, whatever its outcome)",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
QUERY_DURATION = Histogram(
    "keel_db_query_duration_seconds",
    "SQL statement execution time, by kind of statement",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
_QUERY_KINDS = ("select", "insert", "update", "delete", "with")
# children bound once: a statement pays a dict lookup and an observe, no labels() call
_QUERY_BY_KIND = {kind: QUERY_DURATION.labels(kind) for kind in (*_QUERY_KINDS, "other")}


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


class QueueDepthCollector:
    """`keel_jobs_queue_depth{queue, status}`: jobs waiting (`todo`) and running (`doing`) per queue, as
    last read by `keel.core.jobs` just before this process answered a scrape (the queue is shared: every
    process reads the same numbers, so they are not added up across processes)."""

    def __init__(self) -> None:
        self.depths: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "keel_jobs_queue_depth",
            "Jobs per queue and status (todo: waiting, doing: running)",
            labels=["queue", "status"],
        )
        for (queue, status), depth in sorted(self.depths.items()):
            family.add_metric([queue, status], depth)
        yield family


QUEUE_DEPTH = QueueDepthCollector()
DEFAULT_REGISTRY.register(QUEUE_DEPTH)


def _query_started(_conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any, _many: Any) -> None:
    context._keel_started = time.perf_counter()


def _query_finished(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any) -> None:
    started = getattr(context, "_keel_started", None)
    if started is None:
        return
    head = statement.lstrip()[:6].lower()
    kind = head if head in _QUERY_BY_KIND else ("with" if head[:4] == "with" else "other")
    _QUERY_BY_KIND[kind].observe(time.perf_counter() - started)


def observe_query(kind: str, seconds: float) -> None:
    """A statement run outside SQLAlchemy's cursor events (`keel.core.driver_select`)."""
    _QUERY_BY_KIND[kind].observe(seconds)


def _checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
    record.info["keel_in_use"] = True
    DB_POOL_CHECKED_OUT.inc()


def _checked_in(_dbapi: Any, record: Any) -> None:
    # only what this gauge counted going out: a connection invalidated, or checked out of a pool before it
    # was instrumented, is checked in without a counted checkout (the gauge drifted below zero)
    if record is not None and record.info.pop("keel_in_use", False):
        DB_POOL_CHECKED_OUT.dec()


def instrument_pool(engine: Any) -> None:
    """Pool gauges and `keel_db_query_duration_seconds{operation}` for `engine` (two cursor events)."""
    from sqlalchemy import event

    _engines.add(engine)
    # a disposed engine (an app shut down) is no pool of this server's any more
    event.listen(engine.sync_engine, "engine_disposed", lambda *_: _engines.discard(engine))
    event.listen(engine.sync_engine, "checkout", _checked_out)
    event.listen(engine.sync_engine, "checkin", _checked_in)
    event.listen(engine.sync_engine, "before_cursor_execute", _query_started)
    event.listen(engine.sync_engine, "after_cursor_execute", _query_finished)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        # the runtime series of the process answering the scrape (the default registry has them too)
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)
        PlatformCollector(registry=registry)
        registry.register(_POOL_COLLECTOR)
        registry.register(QUEUE_DEPTH)
    else:
        registry = DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
