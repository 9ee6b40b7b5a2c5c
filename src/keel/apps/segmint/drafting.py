"""The writing services: generate drafts in the workspace's voice (at once, or streamed as they are
written), rewrite a draft, score a text. The engines are in `writer`.

Streaming (`stream`): the text of each platform's draft arrives as it is written (a model's tokens
through `LanguageModel.stream`, or the local engine's sentences), then the drafts are stored like
`generate` stores them. A model that fails before its first token raises before anything is sent (503);
nothing is stored unless every draft was written."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select

from keel.apps.segmint import networks, services, style
from keel.apps.segmint.models import Content
from keel.apps.segmint.schemas import ContentCreate, ContentUpdate
from keel.apps.segmint.teams import Seat
from keel.apps.segmint.teams import roles as team_roles
from keel.apps.segmint.writer import WORDS_FOR, Brief, LocalWriter, Variant, _few_shot, _system, writer_for
from keel.core.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.llm import LanguageModel

SOURCE_ROWS = 200  # the user's most recent pieces the writer learns from


async def material_of(db: AsyncSession, workspace_id: UUID, *, but: UUID | None = None) -> list[style.Piece]:
    """The workspace's own content, newest first: the voice is the workspace's."""
    query = (
        select(Content.title, Content.text, Content.status, Content.tone)
        .where(Content.workspace_id == workspace_id)
        .order_by(Content.created_at.desc())
        .limit(SOURCE_ROWS)
    )
    if but is not None:
        query = query.where(Content.id != but)
    return [
        style.Piece(text=t, title=ti, status=s, tone=to) for ti, t, s, to in (await db.execute(query)).all()
    ]


@dataclass
class Generated:
    engine: str
    drafts: list[tuple[Content, Variant, int]]  # content row, its variant, its voice score


@dataclass
class Prepared:
    """What a generation starts from: the brief, the workspace's voice, exemplars and material."""

    brief: Brief
    voice: style.Features
    examples: list[style.Piece]
    material: list[style.Piece]


async def prepare(db: AsyncSession, seat: Seat, data: Any) -> Prepared:
    seat.require(team_roles.WRITE, "write content")
    material = await material_of(db, seat.workspace_id)
    voice = style.features(material)
    tone = data.tone or (
        max({p.tone for p in material}, key=[p.tone for p in material].count) if material else "friendly"
    )
    brief = Brief(
        data.brief.strip(), tone, list(dict.fromkeys(data.platforms)), data.length, data.source_text
    )
    examples = style.exemplars(material, f"{brief.brief} {brief.source_text or ''}")
    return Prepared(brief, voice, examples, material)


async def store(
    db: AsyncSession, seat: Seat, prepared: Prepared, variants: list[Variant]
) -> list[tuple[Content, Variant, int]]:
    """Each variant becomes a draft (content version 1), with its voice score."""
    drafts = []
    for variant in variants:
        row = await services.create_content(
            db,
            seat,
            ContentCreate(text=variant.text, tone=prepared.brief.tone, platforms=[variant.platform]),  # type: ignore[arg-type]
            event="generated",
        )
        drafts.append((row, variant, style.score(variant.text, prepared.voice)[0]))
    return drafts


async def generate(db: AsyncSession, llm: LanguageModel | None, seat: Seat, data: Any) -> Generated:
    prepared = await prepare(db, seat, data)
    writer = writer_for(llm, seat.user_id)
    p = prepared
    variants = await writer.generate(p.brief, p.voice, p.examples, p.material)  # a failure stores nothing
    return Generated(engine=writer.name, drafts=await store(db, seat, prepared, variants))


@dataclass(frozen=True)
class Delta:
    platform: str
    text: str


def engine_name(llm: LanguageModel | None) -> str:
    return llm.model[:100] if llm is not None else LocalWriter.name


async def stream(llm: LanguageModel | None, seat: Seat, prepared: Prepared) -> AsyncIterator[Delta | Variant]:
    """Each platform's draft as it is written (`Delta`s), then that platform's finished `Variant`
    (fitted to the network's limit). A model is asked for the post text alone, one platform at a time."""
    p = prepared
    if llm is None:
        for variant in await LocalWriter().generate(p.brief, p.voice, p.examples, p.material):
            for piece in re.findall(r"\S+\s*", variant.text):  # the composed text, word by word
                yield Delta(variant.platform, piece)
            yield variant
        return
    for platform in p.brief.platforms:
        limit = networks.LIMITS.get(platform)
        ask = (
            f"Brief: {p.brief.brief}\nTone: {p.brief.tone}\nLength: {p.brief.length} (about "
            f"{WORDS_FOR[p.brief.length]} words)\nPlatform: {platform}"
            f"{f' (at most {limit} characters as that network counts)' if limit else ''}.\n"
            "Answer with the post text only."
        )
        if p.brief.source_text:
            ask += f"\nSource material:\n{p.brief.source_text[:8000]}"
        messages = [{"role": "system", "content": _system(p.voice)}, *_few_shot(p.examples)]
        messages.append({"role": "user", "content": ask})
        written = []
        async for event in llm.stream(messages, user_id=seat.user_id, app="segmint", temperature=0.7):
            if event.delta:
                written.append(event.delta)
                yield Delta(platform, event.delta)
        text = "".join(written).strip() or p.brief.brief
        yield Variant(platform=platform, text=networks.fit(text, platform))


async def rewrite(
    db: AsyncSession, llm: LanguageModel | None, seat: Seat, content_id: UUID, data: Any
) -> tuple[Content, str, int]:
    row = await services.get_content(db, seat, content_id, lock=True)
    if data.operation == "tone" and data.tone is None:
        raise ValidationFailed(details={"tone": "required for the tone operation"})
    if data.operation == "platform" and data.platform is None:
        raise ValidationFailed(details={"platform": "required for the platform operation"})
    material = await material_of(db, row.workspace_id, but=row.id)
    voice = style.features(material)
    examples = style.exemplars(material, row.text)
    writer = writer_for(llm, seat.user_id)
    tone = data.tone or row.tone
    text = await writer.rewrite(
        row.text,
        data.operation,
        tone=tone,
        platform=data.platform,
        voice=voice,
        examples=examples,
        material=material,
    )
    update: dict[str, Any] = {"text": text[:20_000]}
    if data.operation == "tone":
        update["tone"] = tone
    if data.operation == "platform":
        update["platforms"] = [data.platform]
    row = await services.update_content(db, seat, content_id, ContentUpdate(**update))
    return row, writer.name, style.score(text, voice)[0]


async def score_text(
    db: AsyncSession, workspace_id: UUID, text: str
) -> tuple[int, list[style.Difference], style.Features]:
    voice = style.features(await material_of(db, workspace_id))
    value, differences = style.score(text, voice)
    return value, differences, voice
