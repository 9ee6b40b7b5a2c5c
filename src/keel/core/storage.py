"""Object storage: local disk by default, S3-compatible when STORAGE_URL says so (obstore, async).

Everything streams: uploads are written as they arrive (multipart on S3) with the size limit and the
sha256 computed on the way, downloads are read in chunks; no file is ever held in memory whole.

Routes that take uploads raise Litestar's body limit for themselves only:

    @post("/media", request_max_body_size=settings.max_upload_size)   # the app default is MAX_BODY_SIZE
    async def upload(request: Request, storage: Storage) -> ...:
        stored = await storage.put_stream(key, stream_request_body(request), "audio/mpeg")

or, for `multipart/form-data`, `upload = await read_multipart(request)` then
`await storage.put_stream(key, upload.chunks, upload.content_type)` and `upload.fields`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlsplit

import msgspec
import obstore
from litestar.di import Provide
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.response import Stream

from keel.core.components import AppBuilder
from keel.core.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

if TYPE_CHECKING:
    from litestar import Litestar, Request

    from keel.settings import Settings

CHUNK_SIZE = 256 * 1024  # read size for downloads and local copies
PART_SIZE = 5 * 1024 * 1024  # S3's minimum multipart part size
PART_CONCURRENCY = 2  # parts in flight: bounds memory at about PART_SIZE * (PART_CONCURRENCY + 1)
_KEY = re.compile(r"^[A-Za-z0-9._=-][A-Za-z0-9._=/-]{0,1023}$")


class StoredObject(msgspec.Struct):
    key: str
    size: int
    sha256: str
    content_type: str | None = None


class ObjectInfo(msgspec.Struct):
    key: str
    size: int
    content_type: str | None = None


def _check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/") or "//" in key or key.endswith("/"):
        raise BadRequest(f"Invalid storage key {key!r}")
    return key


def _s3_store(parts: Any) -> Any:
    from obstore.store import S3Store

    options = dict(parse_qsl(parts.query))
    config: dict[str, Any] = {}
    for name in ("endpoint", "region", "access_key_id", "secret_access_key", "session_token"):
        if options.get(name):
            config[name] = options[name]
    if "virtual_hosted_style_request" in options:
        config["virtual_hosted_style_request"] = options["virtual_hosted_style_request"].lower() == "true"
    client_options: dict[str, Any] = {}
    if config.get("endpoint", "").startswith("http://"):
        client_options["allow_http"] = True
    prefix = parts.path.strip("/") or None
    # AWS_* environment variables fill whatever the URL leaves out (S3Store reads them)
    return S3Store(parts.netloc, prefix=prefix, client_options=client_options or None, **config)  # type: ignore[arg-type]


def make_store(url: str) -> tuple[Any, Path | None]:
    """`file://./var/storage`, `file:///abs/path`, or `s3://bucket[/prefix]?endpoint=&region=&...`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        from obstore.store import LocalStore

        root = Path(parts.netloc + parts.path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return LocalStore(root, mkdir=True), root
    if parts.scheme == "s3":
        return _s3_store(parts), None
    raise ValueError(f"STORAGE_URL must be file://... or s3://..., not {url!r}")


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII `filename` fallback plus the exact name as UTF-8 `filename*`."""
    clean = filename.replace("\r", "").replace("\n", "").replace("/", "_").replace("\\", "_") or "download"
    fallback = clean.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "'")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def binary_operation(*media_types: str) -> type[Operation]:
    """`operation_class=` for a route answering raw bytes (a download, a rendered chart): its 200 is
    documented as binary in these media types (ranges like `audio/*` allowed) instead of JSON."""

    @dataclass
    class BinaryOperation(Operation):
        def __post_init__(self) -> None:
            success = (self.responses or {}).get("200")
            if isinstance(success, OpenAPIResponse):
                binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                success.content = {media_type: OpenAPIMediaType(schema=binary) for media_type in media_types}

    return BinaryOperation


class Storage:
    """`app.state.storage` and the `storage` dependency."""

    def __init__(self, url: str, *, max_size: int) -> None:
        self.url = url
        self.max_size = max_size
        self.store, self.local_root = make_store(url)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        content_type: str | None = None,
        *,
        max_size: int | None = None,
    ) -> StoredObject:
        """Stream `chunks` to `key`; 413 (and nothing stored) beyond `max_size` (default MAX_UPLOAD_SIZE)."""
        _check_key(key)
        limit = self.max_size if max_size is None else max_size
        digest = hashlib.sha256()
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"The file is larger than {limit} bytes")
                digest.update(chunk)
                yield chunk

        existed = await self.exists(key)
        attributes = {"Content-Type": content_type} if content_type and self.local_root is None else None
        try:
            await obstore.put_async(
                self.store,
                key,
                counted(),
                attributes=attributes,
                chunk_size=PART_SIZE,
                max_concurrency=PART_CONCURRENCY,
            )
        except BaseException:
            # puts are atomic, but never leave an object of ours behind after a failure
            if not existed:
                with contextlib.suppress(Exception):
                    await self.delete(key)
            raise
        return StoredObject(key=key, size=size, sha256=digest.hexdigest(), content_type=content_type)

    async def stat(self, key: str) -> ObjectInfo:
        _check_key(key)
        try:
            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError as exc:
            raise NotFound("No such file") from exc
        return ObjectInfo(key=key, size=meta["size"])

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except NotFound:
            return False
        return True

    async def open_stream(self, key: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Async generator over the object's bytes (NotFound on first iteration when missing)."""
        _check_key(key)
        try:
            result = await obstore.get_async(self.store, key)
        except FileNotFoundError as exc:
            raise NotFound("No such file") from exc
        async for chunk in result.stream(min_chunk_size=chunk_size):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing object is not an error."""
        _check_key(key)
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """`async with storage.local_copy(key) as path:` a file on local disk for tools that need one.

        On local storage this is the stored file itself (treat it as read-only); on S3 a streamed temp
        copy, removed when the block ends."""
        _check_key(key)
        if self.local_root is not None:
            path = self.local_root / key
            if not path.is_file():
                raise NotFound("No such file")
            yield path
            return
        suffix = Path(key).suffix
        fd, name = tempfile.mkstemp(prefix="keel-", suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in self.open_stream(key):
                    fh.write(chunk)
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    async def download_response(
        self,
        key: str,
        filename: str,
        content_type: str | None = None,
        *,
        inline: bool = False,
    ) -> Stream:
        """A streamed response with Content-Type, Content-Length and Content-Disposition (RFC 6266).

        Give the route `opt={"skip_compression": True}`: otherwise the app's compression re-encodes the
        stream (wasted on media) and drops Content-Length."""
        info = await self.stat(key)  # 404 before any byte is sent
        return Stream(
            self.open_stream(key),
            media_type=content_type or "application/octet-stream",
            headers={
                "Content-Length": str(info.size),
                "Content-Disposition": content_disposition(filename, "inline" if inline else "attachment"),
            },
        )


# --- upload helpers for routes ----------------------------------------------------------------------


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


def install(builder: AppBuilder) -> None:
    settings: Settings = builder.settings
    storage = Storage(settings.storage_url, max_size=settings.max_upload_size)
    builder.state["storage"] = storage

    def provide_storage() -> Storage:
        return storage

    builder.dependencies["storage"] = Provide(provide_storage, sync_to_thread=False)
    builder.signature_namespace["Storage"] = Storage
    if storage.local_root is None:

        async def check_storage(_: Litestar) -> None:
            await obstore.list_with_delimiter_async(storage.store)  # bucket reachable and credentials valid

        builder.readiness_checks["storage"] = check_storage
