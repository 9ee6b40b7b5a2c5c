"""scribe routes: editing a finished transcript (title, texts, speakers, segment times, split, merge)
and full-text search across the caller's transcripts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from litestar import get, patch, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import services
from keel.apps.scribe.schemas import (
    SearchHitRead,
    SegmentMerge,
    SegmentSplit,
    SegmentUpdate,
    TranscriptionRead,
    TranscriptionUpdate,
)
from keel.apps.scribe.services.search import search_segments
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed, error_responses
from keel.identity import Principal

EDIT_ERRORS = error_responses(NotFound, Conflict, Unprocessable, ValidationFailed)
SEGMENT = "/transcriptions/{transcription_id:uuid}/segments/{index:int}"


def _edit_route(method: Callable[..., HTTPRouteHandler], path: str, summary: str, **kwargs: Any) -> Any:
    return method(path, responses=EDIT_ERRORS, summary=summary, **kwargs)


async def _edited(
    edit: Callable[..., Awaitable[Any]], db: AsyncSession, principal: Principal, *args: Any
) -> Envelope[TranscriptionRead]:
    """Run one edit service on the caller's transcription and answer the whole edited transcript."""
    row = await edit(db, principal.user_id, *args)
    return ok(services.transcription_read(row, detail=True))


@_edit_route(
    put,
    "/transcriptions/{transcription_id:uuid}",
    "Edit the title, segments by index (text, speaker, start/end) and speaker names; word timings "
    "of unchanged words are kept",
)
async def edit_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, data: TranscriptionUpdate
) -> Envelope[TranscriptionRead]:
    return await _edited(services.edit_transcription, db_session, principal, transcription_id, data)


@_edit_route(
    patch,
    SEGMENT,
    "Edit one segment: text, speaker, start, end (422 when the times overlap a neighbour, are out "
    "of order or past the audio)",
)
async def patch_segment(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentUpdate
) -> Envelope[TranscriptionRead]:
    return await _edited(services.patch_segment, db_session, principal, transcription_id, index, data)


@_edit_route(
    post,
    f"{SEGMENT}/split",
    "Split a segment before a word (`word_index`) or at a time (`time`, seconds)",
    status_code=200,
)
async def split_segment(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentSplit
) -> Envelope[TranscriptionRead]:
    return await _edited(services.split_segment, db_session, principal, transcription_id, index, data)


@_edit_route(post, f"{SEGMENT}/merge", "Merge a segment with the next one", status_code=200)
async def merge_segments(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentMerge
) -> Envelope[TranscriptionRead]:
    return await _edited(services.merge_segments, db_session, principal, transcription_id, index, data)


@get(
    "/search",
    responses=error_responses(ValidationFailed),
    summary="Full-text search across your transcripts: the matching segments with their times",
)
async def search(
    db_session: AsyncSession,
    principal: Principal,
    q: Annotated[str, Parameter(min_length=1, max_length=200)],
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[SearchHitRead]:
    hits, total = await search_segments(db_session, principal.user_id, q, limit, offset)
    return page(hits, total=total, limit=limit, offset=offset)


route_handlers = [edit_transcription, patch_segment, split_segment, merge_segments, search]
