"""Upload helpers for routes: the raw request body streamed with its size limit, and `multipart/form-data`
parsed as it arrives (text fields plus one or many file parts, none held in memory whole)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, NamedTuple

from keel.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

if TYPE_CHECKING:
    from litestar import Request


def _declared_length(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise BadRequest("Invalid Content-Length") from exc


async def stream_request_body(
    request: Request[Any, Any, Any], max_size: int | None = None
) -> AsyncIterator[bytes]:
    """The raw request body as it arrives; 413 before reading when Content-Length is already too big,
    or as soon as the streamed bytes pass `max_size` (default MAX_UPLOAD_SIZE). The route must set
    `request_max_body_size` at least as large, since Litestar enforces it on `request.stream()` too."""
    limit = max_size if max_size is not None else request.app.state.storage.max_size
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes")
    total = 0
    async for chunk in request.stream():
        if not chunk:
            continue
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes")
        yield chunk


class MultipartUpload:
    """One file part streamed out of a `multipart/form-data` body, with the form's text fields.

    `fields` holds the fields before the file once `read_multipart` returns and every field once
    `chunks` has been consumed; `items` keeps repeated names (`a[]=1&a[]=2`) in order."""

    def __init__(
        self,
        field_name: str,
        filename: str | None,
        content_type: str | None,
        fields: dict[str, str],
        events: AsyncIterator[tuple[Any, ...]],
        items: list[tuple[str, str]] | None = None,
    ) -> None:
        self.field_name = field_name
        self.filename = filename
        self.content_type = content_type
        self.fields = fields
        self.items = items if items is not None else list(fields.items())
        self._events = events

    @property
    def chunks(self) -> AsyncIterator[bytes]:
        return self._iter_chunks()

    async def _iter_chunks(self) -> AsyncIterator[bytes]:
        async for event in self._events:
            kind = event[0]
            if kind == "data":
                yield event[1]
            elif kind == "file_end":
                break
        async for event in self._events:  # the rest: fields after the file
            if event[0] == "field":
                self.fields[event[1]] = event[2]
                self.items.append((event[1], event[2]))
            elif event[0] == "file_start":
                raise BadRequest("Only one file per upload")


MAX_FIELD_SIZE = 64 * 1024
MAX_FIELDS = 100


def _parse_disposition(value: bytes) -> dict[str, str]:
    from python_multipart.multipart import parse_options_header

    _, params = parse_options_header(value)
    return {k.decode("latin-1").lower(): v.decode("utf-8", "replace") for k, v in params.items()}


async def _multipart_events(
    request: Request[Any, Any, Any], boundary: bytes, max_size: int
) -> AsyncIterator[tuple[Any, ...]]:
    """Feed the body to python-multipart's push parser, yielding what each received chunk produced."""
    from python_multipart.multipart import MultipartParser

    pending: list[tuple[Any, ...]] = []
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "part": None, "buf": bytearray()}
    counts = {"fields": 0}

    def on_part_begin() -> None:
        state["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].decode("latin-1").lower()] = state["value"]
        state["field"] = state["value"] = b""

    def on_headers_finished() -> None:
        params = _parse_disposition(state["headers"].get("content-disposition", b""))
        name = params.get("name", "")
        if "filename" in params:
            ctype = state["headers"].get("content-type", b"application/octet-stream").decode("latin-1")
            state["part"] = ("file", name)
            pending.append(("file_start", name, params["filename"], ctype))
        else:
            counts["fields"] += 1
            if counts["fields"] > MAX_FIELDS:
                raise BadRequest("Too many form fields")
            state["part"] = ("field", name)
            state["buf"] = bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        kind, _ = state["part"]
        if kind == "file":
            pending.append(("data", bytes(data[start:end])))
        else:
            state["buf"] += data[start:end]
            if len(state["buf"]) > MAX_FIELD_SIZE:
                raise PayloadTooLarge("A form field is too large")

    def on_part_end() -> None:
        kind, name = state["part"]
        if kind == "file":
            pending.append(("file_end",))
        elif b"\0" in state["buf"]:  # refused like NUL in a JSON text field (PostgreSQL cannot store it)
            raise ValidationFailed(details={name: "must not contain NUL characters"})
        else:
            pending.append(("field", name, state["buf"].decode("utf-8", "replace")))
        state["part"] = None

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    async for chunk in stream_request_body(request, max_size):
        try:
            parser.write(chunk)
        except (BadRequest, PayloadTooLarge, ValidationFailed):
            raise
        except Exception as exc:
            raise BadRequest("Malformed multipart body") from exc
        while pending:
            yield pending.pop(0)
    parser.finalize()
    while pending:
        yield pending.pop(0)


async def read_multipart(
    request: Request[Any, Any, Any], *, file_field: str | None = None, max_size: int | None = None
) -> MultipartUpload:
    """Parse a `multipart/form-data` body up to its (first) file part and return it for streaming.

    The body is never buffered: `upload.chunks` yields the file's bytes as they arrive. 400 when
    there is no file part (or it is not named `file_field`), 415 for other content types."""
    from python_multipart.multipart import parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UnsupportedMediaType("Expected multipart/form-data")
    limit = max_size if max_size is not None else request.app.state.storage.max_size
    events = _multipart_events(request, params[b"boundary"], limit)
    fields: dict[str, str] = {}
    items: list[tuple[str, str]] = []
    async for event in events:
        if event[0] == "field":
            fields[event[1]] = event[2]
            items.append((event[1], event[2]))
        elif event[0] == "file_start":
            if file_field is not None and event[1] != file_field:
                raise BadRequest(f"Expected the file in form field {file_field!r}")
            return MultipartUpload(event[1], event[2], event[3], fields, events, items)
    raise BadRequest("No file in the form", details={file_field or "file": "required"})


class MultipartFile(NamedTuple):
    """One file part of a multi-file form (`iter_multipart_files`): read `chunks` before the next part."""

    field_name: str
    filename: str | None
    content_type: str | None
    chunks: AsyncIterator[bytes]


async def iter_multipart_files(
    request: Request[Any, Any, Any],
    fields: dict[str, str],
    *,
    file_field: str,
    max_size: int,
    max_files: int,
) -> AsyncIterator[MultipartFile]:
    """Every file part of a `multipart/form-data` body in order, streamed (never buffered); the text fields,
    wherever they are in the body, go into `fields`. 400 for a file in another field or more than
    `max_files` files, 415 for another content type."""
    from python_multipart.multipart import parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UnsupportedMediaType("Expected multipart/form-data")
    events = _multipart_events(request, params[b"boundary"], max_size)
    count = 0

    async def part() -> AsyncIterator[bytes]:
        async for event in events:
            if event[0] == "data":
                yield event[1]
            elif event[0] == "file_end":
                return

    async for event in events:
        if event[0] == "field":
            fields[event[1]] = event[2]
        elif event[0] == "file_start":
            if event[1] != file_field:
                raise BadRequest(f"Expected the files in form field {file_field!r}")
            count += 1
            if count > max_files:
                raise BadRequest(
                    f"At most {max_files} files per request", details={file_field: f"at most {max_files}"}
                )
            chunks = part()
            yield MultipartFile(event[1], event[2], event[3], chunks)
            async for _ in chunks:  # whatever the caller left unread of this file
                pass
