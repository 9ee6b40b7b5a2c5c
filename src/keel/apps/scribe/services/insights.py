"""A summary and translations of a transcript, through the platform's language model (keel.core.llm),
stored beside the transcript (one summary, one translation per language) and carried into its exports.

Without a model server (AI_BASE_URL empty) a summary is still made, offline: the transcript's most
representative sentences (word-frequency scoring, Luhn's method), labelled `engine: "extractive"`. A
translation cannot be made without a model: 503 MODEL_UNAVAILABLE with Retry-After. Errors of the model
(down, overloaded, bad output) are the model component's 503/502, and nothing is stored then.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from keel.apps.scribe import engines as eng
from keel.apps.scribe.models import COMPLETED, Summary, Transcription, Translation
from keel.apps.scribe.schemas import SummaryRead, TranslationRead
from keel.apps.scribe.services.transcriptions import get_transcription
from keel.core.errors import Conflict, NotFound, ValidationFailed
from keel.core.llm import ModelBadOutput, ModelUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.llm import LanguageModel

EXTRACTIVE = "extractive"
APP = "scribe"
SUMMARY_CHARS = 24_000  # transcript characters per model call; longer ones are summarised in parts
TRANSLATION_BATCH = 40  # segments per model call (and at most this many characters)
TRANSLATION_CHARS = 6_000
_STOP = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its me my no not of on or "
    "our she so than that the their them then there these they this to was we were what when which who "
    "will with you your yes okay um uh like just do does did can could would should about also very".split()
)


def language_name(code: str) -> str:
    names = {v: k for k, v in eng.LANGUAGE_NAMES.items()}
    return names.get(code, code).title()


async def _completed(db: AsyncSession, owner_id: uuid.UUID, tid: uuid.UUID) -> Transcription:
    row = await get_transcription(db, owner_id, tid, segments=True)
    if row.status != COMPLETED:
        raise Conflict(f"Only a completed transcription has a transcript (this one is {row.status})")
    if not row.text.strip():
        raise Conflict("The transcript is empty: there is nothing to summarise or translate")
    return row


# --------------------------------------------------------------------------- summaries


def extractive_summary(text: str, sentences: int = 5) -> str:
    """The `sentences` sentences whose words the transcript uses most, in their original order."""
    units = [s.strip() for s in re.split(r"(?<=[.!?…])\s+", text) if s.strip()]
    if len(units) <= 1:  # no punctuation (some engines): chunks of about 20 words instead
        tokens = text.split()
        units = [" ".join(tokens[i : i + 20]) for i in range(0, len(tokens), 20)]
    keep = max(1, min(sentences, (len(units) + 3) // 4))
    if len(units) <= keep:
        return " ".join(units)

    def content(unit: str) -> list[str]:
        return [w for w in re.findall(r"\w+", unit.casefold()) if w not in _STOP and len(w) > 2]

    frequency = Counter(w for unit in units for w in content(unit))
    scores = [
        sum(frequency[w] for w in set(content(unit))) / (len(content(unit)) ** 0.5 or 1) for unit in units
    ]
    best = sorted(sorted(range(len(units)), key=lambda i: -scores[i])[:keep])
    return " ".join(units[i] for i in best)


async def _model_summary(llm: LanguageModel, owner_id: uuid.UUID, row: Transcription) -> str:
    async def summarise(text: str, what: str) -> str:
        answer = await llm.complete(
            [
                {
                    "role": "system",
                    "content": "You summarise transcripts of recordings. Write a concise summary in the "
                    "transcript's own language: first one or two sentences on what it is about, then the "
                    "key points, decisions and action items as short paragraphs. No preamble.",
                },
                {"role": "user", "content": f"{what}:\n\n{text}"},
            ],
            user_id=owner_id,
            app=APP,
            temperature=0.2,
        )
        if not answer.text.strip():
            raise ModelBadOutput("The language model gave an empty summary")
        return answer.text.strip()

    text = row.text
    if len(text) <= SUMMARY_CHARS:
        return await summarise(text, f"Transcript of {row.title!r}")
    parts = [text[i : i + SUMMARY_CHARS] for i in range(0, len(text), SUMMARY_CHARS)]
    partial = [
        await summarise(p, f"Part {n + 1} of {len(parts)} of a transcript") for n, p in enumerate(parts)
    ]
    return await summarise("\n\n".join(partial), "Summaries of consecutive parts of one transcript")


def summary_read(summary: Summary, row: Transcription) -> SummaryRead:
    return SummaryRead(
        transcription_id=row.id,
        text=summary.text,
        engine=summary.engine,
        revision=summary.revision,
        outdated=summary.revision != row.revision,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
    )


async def summarise(
    db: AsyncSession, llm: LanguageModel | None, owner_id: uuid.UUID, tid: uuid.UUID
) -> tuple[Summary, Transcription]:
    """Make (or make again) the transcript's summary and store it."""
    row = await _completed(db, owner_id, tid)
    if llm is not None:
        text, engine = await _model_summary(llm, owner_id, row), llm.model[:100]
    else:
        text, engine = extractive_summary(row.text), EXTRACTIVE
    summary = await db.scalar(select(Summary).where(Summary.transcription_id == row.id))
    if summary is None:
        summary = Summary(transcription_id=row.id, text=text, engine=engine, revision=row.revision)
        db.add(summary)
    else:
        summary.text, summary.engine, summary.revision = text, engine, row.revision
    await db.flush()
    await db.refresh(summary)
    return summary, row


async def get_summary(db: AsyncSession, owner_id: uuid.UUID, tid: uuid.UUID) -> tuple[Summary, Transcription]:
    row = await get_transcription(db, owner_id, tid)
    summary = await db.scalar(select(Summary).where(Summary.transcription_id == row.id))
    if summary is None:
        raise NotFound("This transcription has no summary yet: POST …/summary makes one")
    return summary, row


# --------------------------------------------------------------------------- translations


def _batches(texts: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        if current and (len(current) >= TRANSLATION_BATCH or size + len(text) > TRANSLATION_CHARS):
            out.append(current)
            current, size = [], 0
        current.append(text)
        size += len(text)
    if current:
        out.append(current)
    return out


async def _translate(llm: LanguageModel, owner_id: uuid.UUID, texts: list[str], language: str) -> list[str]:
    out: list[str] = []
    name = language_name(language)
    for batch in _batches(texts):
        schema: dict[str, Any] = {
            "title": "translation",
            "type": "object",
            "properties": {
                "segments": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": len(batch),
                    "maxItems": len(batch),
                }
            },
            "required": ["segments"],
            "additionalProperties": False,
        }
        answer = await llm.complete(
            [
                {
                    "role": "system",
                    "content": f"You translate transcript segments into {name} ({language}). Translate each "
                    "segment on its own, keep their number and order, keep names as they are, and answer "
                    'as JSON: {"segments": [one translated string per segment]}.',
                },
                {"role": "user", "content": json.dumps({"segments": batch}, ensure_ascii=False)},
            ],
            user_id=owner_id,
            app=APP,
            json_schema=schema,
            temperature=0.1,
        )
        out.extend(str(s) for s in answer.data["segments"])
    return out


def translation_read(translation: Translation, row: Transcription) -> TranslationRead:
    segments = [str(s) for s in translation.segments or []]
    return TranslationRead(
        transcription_id=row.id,
        language=translation.language,
        engine=translation.engine,
        revision=translation.revision,
        outdated=translation.revision != row.revision,
        text=" ".join(s for s in segments if s),
        segments=segments,
        created_at=translation.created_at,
        updated_at=translation.updated_at,
    )


async def translate(
    db: AsyncSession, llm: LanguageModel | None, owner_id: uuid.UUID, tid: uuid.UUID, language: str
) -> tuple[Translation, Transcription]:
    if language not in eng.WHISPER_LANGUAGES or language == "auto":
        raise ValidationFailed(details={"language": f"{language!r} is not a language code this server knows"})
    row = await _completed(db, owner_id, tid)
    if llm is None:
        raise ModelUnavailable(
            "Translation needs a language model and none is configured on this server (AI_BASE_URL). "
            "A summary works without one."
        )
    segments = sorted(row.segments, key=lambda s: s.index)
    texts = await _translate(llm, owner_id, [s.text for s in segments], language)
    translation = await db.scalar(
        select(Translation).where(Translation.transcription_id == row.id, Translation.language == language)
    )
    if translation is None:
        translation = Translation(
            transcription_id=row.id,
            language=language,
            segments=texts,
            engine=llm.model[:100],
            revision=row.revision,
        )
        db.add(translation)
    else:
        translation.segments, translation.engine, translation.revision = texts, llm.model[:100], row.revision
    await db.flush()
    await db.refresh(translation)
    return translation, row


async def get_translation(
    db: AsyncSession, owner_id: uuid.UUID, tid: uuid.UUID, language: str
) -> tuple[Translation, Transcription]:
    row = await get_transcription(db, owner_id, tid, segments=True)
    translation = await db.scalar(
        select(Translation).where(Translation.transcription_id == row.id, Translation.language == language)
    )
    if translation is None:
        raise NotFound(f"This transcription has no {language} translation yet: POST …/translations makes one")
    return translation, row


async def list_translations(
    db: AsyncSession, owner_id: uuid.UUID, tid: uuid.UUID, limit: int, offset: int
) -> tuple[list[TranslationRead], int]:
    row = await get_transcription(db, owner_id, tid, segments=True)
    mine = Translation.transcription_id == row.id
    total = await db.scalar(select(func.count()).select_from(Translation).where(mine)) or 0
    rows = await db.scalars(
        select(Translation).where(mine).order_by(Translation.language).limit(limit).offset(offset)
    )
    return [translation_read(t, row) for t in rows], total
