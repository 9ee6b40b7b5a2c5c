"""The response envelope every route answers with.

Success: `{"status": "success", "data": ...}` (lists add `meta`). Failure: see `keel.core.errors`.
Handlers return `Envelope[T]` / `Page[T]` so the OpenAPI schema shows the real shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from litestar.params import Parameter

T = TypeVar("T")
# the largest `offset` a list accepts: beyond a 64-bit integer the database driver fails, and no real
# list gets near it (a list route declares `le=MAX_OFFSET` so a bigger one is a 400, not a 500)
MAX_OFFSET = 2**31 - 1

# the query parameters of every paginated list: `limit: Limit = 20, offset: Offset = 0`
Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size (1-100)")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="Items to skip")]


class PageMeta(msgspec.Struct, kw_only=True):
    limit: int
    offset: int
    total: int


class Envelope(msgspec.Struct, Generic[T], kw_only=True, omit_defaults=True):
    status: Literal["success"]  # no default, so omit_defaults never drops it
    data: T
    message: str | None = None


class Page(msgspec.Struct, Generic[T], kw_only=True):
    status: Literal["success"]
    data: list[T]
    meta: PageMeta


class ErrorBody(msgspec.Struct, kw_only=True):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    status: Literal["error"] = "error"
    error: ErrorBody
    request_id: str | None = None


def ok(data: T, message: str | None = None) -> Envelope[T]:
    return Envelope(status="success", data=data, message=message)


def page(items: list[T], *, total: int, limit: int, offset: int) -> Page[T]:
    return Page(status="success", data=items, meta=PageMeta(limit=limit, offset=offset, total=total))
