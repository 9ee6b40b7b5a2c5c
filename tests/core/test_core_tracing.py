"""OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set, received by a real local OTLP/HTTP server
(protobuf at /v1/traces, decoded with opentelemetry-proto): one trace holds a request's server span and
its SQL spans, a job has its own span; without the variable nothing of OpenTelemetry is imported."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from litestar import get, post
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from procrastinate import Blueprint

from keel.app import create_app
from keel.core import jobs

ROOT = Path(__file__).resolve().parents[2]
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
bp = Blueprint()


@bp.task(name="traced")
async def traced(key: str) -> None:
    await asyncio.sleep(0.01)
    if key == "boom":
        raise RuntimeError("boom")


jobs.register_tasks(bp, "test_core_tracing")


@post("/t/tracing/jobs", status_code=200, opt={"rate_limit": None})
async def defer_traced(data: dict[str, str]) -> dict[str, int]:
    return {"id": await traced.defer_async(key=data["key"])}


@get("/t/tracing/jobs/{job_id:int}", opt={"rate_limit": None})
async def traced_status(job_id: int) -> dict[str, str]:
    return {"status": (await jobs.queue.job_manager.get_job_status_async(job_id)).value}


class Receiver:
    """An OTLP/HTTP trace receiver: every span of every export request, with its resource attributes."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], Span]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                    for scope_spans in resource_spans.scope_spans:
                        receiver.spans.extend((resource, span) for span in scope_spans.spans)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def named(self, name: str) -> list[Span]:
        return [span for _, span in self.spans if span.name == name]

    def wait_for(self, name: str, within: float = 15.0) -> list[Span]:
        deadline = time.monotonic() + within
        while not self.named(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.named(name)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def attrs(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        which = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, which) if which else None
    return out


async def test_one_trace_links_a_request_with_its_sql_and_jobs_have_spans(make_settings, receiver) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(
        otel_exporter_otlp_endpoint=receiver.url, jobs_in_server=True, jobs_poll_interval=0.1
    )
    app = create_app(settings, extra_route_handlers=[defer_traced, traced_status])
    account = {"email": "traced@example.com", "password": "Traced-password-0001", "name": "T"}
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        token = (await client.post("/api/v1/auth/register", json=account)).json()["data"]["access_token"]
        caller = {"traceparent": f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"}  # W3C trace context of a caller
        me = await client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-7", **caller},
        )
        assert me.status_code == 200
        ids = [(await client.post("/t/tracing/jobs", json={"key": k})).json()["id"] for k in ("ok", "boom")]
        deadline = time.monotonic() + 20
        for job_id in ids:
            while (await client.get(f"/t/tracing/jobs/{job_id}")).json()["status"] not in (
                "succeeded",
                "failed",
            ):
                assert time.monotonic() < deadline, "the jobs did not run"
                await asyncio.sleep(0.05)
    # the app's shutdown flushed the batch; the receiver is a real server: give its thread a moment
    servers = receiver.wait_for("GET /api/v1/users/me")
    assert len(servers) == 1, [s.name for _, s in receiver.spans]
    assert set(receiver.paths) == {"/v1/traces"}
    server = servers[0]
    assert server.kind == Span.SPAN_KIND_SERVER
    assert server.trace_id.hex() == CALLER_TRACE  # the caller's trace is continued
    server_attrs = attrs(server)
    assert server_attrs["http.route"] == "/api/v1/users/me"
    assert server_attrs["keel.request_id"] == "trace-me-7"
    assert server_attrs.get("http.status_code", server_attrs.get("http.response.status_code")) == 200

    in_trace = [span for _, span in receiver.spans if span.trace_id == server.trace_id]
    by_id = {span.span_id: span for span in in_trace}

    def descends_from_server(span: Span) -> bool:
        while span.parent_span_id:
            if span.parent_span_id == server.span_id:
                return True
            span = by_id.get(span.parent_span_id)  # type: ignore[assignment]
            if span is None:
                return False
        return False

    sql = [s for s in in_trace if s.kind == Span.SPAN_KIND_CLIENT and descends_from_server(s)]
    assert sql, "no SQL span in the request's trace"
    statements = [attrs(s).get("db.statement", attrs(s).get("db.query.text", "")) for s in sql]
    assert any("FROM user_account" in q for q in statements), statements
    assert all(attrs(s).get("db.system", attrs(s).get("db.system.name")) for s in sql)

    job_spans = receiver.wait_for("job test_core_tracing:traced")
    assert len(job_spans) >= 2
    assert all(s.kind == Span.SPAN_KIND_CONSUMER for s in job_spans)
    assert {attrs(s)["keel.job.id"] for s in job_spans} == set(ids)
    failed = [s for s in job_spans if attrs(s)["keel.job.id"] == ids[1]]
    assert failed[0].status.code == failed[0].status.STATUS_CODE_ERROR
    assert any(event.name == "exception" for event in failed[0].events)
    ok_span = next(s for s in job_spans if attrs(s)["keel.job.id"] == ids[0])
    assert ok_span.status.code != ok_span.status.STATUS_CODE_ERROR
    resources = {resource.get("service.name") for resource, _ in receiver.spans}
    assert resources == {"keel"}


async def test_a_worker_tasks_sql_joins_its_jobs_trace(settings, receiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`keel worker` builds no app: the task context's own engine is traced too, under the job's span."""
    from sqlalchemy import text

    from keel.core import tracing
    from keel.core.jobs_context import TaskContextSlot

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    context = TaskContextSlot().get()  # no app bound: what a worker process does
    tracing.configure_worker(context.settings)
    tracer = tracing.provider(context.settings).get_tracer("test")
    try:
        with tracer.start_as_current_span("job worker:probe"):
            async with context.sessions() as db:
                assert (await db.execute(text("SELECT 42"))).scalar() == 42
    finally:
        await context.engine.dispose()
    tracing.provider(context.settings).force_flush()
    (job_span,) = receiver.wait_for("job worker:probe")
    sql = [
        s for _, s in receiver.spans if s.kind == Span.SPAN_KIND_CLIENT and s.trace_id == job_span.trace_id
    ]
    assert [attrs(s).get("db.statement", attrs(s).get("db.query.text")) for s in sql] == ["SELECT 42"]
    assert sql[0].parent_span_id == job_span.span_id


def test_nothing_of_opentelemetry_is_imported_without_the_endpoint(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from keel.app import create_app\n"
        "from keel.settings import load_settings\n"
        f"s = load_settings(None, keel_env='test', database_url='sqlite+aiosqlite:///{tmp_path}/t.db',\n"
        f"    storage_url='file://{tmp_path}/storage', otel_exporter_otlp_endpoint='')\n"
        "create_app(s)\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    # the embedded set-up: with REDIS_URL, redis-py itself imports the OpenTelemetry SDK's metrics when the
    # packages are installed (its own observability), which is why they are an optional extra
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k not in ("REDIS_URL", "DATABASE_URL")
    }
    out = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
