"""The application factory: settings → core components → apps → one Litestar app behind the edge."""

from __future__ import annotations

import asyncio
import importlib
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Receive, Scope, Send

import keel
from keel import __version__
from keel.core import db, tracing
from keel.core.components import AppBuilder, AppSpec, Seeder
from keel.core.db import import_models
from keel.core.edge import Edge, refuse_nul_in_json
from keel.core.errors import (
    EXCEPTION_HANDLERS,
    CsrfFailed,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    UriTooLong,
    ValidationFailed,
    error_responses,
    merge_error_responses,
)
from keel.core.logging import configure_logging
from keel.core.openapi import OfflineSwaggerRenderPlugin, make_operation_id_creator, use_keel_openapi
from keel.core.params import refuse_unknown_query_params
from keel.settings import Settings, SettingsError, get_settings

API_PREFIX = "/api/v1"
# core components in install order; each module exposes install(builder)
CORE_COMPONENTS = (
    "keel.core.stores",
    "keel.core.cache",
    "keel.core.ratelimit",
    "keel.core.health",
    "keel.identity.plugin",
    "keel.core.jobs_server",  # procrastinate loads on first use unless this process runs jobs
    "keel.core.storage",
    "keel.core.realtime",
    "keel.core.llm",
    "keel.core.tracing",  # no-op (imports nothing of OpenTelemetry) unless OTEL_EXPORTER_OTLP_ENDPOINT is set
)
KNOWN_APPS = ("gym", "scribe", "segmint", "market")
APPS_PACKAGE = "keel.apps"  # app NAME lives in keel.apps.<name>, its spec in .plugin


class KeelApp(Litestar):
    """Litestar with the edge layer outermost, so even unrouted requests get ids, headers, logs, metrics."""

    edge: Edge

    @staticmethod
    def _get_default_plugins(plugins: list[Any]) -> list[Any]:
        """Litestar adds its pydantic and attrs plugins whenever those libraries are installed (importing
        pydantic: ~0.2 s of start-up); Keel's schemas are msgspec structs, so only msgspec's is needed."""
        from litestar.plugins.core import MsgspecDIPlugin

        plugins.append(MsgspecDIPlugin())
        return plugins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
            return
        await self.edge(scope, receive, send)  # type: ignore[arg-type]

    async def _inner(self, scope: Any, receive: Any, send: Any) -> None:
        await Litestar.__call__(self, scope, receive, send)

    @staticmethod
    def _patch_opentelemetry_middleware(config: Any) -> Any:
        # Litestar imports its OpenTelemetry plugin (~0.2 s) whenever the package is installed; Keel traces
        # through keel.core.tracing, imported only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        return config


_JSON_TYPES = ("application/json",)


async def check_request_shape(request: Request[Any, Any, Any]) -> None:
    """Before any handler: unknown query parameters are a 400, a JSON body in another type a 415."""
    refuse_unknown_query_params(request)
    await require_json_body(request)


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """A JSON route refuses other content types with 415 instead of guessing."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    handler = request.scope.get("route_handler")
    param = handler.parsed_fn_signature.parameters.get("data") if handler else None
    if param is None:
        return
    kwarg = param.kwarg_definition
    media = getattr(kwarg, "media_type", RequestEncodingType.JSON) if kwarg else RequestEncodingType.JSON
    if media != RequestEncodingType.JSON:
        return
    content_type = request.headers.get("content-type", "")
    base = content_type.split(";", 1)[0].strip().lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        refuse_nul_in_json(await request.body())  # NUL in any text field: a field error, core-wide
        return
    if not content_type and request.headers.get("content-length", "0") == "0":
        return  # an empty body is a validation question, not a media-type one
    raise UnsupportedMediaType(f"Expected application/json, got {base or 'no content type'}")


def load_app_spec(name: str) -> AppSpec:
    """The `AppSpec` of app NAME (`keel.apps.<name>.plugin.spec`), with its import package filled in."""
    if name not in KNOWN_APPS:
        raise SettingsError(f"KEEL_APPS names an unknown app {name!r}; use any of {', '.join(KNOWN_APPS)}")
    package = f"{APPS_PACKAGE}.{name}"
    spec: AppSpec = importlib.import_module(f"{package}.plugin").spec
    spec.package = spec.package or package
    return spec


def register_app_permissions(apps: list[AppSpec]) -> None:
    """Hand what the apps declare to identity's registry (its seed writes them to the database)."""
    from keel.identity.rbac import register_permissions

    for spec in apps:
        if spec.permissions or spec.role_grants:
            register_permissions(spec.permissions, roles=spec.role_grants or None)


def enabled_apps(settings: Settings) -> list[AppSpec]:
    """The specs of KEEL_APPS, their permissions registered."""
    apps = [load_app_spec(name) for name in settings.apps]
    register_app_permissions(apps)
    return apps


# tables of core components and identity, always in the schema
CORE_MODEL_MODULES = ("keel.identity.models", "keel.core.llm.models")


def import_all_models() -> None:
    """Every table of every known app (whatever KEEL_APPS serves): one Alembic history knows them all."""
    import_models(CORE_MODEL_MODULES)
    for name in KNOWN_APPS:
        import_models(load_app_spec(name).model_modules)


def app_seeders(apps: list[AppSpec]) -> list[tuple[str, Seeder]]:
    """Identity's roles and permissions first (apps' data may reference them), then each given app's seed."""
    from keel.identity.seed import seed as seed_identity

    return [("identity", seed_identity), *((spec.name, spec.seed) for spec in apps if spec.seed)]


def _document_errors(app: Litestar) -> None:
    """Every operation documents the envelope for the failures any route can produce, and 401 where it
    declares bearer security."""
    defaults = error_responses(
        ValidationFailed, TooManyRequests, PayloadTooLarge, UriTooLong, UnsupportedMediaType
    )
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if handler.include_in_schema is False:
                continue
            extra = {}
            if handler.resolve_security():  # an operation that takes a bearer token answers 401 without one
                extra = error_responses(Unauthorized)
            merged = merge_error_responses(defaults, extra, handler.responses or {})
            # errors a layer's dependency raises on every route below it (a Controller's opt, inherited)
            layered = handler.opt.get("error_responses")
            if layered:
                merged = merge_error_responses(merged, layered)
            # cookie-authenticated writes can fail the CSRF check (403) on any route that takes a token
            if 401 in merged and handler.http_methods - {"GET", "HEAD", "OPTIONS"}:
                merged = merge_error_responses(merged, error_responses(CsrfFailed))
            handler.responses = merged


def create_app(settings: Settings | None = None, *, extra_route_handlers: list[Any] | None = None) -> KeelApp:
    """The app; `extra_route_handlers` lets tests mount their own handlers next to the real ones."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # the apps first: components read what they declare (tasks, permissions) from `builder.apps`
    apps = enabled_apps(settings)
    builder = AppBuilder(settings=settings, apps=apps)
    sa_config = db.sqlalchemy_config(settings)
    builder.plugins.append(db.DatabasePlugin(sa_config))
    builder.state["settings"] = settings
    builder.state["sa_config"] = sa_config
    for name in CORE_COMPONENTS:
        importlib.import_module(name).install(builder)

    for spec in apps:
        import_models(spec.model_modules)
        if spec.install:
            spec.install(builder)
        builder.route_handlers.append(
            Router(path=f"{API_PREFIX}/{spec.name}", route_handlers=spec.route_handlers)
        )
        builder.tags.append({"name": spec.name, "description": spec.description})
    builder.state["apps"] = apps
    builder.state["readiness_checks"] = builder.readiness_checks

    @asynccontextmanager
    async def app_startup(app: Litestar):  # type: ignore[no-untyped-def]
        for spec in apps:
            if spec.startup:
                await spec.startup(app)
        loop = asyncio.get_running_loop()
        settling = [loop.call_later(delay, keel.settle) for delay in keel.SETTLE_AFTER]
        try:
            yield
        finally:
            for handle in settling:
                handle.cancel()

    app = KeelApp(
        route_handlers=[*builder.route_handlers, *(extra_route_handlers or ())],
        plugins=builder.plugins,
        middleware=builder.middleware,
        dependencies=builder.dependencies,
        lifespan=[*builder.lifespan, app_startup],
        on_startup=builder.on_startup,
        on_shutdown=builder.on_shutdown,
        before_request=check_request_shape,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        cors_config=CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-CSRF-Token",
                "X-Request-ID",
                "Idempotency-Key",
            ],
            expose_headers=[
                "X-Request-ID",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ],
        ),
        compression_config=CompressionConfig(
            backend="brotli", brotli_gzip_fallback=True, minimum_size=1024, exclude_opt_key="skip_compression"
        ),  # file downloads set opt={"skip_compression": True}: media is compressed, Content-Length kept
        request_max_body_size=settings.max_body_size,
        openapi_config=OpenAPIConfig(
            title="Keel API",
            version=__version__,
            description="One account, one token, every app. Responses use the `{status, data}` envelope.",
            path="/schema",
            # Swagger UI from packaged assets (offline, CSP 'self'); /schema/swagger kept for old links
            render_plugins=[OfflineSwaggerRenderPlugin(path=["/", "/swagger"])],
            operation_id_creator=make_operation_id_creator(API_PREFIX),
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
            tags=builder.tags or None,  # type: ignore[arg-type]
        ),
        signature_namespace=builder.signature_namespace,
        state=State(builder.state),
        debug=settings.debug,
        logging_config=None,  # keel.core.logging owns the handlers: one JSON format for every logger
    )
    app.edge = tracing.wrap(Edge(app._inner, settings), settings)
    use_keel_openapi(app)
    _document_errors(app)
    return app
