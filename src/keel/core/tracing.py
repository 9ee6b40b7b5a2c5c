"""OpenTelemetry traces of HTTP requests, SQL statements and jobs, when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Off by default, and then nothing of OpenTelemetry is imported (start-up time and the hot path stay as
they are). Set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. `http://127.0.0.1:4318`, an OpenTelemetry Collector,
Jaeger, Tempo) and install the optional extra (`uv sync --extra otel`): spans go over OTLP/HTTP protobuf to
`<endpoint>/v1/traces` (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, when set, is used as is), batched.

- HTTP: one SERVER span per request, outermost (it covers the edge), named `METHOD /route/{template}` (never
  the raw path), with the status, the route and the request id; an incoming `traceparent` is continued.
- SQL: one CLIENT span per statement (the SQLAlchemy instrumentation's engine events), a child of the span
  that ran it: the request's, or the job's.
- Jobs: one CONSUMER span per job attempt, `job <task name>`, with its id, queue and attempt; a failure
  records the exception.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keel.core.components import AppBuilder
    from keel.settings import Settings

# one provider per endpoint in this process (tests build apps for different receivers); None: tracing off
_providers: dict[str, Any] = {}
_current: list[Any] = []  # the provider of the app built last: jobs' spans go there


def enabled(settings: Settings) -> bool:
    return bool(settings.otel_exporter_otlp_endpoint)


def provider(settings: Settings) -> Any:
    """The SDK tracer provider exporting to the settings' endpoint (created once per endpoint)."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint in _providers:
        return _providers[endpoint]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from keel import __version__

    traces_url = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{endpoint.rstrip('/')}/v1/traces"
    resource = Resource.create({SERVICE_NAME: settings.otel_service_name, "service.version": __version__})
    created = TracerProvider(resource=resource)
    created.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url)))
    _providers[endpoint] = created
    return created


def install(builder: AppBuilder) -> None:
    """Core component: trace SQL on the app's engine, flush spans at shutdown (the HTTP side is `wrap`)."""
    settings = builder.settings
    if not enabled(settings):
        _current.clear()
        return
    tracer_provider = provider(settings)
    _current[:] = [tracer_provider]
    trace_engine(settings, builder.state["sa_config"].get_engine().sync_engine)

    async def flush(_: Any) -> None:
        import asyncio

        await asyncio.to_thread(tracer_provider.force_flush)

    builder.on_shutdown.append(flush)


def trace_engine(settings: Settings, sync_engine: Any) -> None:
    """A CLIENT span per statement on this engine (the app's, or a `keel worker`'s task engine), a child
    of the current request's or job's span; nothing when tracing is off."""
    if not enabled(settings):
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_instr_version
    from opentelemetry.metrics import NoOpMeter

    tracer = provider(settings).get_tracer(
        "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_instr_version
    )
    connections = NoOpMeter("keel").create_up_down_counter("db.client.connections.usage")  # pool: /metrics
    EngineTracer(tracer, sync_engine, connections)  # type: ignore[no-untyped-call]
    from keel.core.driver_select import through_sqlalchemy

    through_sqlalchemy(sync_engine)  # its hot reads too, so each statement has its span


def wrap(app: Any, settings: Settings) -> Any:
    """The ASGI app (Keel's edge) inside an OpenTelemetry server span, renamed to the route template."""
    if not enabled(settings):
        return app
    from opentelemetry import trace
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    async def name_by_route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        span = trace.get_current_span()  # the server span the middleware just opened

        async def send_named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                route = scope.get("path_template") or "<unmatched>"
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    span.set_attribute("keel.request_id", request_id)
            await send(message)

        await app(scope, receive, send_named if scope["type"] == "http" else send)

    return OpenTelemetryMiddleware(
        name_by_route,
        tracer_provider=provider(settings),
        exclude_spans=["receive", "send"],  # one span per request, not one per ASGI message
        default_span_details=lambda scope: (scope.get("method", "WS"), {}),
    )


def job_middleware() -> list[Any]:
    """procrastinate worker middleware opening a span per job attempt; none when tracing is off."""
    return [_trace_job] if _current else []


async def _trace_job(call_next: Any, context: Any, worker: Any) -> Any:
    from opentelemetry.trace import SpanKind

    job = context.job
    tracer = _current[0].get_tracer("keel.jobs")
    attributes = {
        "messaging.system": "procrastinate",
        "messaging.destination.name": job.queue,
        "keel.job.id": job.id or 0,
        "keel.job.task": job.task_name,
        "keel.job.attempt": job.attempts + 1,
    }
    # an exception leaving the block is recorded on the span and sets its status to ERROR
    with tracer.start_as_current_span(f"job {job.task_name}", kind=SpanKind.CONSUMER, attributes=attributes):
        return await call_next()


def configure_worker(settings: Settings) -> None:
    """`keel worker` (no app built): its jobs' spans go to the settings' endpoint."""
    if enabled(settings):
        _current[:] = [provider(settings)]
