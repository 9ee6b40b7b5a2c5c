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

from typing import TYPE_CHECKING

from litestar.di import Provide

from keel.core.components import AppBuilder
from keel.core.storage.multipart import (
    MAX_FIELD_SIZE,
    MAX_FIELDS,
    MultipartFile,
    MultipartUpload,
    iter_multipart_files,
    read_multipart,
    stream_request_body,
)
from keel.core.storage.store import (
    CHUNK_SIZE,
    PART_CONCURRENCY,
    PART_SIZE,
    ListedObject,
    ObjectInfo,
    Storage,
    StoredObject,
    binary_operation,
    content_disposition,
    make_store,
)

if TYPE_CHECKING:
    from litestar import Litestar

    from keel.settings import Settings


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
            import obstore

            await obstore.list_with_delimiter_async(storage.store)  # bucket reachable and credentials valid

        builder.readiness_checks["storage"] = check_storage


__all__ = [
    "CHUNK_SIZE",
    "MAX_FIELDS",
    "MAX_FIELD_SIZE",
    "PART_CONCURRENCY",
    "PART_SIZE",
    "ListedObject",
    "MultipartFile",
    "MultipartUpload",
    "ObjectInfo",
    "Storage",
    "StoredObject",
    "binary_operation",
    "content_disposition",
    "install",
    "iter_multipart_files",
    "make_store",
    "read_multipart",
    "stream_request_body",
]
