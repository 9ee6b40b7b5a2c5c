"""Full-text search across the caller's transcripts, segment by segment: SQLite FTS5
(`scribe_segment_fts`, kept in step by triggers) or PostgreSQL full-text (GIN index
`ix_scribe_segment_fts` on `to_tsvector('simple', text)`), both made by migration 0018.

Every word of the query must occur (as a word or the start of one: "meet" finds "meeting"), in any
case and, on SQLite, without regard to accents. Best matches first, then newest transcription.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal_column, select, text

from keel.apps.scribe.models import Segment, Transcription
from keel.apps.scribe.schemas import SearchHitRead
from keel.core.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

# the expression of the PostgreSQL index (migration 0018); the planner uses the index only for this text
PG_DOCUMENT = "to_tsvector('simple', scribe_segment.text)"
MAX_TERMS = 12


def terms(query: str) -> list[str]:
    """The query's words (letters and digits of any script), deduplicated, lower-cased."""
    found = [t.casefold() for t in re.findall(r"\w+", query or "") if t.strip("_")]
    return list(dict.fromkeys(t.replace("_", "") for t in found if t.replace("_", "")))[:MAX_TERMS]


async def search_segments(
    db: AsyncSession, owner_id: uuid.UUID, query: str, limit: int, offset: int
) -> tuple[list[SearchHitRead], int]:
    words = terms(query)
    if not words:
        raise ValidationFailed(details={"q": "give at least one word to search for"})
    mine = Transcription.owner_id == owner_id
    if db.bind.dialect.name == "postgresql":
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))
        document = literal_column(PG_DOCUMENT)
        matches: Any = document.op("@@")(tsquery)
        rank: Any = func.ts_rank(document, tsquery).desc()
        base = select(Segment, Transcription).join(
            Transcription, Segment.transcription_id == Transcription.id
        )
        base = base.where(mine, matches)
        count = select(func.count()).select_from(Segment).join(Transcription).where(mine, matches)
        params: dict[str, Any] = {}
    else:
        # FTS5 query syntax: each word quoted (no operator injection), prefix-matched, all required
        params = {"fts_query": " AND ".join('"' + w.replace('"', "") + '"*' for w in words)}
        ranked = (
            select(
                literal_column("scribe_segment_fts.rowid").label("segment_rowid"),
                literal_column("bm25(scribe_segment_fts)").label("rank"),
            )
            .select_from(text("scribe_segment_fts"))
            .where(text("scribe_segment_fts MATCH :fts_query"))
            .subquery()
        )
        joined = ranked.c.segment_rowid == literal_column("scribe_segment.rowid")
        base = (
            select(Segment, Transcription)
            .select_from(Segment)
            .join(ranked, joined)
            .join(Transcription, Segment.transcription_id == Transcription.id)
            .where(mine)
        )
        count = select(func.count()).select_from(Segment).join(ranked, joined).join(Transcription).where(mine)
        rank = ranked.c.rank
    total = await db.scalar(count.params(**params)) or 0
    rows = (
        await db.execute(
            base.order_by(rank, Transcription.created_at.desc(), Transcription.id, Segment.index)
            .limit(limit)
            .offset(offset)
            .params(**params)
        )
    ).all()
    hits = [
        SearchHitRead(
            transcription_id=t.id,
            title=t.title,
            created_at=t.created_at,
            segment_index=s.index,
            start=s.start,
            end=s.end,
            text=s.text,
            speaker=(t.speakers or {}).get(s.speaker, s.speaker) if s.speaker else None,
        )
        for s, t in rows
    ]
    return hits, total
