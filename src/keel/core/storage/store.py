"""The store: local disk or S3-compatible (obstore), streamed puts with the size limit and sha256, chunked
reads, local copies, and download responses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.response import Stream

from keel.core.errors import BadRequest, NotFound, PayloadTooLarge

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


class ListedObject(msgspec.Struct):
    key: str
    size: int
    modified: float  # epoch seconds


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


def local_root(url: str) -> Path | None:
    """The folder of a `file://` STORAGE_URL (created), None for `s3://`; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        root = Path(parts.netloc + parts.path).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return root
    if parts.scheme == "s3":
        return None
    raise ValueError(f"STORAGE_URL must be file://... or s3://..., not {url!r}")


def make_store(url: str) -> tuple[Any, Path | None]:
    """`file://./var/storage`, `file:///abs/path`, or `s3://bucket[/prefix]?endpoint=&region=&...`."""
    root = local_root(url)
    if root is not None:
        from obstore.store import LocalStore

        return LocalStore(root, mkdir=True), root
    return _s3_store(urlsplit(url)), None


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
        self.local_root = local_root(url)
        # obstore (a native library, ~4.5 MB) loads with the first file stored or read on local disk
        # (issue 12); an S3 store is made now, so a wrong STORAGE_URL fails at start-up
        self._store: Any = None if self.local_root is not None else make_store(url)[0]

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = make_store(self.url)[0]
        return self._store

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
            import obstore

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
            import obstore

            meta = await obstore.head_async(self.store, key)
        except FileNotFoundError as exc:
            raise NotFound("File not found") from exc
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
            import obstore

            result = await obstore.get_async(self.store, key)
        except FileNotFoundError as exc:
            raise NotFound("File not found") from exc
        async for chunk in result.stream(min_chunk_size=chunk_size):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing object is not an error."""
        _check_key(key)
        with contextlib.suppress(FileNotFoundError):
            import obstore

            await obstore.delete_async(self.store, key)

    async def listing(self, prefix: str) -> AsyncIterator[ListedObject]:
        """Every object whose key starts with the folder `prefix` (e.g. `segmint/`), in batches from the
        store: for sweeps that look for objects no row points to any more."""
        import obstore

        folder = _check_key(prefix.rstrip("/"))
        async for batch in obstore.list(self.store, prefix=folder):
            for meta in batch:
                yield ListedObject(
                    key=str(meta["path"]), size=int(meta["size"]), modified=meta["last_modified"].timestamp()
                )

    @contextlib.asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        """`async with storage.local_copy(key) as path:` a file on local disk for tools that need one.

        On local storage this is the stored file itself (treat it as read-only); on S3 a streamed temp
        copy, removed when the block ends."""
        _check_key(key)
        if self.local_root is not None:
            path = self.local_root / key
            if not path.is_file():
                raise NotFound("File not found")
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
