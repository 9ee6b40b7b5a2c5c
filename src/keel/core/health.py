"""Liveness (`/health`), readiness (`/ready`) and Prometheus (`/metrics`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from keel.core.components import AppBuilder
from keel.core.envelope import Envelope, ok
from keel.core.metrics import render_metrics
from keel.core.stores import Degraded, degraded_components

log = structlog.get_logger("keel.health")
_STARTED = time.time()
CHECK_TIMEOUT = 2.0


class Health(msgspec.Struct):
    status: str
    uptime_seconds: float


class Readiness(msgspec.Struct):
    ready: bool
    checks: dict[str, str]  # "ok", "degraded: …" (serving on a fallback: still ready) or "down: …"
    degraded: list[str] = []  # components of this process serving on their fallback (`keel_degraded`)


@get(
    "/health", tags=["health"], summary="The process is up", exclude_from_auth=True, opt={"rate_limit": None}
)
async def health() -> Envelope[Health]:
    return ok(Health(status="ok", uptime_seconds=round(time.time() - _STARTED, 3)))


@get(
    "/ready",
    tags=["health"],
    summary="Database, Redis and job queue reachable (Redis may be degraded: still ready)",
    responses={503: ResponseSpec(data_container=Envelope[Readiness], description="Something is down")},
    exclude_from_auth=True,
    opt={"rate_limit": None},
)
async def ready(request: Request[Any, Any, Any]) -> Response[Envelope[Readiness]]:
    request_app = request.app
    checks = request_app.state.readiness_checks

    async def run(name: str) -> tuple[str, str]:
        try:
            await asyncio.wait_for(checks[name](request_app), CHECK_TIMEOUT)
        except Degraded as exc:
            return name, f"degraded: {exc}"[:200]
        except Exception as exc:  # any failure means "not ready"; the name and reason are the answer
            return name, f"down: {type(exc).__name__}: {exc}"[:200]
        return name, "ok"

    results = dict(await asyncio.gather(*(run(n) for n in checks)))
    is_ready = all(not v.startswith("down") for v in results.values())
    body = ok(Readiness(ready=is_ready, checks=results, degraded=degraded_components()))
    if not is_ready:
        down = [name for name, value in results.items() if value.startswith("down")]
        body.message = "Not ready: " + ", ".join(down) + " down"
    return Response(body, status_code=200 if is_ready else 503)


@get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics",
    media_type=MediaType.TEXT,
    opt={"rate_limit": None},
    include_in_schema=True,
    exclude_from_auth=True,
)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    jobs = getattr(request.app.state, "jobs", None)
    if jobs is not None:  # queue depths are read from the queue now; a slow or down database keeps the last
        try:
            await asyncio.wait_for(jobs.read_queue_depths(), CHECK_TIMEOUT)
        except Exception as exc:
            log.warning("queue_depth_unavailable", error=f"{type(exc).__name__}: {exc}"[:200])
    payload, content_type = render_metrics()
    return Response(payload, media_type=content_type)


async def check_database(app: Litestar) -> None:
    engine = app.state.sa_config.get_engine()
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def install(builder: AppBuilder) -> None:
    builder.route_handlers += [health, ready]
    if builder.settings.metrics_enabled:
        builder.route_handlers.append(metrics_endpoint)
    builder.readiness_checks["database"] = check_database
