"""One error base carrying status and code, and the single place that maps every failure to the envelope.

Raise a `KeelError` subclass anywhere (services, guards, middleware); framework and database errors are
translated here too, so every failure answers
`{"status": "error", "error": {"code", "message", "details"}, "request_id"}`.
"""

from __future__ import annotations

import re
import traceback
from typing import Any, ClassVar

import structlog
from advanced_alchemy import exceptions as aa_exc
from litestar import Request, Response
from litestar import exceptions as ls_exc
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy import exc as sa_exc

from keel.core.db_errors import database_unreachable
from keel.core.envelope import ErrorBody, ErrorEnvelope

log = structlog.get_logger("keel.errors")


class KeelError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(KeelError):
    status_code = 400
    code = "BAD_REQUEST"
    default_message = "The request could not be understood"


class ValidationFailed(KeelError):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_message = "Some fields are invalid"


class Unauthorized(KeelError):
    status_code = 401
    code = "UNAUTHORIZED"
    default_message = "Authentication required"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


class Forbidden(KeelError):
    status_code = 403
    code = "FORBIDDEN"
    default_message = "You do not have permission to do this"


class ClientClosedRequest(KeelError):
    """The client hung up before sending its whole body: nobody reads the answer, and it is not a server
    fault, so it must not count as a 500 (nginx's 499 convention)."""

    status_code = 499
    code = "CLIENT_CLOSED_REQUEST"
    default_message = "The client closed the connection before the request body was complete"


class CsrfFailed(Forbidden):
    """Cookie authentication on an unsafe method without the matching X-CSRF-Token (double submit)."""

    code = "CSRF_FAILED"
    default_message = "Missing or invalid CSRF token (send the csrf cookie's value in X-CSRF-Token)"


class NotFound(KeelError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Resource not found"


class MethodNotAllowed(KeelError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    default_message = "Method not allowed"


class Conflict(KeelError):
    status_code = 409
    code = "CONFLICT"
    default_message = "The resource conflicts with an existing one"


class Gone(KeelError):
    status_code = 410
    code = "GONE"
    default_message = "The resource is no longer available"


class PayloadTooLarge(KeelError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "Request body is too large"


class UriTooLong(KeelError):
    status_code = 414
    code = "URI_TOO_LONG"
    default_message = "Query string is too long"


class UnsupportedMediaType(KeelError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "Unsupported content type"


class Unprocessable(KeelError):
    status_code = 422
    code = "UNPROCESSABLE"
    default_message = "The request is valid but cannot be processed"


class TooManyRequests(KeelError):
    status_code = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kw: Any) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        headers.update(kw.pop("headers", {}) or {})
        super().__init__(message, headers=headers, **kw)


class ServiceUnavailable(KeelError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "Service temporarily unavailable"


_HTTP_CODES: dict[int, type[KeelError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        UriTooLong,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
        ServiceUnavailable,
    )
}


_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`")


def _wire_names(request: Request[Any, Any, Any] | None) -> dict[str, str]:
    """Python parameter name -> the name the client sends (`date_from` -> `from`, `fmt` -> `format`)."""
    handler = request.scope.get("route_handler") if request is not None else None
    signature = getattr(handler, "parsed_fn_signature", None)
    names: dict[str, str] = {}
    for name, param in signature.parameters.items() if signature else ():
        kwarg = param.kwarg_definition
        alias = (
            getattr(kwarg, "query", None) or getattr(kwarg, "header", None) or getattr(kwarg, "cookie", None)
        )
        if not alias and getattr(kwarg, "param_type", None) is not None:  # QueryParameter(name="from")
            alias = getattr(kwarg, "name", None)
        if alias and alias != name:
            names[name] = alias
    return names


def _validation_details(extra: Any, request: Request[Any, Any, Any] | None = None) -> dict[str, Any]:
    """Litestar gives `[{"key", "message", "source"}]`; answer `{field: message}` as seed 004 shows, under
    the names the client sent: a query alias, or a missing body field under its own name (not `data`)."""
    details: dict[str, Any] = {}
    wire = _wire_names(request) if isinstance(extra, list) else {}
    if isinstance(extra, list):
        for item in extra:
            if isinstance(item, dict):
                key = str(item.get("key") or item.get("source") or "body")
                message = item.get("message", "invalid")
                missing = _MISSING_FIELD.match(str(message))
                if missing:
                    field = missing.group(1)
                    key = field if key in ("data", "body") else f"{key}.{field}"
                    message = "Required field is missing"
                details.setdefault(wire.get(key, key), message)
    elif isinstance(extra, dict):
        details.update(extra)
    return details


def _from_litestar(exc: ls_exc.HTTPException, request: Request[Any, Any, Any] | None = None) -> KeelError:
    status = exc.status_code
    if isinstance(exc, ls_exc.InternalServerException) and exc.detail == "client disconnected prematurely":
        return ClientClosedRequest()
    if isinstance(exc, ls_exc.ValidationException) or (status == 400 and exc.extra):
        detail = str(exc.detail or "")
        if "malformed" in detail.lower() or ("json" in detail.lower() and not exc.extra):
            return BadRequest("Malformed JSON body")
        return ValidationFailed(details=_validation_details(exc.extra, request) or None)
    if isinstance(exc, ls_exc.NotFoundException):
        return NotFound("Resource not found" if "No route" in str(exc.detail) else None)
    if isinstance(exc, ls_exc.MethodNotAllowedException):
        return MethodNotAllowed()
    if isinstance(exc, ls_exc.NotAuthorizedException):
        return Unauthorized(exc.detail if exc.detail != "Unauthorized" else None)
    if isinstance(exc, ls_exc.PermissionDeniedException):
        return Forbidden()
    cls = _HTTP_CODES.get(status)
    if cls is not None:
        err = cls(exc.detail if exc.detail and exc.detail != cls.default_message else None)
    elif 400 <= status < 500:
        err = BadRequest(exc.detail)
        err.status_code = status  # type: ignore[misc]
    else:
        err = KeelError()
    if exc.headers:
        err.headers.update(exc.headers)
    return err


def _from_alchemy(exc: aa_exc.AdvancedAlchemyError) -> KeelError:
    if isinstance(exc, aa_exc.NotFoundError):
        return NotFound()
    if isinstance(exc, aa_exc.DuplicateKeyError):
        return Conflict("A resource with these values already exists")
    if isinstance(exc, (aa_exc.IntegrityError, aa_exc.ForeignKeyError)):
        return Conflict("The change conflicts with related data")
    return KeelError()


def _raised_reading_the_request(exc: BaseException) -> bool:
    """True when the failure comes from Litestar decoding the request (body or parameters), so it is the
    client's input, not a server fault: the same exception type raised by our own code stays a 500."""
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("litestar._kwargs", "litestar.connection", "litestar.serialization")):
            return True
        tb = tb.tb_next
    return False


def _sqlite_busy(exc: Exception) -> bool:
    """SQLite's lock wait (busy_timeout) ran out: another writer holds the database."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).lower()
    return "database is locked" in message or "database table is locked" in message


def _from_input(exc: Exception) -> KeelError | None:
    if isinstance(exc, RecursionError) and _raised_reading_the_request(exc):
        return BadRequest("The JSON body is nested too deeply")
    if isinstance(exc, UnicodeDecodeError) and _raised_reading_the_request(exc):
        return BadRequest("The request is not valid UTF-8")
    return None


def to_keel_error(exc: Exception, request: Request[Any, Any, Any] | None = None) -> KeelError:
    if isinstance(exc, KeelError):
        return exc
    hostile = _from_input(exc)
    if hostile is not None:
        return hostile
    # a repository wraps the driver's error: look through the cause chain too
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, sa_exc.OperationalError):
        cause = cause.__cause__
    if isinstance(cause, sa_exc.OperationalError) and _sqlite_busy(cause):
        return ServiceUnavailable("The database is busy, retry shortly", headers={"Retry-After": "2"})
    if database_unreachable(exc):  # restarting, failing over, or every pooled connection taken
        return ServiceUnavailable("The database is unavailable, retry shortly", headers={"Retry-After": "2"})
    if isinstance(exc, ls_exc.HTTPException):
        return _from_litestar(exc, request)
    if isinstance(exc, aa_exc.AdvancedAlchemyError):
        return _from_alchemy(exc)
    if isinstance(exc, sa_exc.IntegrityError):  # a flush outside a repository: unique or foreign key
        return Conflict("The change conflicts with existing data")
    return KeelError()


def error_response(request: Request[Any, Any, Any] | None, err: KeelError) -> Response[ErrorEnvelope]:
    request_id = None
    if request is not None:
        request_id = request.scope.get("state", {}).get("request_id")
    body = ErrorEnvelope(
        error=ErrorBody(code=err.code, message=err.message, details=err.details), request_id=request_id
    )
    return Response(
        content=body, status_code=err.status_code, headers=err.headers, media_type="application/json"
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    err = to_keel_error(exc, request)
    if err.status_code >= 500:
        log.error("unhandled_error", exc_info=exc, path=request.url.path)
        settings = getattr(request.app.state, "settings", None)
        development = getattr(settings, "keel_env", None) == "development"
        if (development or getattr(request.app, "debug", False)) and not isinstance(exc, KeelError):
            # development only (seed: "error stack traces in development"); production shows nothing inside
            trace = "".join(traceback.format_exception(exc)).splitlines()[-40:]
            err = KeelError(f"{type(exc).__name__}: {exc}", details={"traceback": trace})
    return error_response(request, err)


# what a client sees in `details` for the codes that carry them (the rest answer `details: null`)
_EXAMPLE_DETAILS: dict[str, dict[str, Any]] = {
    "VALIDATION_ERROR": {"email": "Expected `str` matching a valid email address", "limit": "must be <= 100"},
    "BAD_REQUEST": {"topics": "user:other:updates"},
    "CONFLICT": {"email": "already registered"},
    "UNPROCESSABLE": {"file": "not a readable audio or video file"},
}
EXAMPLE_REQUEST_ID = "0c9f7e2a5b6d4e1f8a3b2c1d0e9f8a7b"


def all_errors() -> list[type[KeelError]]:
    """Every error class (KeelError and its subclasses, depth first): each code the API can answer."""
    found: list[type[KeelError]] = [KeelError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def error_example(error: type[KeelError]) -> Example:
    """A real `ErrorEnvelope` for `error`, as plain JSON data (the schema is written with any encoder)."""
    body: dict[str, Any] = {"code": error.code, "message": error.default_message}
    body["details"] = _EXAMPLE_DETAILS.get(error.code)
    return Example(
        summary=error.code,
        value={"status": "error", "error": body, "request_id": EXAMPLE_REQUEST_ID},
    )


def _response_spec(status: int, examples: list[Example]) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorEnvelope,
        generate_examples=False,  # polyfactory would invent `"code": "EuTJmBVBFdzxuvECziwY"`
        examples=examples,
        description=" or ".join(f"{e.summary}" for e in examples),
    )


def error_responses(*errors: type[KeelError]) -> dict[int, ResponseSpec]:
    """OpenAPI `responses=` for a route: each error documented with the envelope and a real example;
    errors sharing a status (400 BAD_REQUEST and VALIDATION_ERROR, 403 FORBIDDEN and CSRF_FAILED) share
    one response with an example each."""
    by_status: dict[int, list[Example]] = {}
    for error in errors:
        examples = by_status.setdefault(error.status_code, [])
        if all(e.summary != error.code for e in examples):
            examples.append(error_example(error))
    return {status: _response_spec(status, examples) for status, examples in by_status.items()}


def merge_error_responses(*specs: dict[Any, ResponseSpec]) -> dict[Any, ResponseSpec]:
    """Later specs win for non-error responses; the error examples of one status are combined."""
    merged: dict[Any, ResponseSpec] = {}
    for responses in specs:
        for status, spec in responses.items():
            previous = merged.get(status)
            if (
                previous is not None
                and previous.data_container is ErrorEnvelope
                and spec.data_container is ErrorEnvelope
            ):
                examples = list(previous.examples or [])
                examples += [e for e in spec.examples or [] if all(p.summary != e.summary for p in examples)]
                merged[status] = _response_spec(int(status), examples)
            else:
                merged[status] = spec
    return merged


EXCEPTION_HANDLERS = {Exception: handle_exception, HTTP_500_INTERNAL_SERVER_ERROR: handle_exception}
