"""scribe routes: editing a finished transcript (title, texts, speakers, segment times, split, merge)
and full-text search across the caller's transcripts."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import get, patch, post, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.scribe import services
from keel.apps.scribe.routes.common import SECURITY, TAG
from keel.apps.scribe.schemas import (
    SearchHit,
    SegmentMerge,
    SegmentPatch,
    SegmentSplit,
    TranscriptionEdit,
    TranscriptionRead,
)
from keel.apps.scribe.services.search import search_segments
from keel.core.envelope import Envelope, Limit, Offset, Page, ok, page
from keel.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed, error_responses
from keel.identity import Principal

EDIT_ERRORS = error_responses(NotFound, Conflict, Unprocessable, ValidationFailed)
SEGMENT = "/transcriptions/{transcription_id:uuid}/segments/{index:int}"


@put(
    "/transcriptions/{transcription_id:uuid}",
    tags=TAG,
    security=SECURITY,
    responses=EDIT_ERRORS,
    summary="Edit the title, segments by index (text, speaker, start/end) and speaker names; word timings "
    "of unchanged words are kept",
)
async def edit_transcription(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, data: TranscriptionEdit
) -> Envelope[TranscriptionRead]:
    row = await services.edit_transcription(db_session, principal.user_id, transcription_id, data)
    return ok(services.transcription_read(row, detail=True))


@patch(
    SEGMENT,
    tags=TAG,
    security=SECURITY,
    responses=EDIT_ERRORS,
    summary="Edit one segment: text, speaker, start, end (422 when the times overlap a neighbour, are out "
    "of order or past the audio)",
)
async def patch_segment(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentPatch
) -> Envelope[TranscriptionRead]:
    row = await services.patch_segment(db_session, principal.user_id, transcription_id, index, data)
    return ok(services.transcription_read(row, detail=True))


@post(
    f"{SEGMENT}/split",
    tags=TAG,
    security=SECURITY,
    status_code=200,
    responses=EDIT_ERRORS,
    summary="Split a segment before a word (`word_index`) or at a time (`time`, seconds)",
)
async def split_segment(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentSplit
) -> Envelope[TranscriptionRead]:
    row = await services.split_segment(db_session, principal.user_id, transcription_id, index, data)
    return ok(services.transcription_read(row, detail=True))


@post(
    f"{SEGMENT}/merge",
    tags=TAG,
    security=SECURITY,
    status_code=200,
    responses=EDIT_ERRORS,
    summary="Merge a segment with the next one",
)
async def merge_segments(
    db_session: AsyncSession, principal: Principal, transcription_id: UUID, index: int, data: SegmentMerge
) -> Envelope[TranscriptionRead]:
    row = await services.merge_segments(db_session, principal.user_id, transcription_id, index, data)
    return ok(services.transcription_read(row, detail=True))


@get(
    "/search",
    tags=TAG,
    security=SECURITY,
    responses=error_responses(ValidationFailed),
    summary="Full-text search across your transcripts: the matching segments with their times",
)
async def search(
    db_session: AsyncSession,
    principal: Principal,
    q: Annotated[str, Parameter(min_length=1, max_length=200)],
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[SearchHit]:
    hits, total = await search_segments(db_session, principal.user_id, q, limit, offset)
    return page(hits, total=total, limit=limit, offset=offset)


route_handlers = [edit_transcription, patch_segment, split_segment, merge_segments, search]
