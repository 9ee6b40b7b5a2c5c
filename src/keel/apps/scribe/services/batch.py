"""Batch upload: several files in one request (TurboScribe takes 50), each its own transcription.

All or nothing: every file is streamed to storage and probed, the shared options are checked, and the
quota is checked for all of them together; when any file or option is refused the whole request is
refused (the status of the first refusal, its details naming the file as `files[i]`), and nothing is
stored: the rows roll back with the request and the stored objects are deleted here. A user who sent
50 files gets either 50 queued transcriptions or one clear answer on what to fix, never a half batch
to sort out.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import PurePath
from typing import TYPE_CHECKING

from keel.apps.scribe.models import MediaFile, Transcription
from keel.apps.scribe.schemas import TranscriptionCreate
from keel.apps.scribe.services.engine_choice import choose_engine
from keel.apps.scribe.services.files import store_upload
from keel.apps.scribe.services.transcriptions import queued_transcription
from keel.apps.scribe.services.usage import check_limits
from keel.core.errors import BadRequest, KeelError
from keel.identity import lock_user

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.storage import MultipartFile, Storage
    from keel.settings import Settings


def _naming_the_file(exc: KeelError, position: int, filename: str | None) -> KeelError:
    """The same refusal (status, code, message), its details saying which file it was."""
    details = {f"files[{position}]": f"{filename or 'unnamed'}: {exc.message}"}
    if isinstance(exc.details, dict):
        details.update({f"files[{position}].{k}": str(v) for k, v in exc.details.items()})
    exc.details = details
    exc.message = f"File {position + 1} ({filename or 'unnamed'}) was refused: {exc.message}"
    return exc


async def create_batch(
    db: AsyncSession,
    storage: Storage,
    settings: Settings,
    owner_id: uuid.UUID,
    parts: AsyncIterator[MultipartFile],
    options: Callable[[uuid.UUID], TranscriptionCreate],
) -> list[Transcription]:
    """Store every file of `parts`, then queue one transcription per file with the form's `options`
    (a function of the file id, called once every field of the form has been read)."""
    files: list[MediaFile] = []
    try:
        position = 0
        async for part in parts:
            try:
                files.append(await store_upload(db, storage, settings, owner_id, part.chunks, part.filename))
            except KeelError as exc:
                raise _naming_the_file(exc, position, part.filename) from exc
            position += 1
        if not files:
            raise BadRequest("No file in the form", details={"file": "required (one or more)"})
        template = options(files[0].id)
        engine = choose_engine(settings, template.engine, template.language)
        await lock_user(db, owner_id)  # two batches at once must not both pass the quota check
        await check_limits(db, settings, owner_id, sum(f.duration for f in files), jobs=len(files))
        rows = [
            queued_transcription(
                owner_id, file, template, engine, PurePath(file.filename).stem or file.filename
            )
            for file in files
        ]
        db.add_all(rows)
        await db.flush()
        return rows
    except BaseException:
        for file in files:  # the rows roll back with the request; the objects are ours to remove
            with contextlib.suppress(Exception):
                await storage.delete(file.storage_key)
        raise
