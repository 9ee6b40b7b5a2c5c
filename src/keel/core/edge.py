"""The outermost layer of every HTTP request, in one pure-ASGI pass (cheap: no per-request objects).

It runs before routing, so unknown routes get the same treatment: request id (accepted and echoed as
`X-Request-ID`), client IP from trusted proxies only, query-string limit, security headers, the
access log line and the Prometheus samples labelled by route template.
"""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog

from keel.core import metrics
from keel.core.envelope import ErrorBody, ErrorEnvelope
from keel.core.errors import UriTooLong, ValidationFailed
from keel.settings import Settings

access_log = structlog.get_logger("keel.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# the interactive docs load their scripts and styles from this server only (packaged Swagger UI assets)
_DOCS_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

# pages served to browsers (docs, the forms behind mailed links) rather than API answers
_PAGE_PREFIXES = ("/schema", "/verify-email", "/reset-password", "/account/")

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
NUL_MESSAGE = "must not contain NUL characters"
_MAX_CACHED_SERIES = 4096  # (method, route, status) children kept; beyond that labels() per request


def nul_fields(value: Any, path: str = "") -> list[str]:
    """The paths (`notes`, `exercises.0.name`) of decoded JSON strings or keys that contain NUL: PostgreSQL
    refuses it in text (a 500) and SQLite stores it, so it is refused core-wide as a field error."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name] if "\x00" in str(key) else nul_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nul_fields(item, f"{path}.{index}" if path else str(index))
    return found


def refuse_nul_in_json(body: bytes) -> None:
    """Raise a field error when a JSON body carries NUL (`\\u0000`); cheap when it does not."""
    if b"\\u0000" not in body:
        return
    try:
        fields = nul_fields(msgspec.json.decode(body))
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return  # the body's own parsing answers the malformed cases
    if fields:
        raise ValidationFailed(details=dict.fromkeys(fields, NUL_MESSAGE))


def nul_query_params(query_string: bytes) -> list[str]:
    """Query parameter names whose value (or name) carries NUL, raw or percent-encoded."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return []
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return [name.replace("\x00", "") or "query" for name, value in pairs if "\x00" in name + value]


class TrustedProxies:
    def __init__(self, spec: str) -> None:
        self.networks = [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]

    def _trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """Walk X-Forwarded-For from the right while hops are our own proxies; never trust it otherwise."""
        if not forwarded_for or not self._trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if settings.is_production:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class Edge:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.headers = security_headers(settings)
        self.max_query = settings.max_query_string
        self.metrics = settings.metrics_enabled
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = forwarded = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                request_id = candidate if _REQUEST_ID.match(candidate) else None
            elif name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
        request_id = request_id or uuid.uuid4().hex
        peer = scope["client"][0] if scope.get("client") else "unknown"
        client_ip = self.proxies.client_ip(peer, forwarded)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["client_ip"] = client_ip
        structlog.contextvars.bind_contextvars(request_id=request_id)

        if scope["type"] == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                structlog.contextvars.clear_contextvars()
            return

        path: str = scope["path"]
        csp = _DOCS_CSP if path.startswith(_PAGE_PREFIXES) else _API_CSP
        extra = [(b"x-request-id", request_id.encode()), (b"content-security-policy", csp), *self.headers]
        status_holder = [500]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        if self.metrics:
            metrics.IN_FLIGHT.inc()
        try:
            if len(scope.get("query_string", b"")) > self.max_query:
                await self._reject(
                    UriTooLong(f"Query string exceeds {self.max_query} bytes"), request_id, send_wrapper
                )
            elif nul := nul_query_params(scope.get("query_string", b"")):
                err = ValidationFailed(details=dict.fromkeys(nul, NUL_MESSAGE))
                await self._reject(err, request_id, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("path_template") or "<unmatched>"
            status = status_holder[0]
            if self.metrics:
                metrics.IN_FLIGHT.dec()
                count, latency = self._samples(scope["method"], route, status)
                count.inc()
                latency.observe(elapsed)
            access_log.info(
                "request",
                method=scope["method"],
                path=path,
                route=route,
                status=status,
                latency_ms=round(elapsed * 1000, 2),
                client_ip=client_ip,
                user_id=state.get("user_id"),
            )
            structlog.contextvars.clear_contextvars()

    def _samples(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        """The request counter's and latency histogram's children of this method, route template and
        status, resolved once (`labels()` validates and looks them up under a lock on every call). The
        keys are the series' own labels, so the cache grows no further than the series do."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                metrics.REQUESTS.labels(method, route, str(status)),
                metrics.LATENCY.labels(method, route),
            )
            if len(self._children) < _MAX_CACHED_SERIES:
                self._children[key] = children
        return children

    @staticmethod
    async def _reject(err: Any, request_id: str, send: Any) -> None:
        body = msgspec.json.encode(
            ErrorEnvelope(
                error=ErrorBody(code=err.code, message=err.message, details=getattr(err, "details", None)),
                request_id=request_id,
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": err.status_code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
