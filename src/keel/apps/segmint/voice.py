"""The user's voice, computed from their own content in one pass over one query (no query per row):
tone mix, words per sentence, vocabulary richness (distinct/total words), top terms, and the same month by
month so a creator sees how their voice changes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint.models import Content
from keel.apps.segmint.schemas import TermCount, VoiceMonth, VoiceProfile

WORD = re.compile(r"[^\W\d_][\w'\u2019-]*", re.UNICODE)
SENTENCE_END = re.compile(r"[.!?…]+(?:\s|$)|\n{2,}")
TOP_TERMS = 10
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves i'm it's don't can't we're you're that's isn't there's
    let's also get got just really like one new make via us
    """.split()
)


def words(text: str) -> list[str]:
    return [w.strip("'\u2019-") for w in WORD.findall(text.lower()) if w.strip("'\u2019-")]


def terms(text: str) -> list[str]:
    """Content words: no stop words, nothing shorter than three letters."""
    return [w for w in words(text) if len(w) >= 3 and w not in STOPWORDS]


def sentences(text: str) -> int:
    return max(1, len([s for s in SENTENCE_END.split(text) if s and WORD.search(s)]))


@dataclass
class _Tally:
    pieces: int = 0
    words: int = 0
    sentences: int = 0
    tones: Counter[str] = field(default_factory=Counter)
    vocabulary: set[str] = field(default_factory=set)
    terms: Counter[str] = field(default_factory=Counter)

    def add(self, text: str, tone: str) -> None:
        found = words(text)
        self.pieces += 1
        self.words += len(found)
        self.sentences += sentences(text)
        self.tones[tone] += 1
        self.vocabulary.update(found)
        self.terms.update(terms(text))

    def stats(self) -> dict[str, object]:
        return {
            "pieces": self.pieces,
            "words": self.words,
            "tone_mix": {t: round(n / self.pieces, 3) for t, n in sorted(self.tones.items())}
            if self.pieces
            else {},
            "average_sentence_length": round(self.words / self.sentences, 2) if self.sentences else 0.0,
            "vocabulary_richness": round(len(self.vocabulary) / self.words, 3) if self.words else 0.0,
            "top_terms": [TermCount(term=t, count=n) for t, n in _top(self.terms)],
        }


def _top(counter: Counter[str], n: int = TOP_TERMS) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]


async def profile(db: AsyncSession, workspace_id: UUID) -> VoiceProfile:
    rows = await db.execute(
        select(Content.text, Content.tone, Content.created_at)
        .where(Content.workspace_id == workspace_id)
        .order_by(Content.created_at)
    )
    overall = _Tally()
    months: dict[str, _Tally] = {}
    for text, tone, created_at in rows:
        overall.add(text, tone)
        months.setdefault(created_at.strftime("%Y-%m"), _Tally()).add(text, tone)
    dominant = max(sorted(overall.tones), key=lambda t: overall.tones[t]) if overall.tones else None
    return VoiceProfile(
        **overall.stats(),  # type: ignore[arg-type]
        dominant_tone=dominant,
        months=[VoiceMonth(month=m, **t.stats()) for m, t in sorted(months.items())],  # type: ignore[arg-type]
    )
