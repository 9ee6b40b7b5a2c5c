"""Uploads every app stores the same way: what a file is comes from its first bytes, never from the
name or type the client sent, and the name kept for it is safe to show and to download under.

    sniffed = SniffedUpload(chunks, media.sniff, head_bytes=media.SNIFF_BYTES, refusal="Send a PNG or PDF")
    stored = await storage.put_stream(key, sniffed.stream(), None, max_size=limit)  # 415 before any byte
    name = clean_filename(filename, sniffed.kind.extension, fallback="attachment")

A route that reads its upload from the request stream (no `data` parameter) documents the body it takes
with `operation_class=upload_operation(fields={"language": "string"})` (multipart: the fields, then the
`file` part) or `upload_operation(raw=("audio/*",))` (the file as the whole body).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)

from keel.core.errors import UnsupportedMediaType

FieldType = Literal["string", "boolean", "integer", "number"]

MAX_FILENAME = 200  # characters; the columns hold 255
_FORBIDDEN = frozenset('<>:"|?*')  # what Windows refuses in a name; / and \ are separators


class HasExtension(Protocol):
    @property
    def extension(self) -> str: ...


K = TypeVar("K", bound=HasExtension)


class SniffedUpload(Generic[K]):
    """Wraps upload chunks: holds back the first `head_bytes`, identifies them with `identify` (a 415
    with `refusal` when it answers None, before anything reaches storage), then passes every byte
    through unchanged. Nothing beyond `head_bytes` is buffered."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        identify: Callable[[bytes], K | None],
        *,
        head_bytes: int,
        refusal: str,
    ) -> None:
        self._chunks = chunks
        self._identify = identify
        self._head_bytes = head_bytes
        self._refusal = refusal
        self.kind: K | None = None

    async def stream(self) -> AsyncIterator[bytes]:
        head = bytearray()
        iterator = self._chunks.__aiter__()
        async for chunk in iterator:
            head += chunk
            if len(head) >= self._head_bytes:
                break
        self.kind = self._identify(bytes(head[: self._head_bytes]))
        if self.kind is None:
            raise UnsupportedMediaType(self._refusal)
        if head:
            yield bytes(head)
        async for chunk in iterator:
            yield chunk


def clean_filename(name: str | None, extension: str, *, fallback: str = "upload") -> str:
    """The client's file name made safe: no directories, no control or Windows-forbidden characters,
    at most MAX_FILENAME characters, and the extension of what the content really is (a `.txt` that is
    a PNG is kept as `.png`); `fallback` is the stem when nothing usable is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in _FORBIDDEN).strip()
    stem = (base.rsplit(".", 1)[0] if "." in base else base).strip()
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_FILENAME - len(suffix)].rstrip() or fallback
    return f"{stem}{suffix}"


def upload_operation(
    *,
    fields: Mapping[str, FieldType] | None = None,
    required: tuple[str, ...] = (),
    file: str = "file",
    many: bool = False,
    raw: tuple[str, ...] = (),
    multipart: bool = True,
) -> type[Operation]:
    """`operation_class=` for a route that streams its upload itself: the request body in the schema, so a
    generated client can send it. Multipart: the `fields` (form values, in this order, `required` ones
    marked), then the binary `file` part (`many`: repeated). `raw`: media types also taken as the bare
    body (`multipart=False`: only that)."""
    binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    properties: dict[str, Schema | Reference] = {
        name: Schema(type=OpenAPIType(kind)) for name, kind in (fields or {}).items()
    }
    properties[file] = Schema(type=OpenAPIType.ARRAY, items=binary, min_items=1) if many else binary
    form = Schema(type=OpenAPIType.OBJECT, properties=properties, required=[*required, file])
    content = {"multipart/form-data": OpenAPIMediaType(schema=form)} if multipart else {}
    content.update({media_type: OpenAPIMediaType(schema=binary) for media_type in raw})

    @dataclass
    class UploadOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(content=content, required=True)

    return UploadOperation


__all__ = ["MAX_FILENAME", "SniffedUpload", "clean_filename", "upload_operation"]
