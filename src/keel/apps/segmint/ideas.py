"""Idea suggestions behind one engine interface.

`LocalIdeaEngine` (default, no network, deterministic): topics are the key terms of the user's own content,
weighted by how far each piece got (published counts most), and ideas are phrased with the requested tone's
templates. `ModelIdeaEngine` (AI_BASE_URL set): the platform's language model (keel.core.llm), given the
same topics and the user's recent titles. Ideas are stored; accepting one creates a draft.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

import structlog
from sqlalchemy import func, select

from keel.apps.segmint import services, style
from keel.apps.segmint.drafting import material_of
from keel.apps.segmint.models import APPROVED, PUBLISHED, SCHEDULED, Content, Idea
from keel.apps.segmint.paging import paged
from keel.apps.segmint.schemas import ContentCreate, IdeaRead, IdeaRequest
from keel.apps.segmint.teams import Seat
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import Conflict, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.core.llm import LanguageModel

log = structlog.get_logger("keel.segmint.ideas")
STATUS_WEIGHT = {PUBLISHED: 3, SCHEDULED: 2, APPROVED: 2}  # what performed counts more than drafts
FALLBACK_TOPICS = (
    "behind the scenes",
    "lessons learned",
    "your audience",
    "tools you use",
    "common mistakes",
)
AVOID_RECENT = 500  # titles of the latest ideas are not suggested again

# tone -> (title, text) templates; {a} and {b} are topics
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "friendly": [
        (
            "Let's talk about {a}",
            "Share what {a} means to you and invite your readers to add their own take.",
        ),
        (
            "{A} and {b}: what I've learned",
            "A warm, personal story connecting {a} with {b}, ending with a question.",
        ),
        (
            "Your questions about {a}, answered",
            "Collect the questions people ask about {a} and answer three of them.",
        ),
    ],
    "professional": [
        (
            "A practical guide to {a}",
            "Step-by-step guidance on {a}, with one concrete example and a checklist.",
        ),
        (
            "How {a} shapes {b}",
            "Analyse the relationship between {a} and {b}, with evidence and a clear takeaway.",
        ),
        (
            "Five {a} mistakes to avoid",
            "List common pitfalls around {a} and how experienced teams avoid them.",
        ),
    ],
    "witty": [
        (
            "{A}: a love story nobody asked for",
            "A playful, self-aware take on your long relationship with {a}.",
        ),
        (
            "{A} vs {b}: the rematch",
            "Stage a mock showdown between {a} and {b}; let the audience vote for the winner.",
        ),
        (
            "Things {a} taught me (the hard way)",
            "A list of funny, honest lessons from {a}, each with a twist.",
        ),
    ],
    "casual": [
        ("Quick thoughts on {a}", "A short, relaxed post about {a} as you would tell it to a friend."),
        ("{A}, {b} and a coffee", "Ramble (in a good way) about how {a} and {b} show up in your week."),
        ("What's new with {a}", "A laid-back update on what you are trying with {a} right now."),
    ],
    "formal": [
        ("On the role of {a}", "A structured essay on {a}: context, argument and conclusion."),
        ("{A} and {b}: an assessment", "A measured comparison of {a} and {b} with sources and implications."),
        ("Principles of {a}", "Set out the principles that guide your work on {a}."),
    ],
    "inspirational": [
        ("Why {a} still matters", "A story of how {a} changed something for you, and a call to begin."),
        ("From {a} to {b}: a journey", "Trace your path from {a} to {b} and the turning points on the way."),
        ("Start small with {a}", "Encourage readers to take one small step with {a} today."),
    ],
    "informative": [
        ("{A} explained", "Explain {a} clearly for newcomers: what it is, why it matters, how to start."),
        ("{A} by the numbers", "Facts and figures about {a}, with what each means for your audience."),
        ("What {a} and {b} have in common", "Compare {a} and {b} point by point and summarise the overlap."),
    ],
    "playful": [
        ("If {a} were a person", "Personify {a}: its habits, its quirks, its best friend ({b})."),
        ("{A} bingo", "Make a bingo card of everyday {a} moments and ask followers to share theirs."),
        ("A tiny quiz about {a}", "Three light-hearted questions about {a}, answers at the end."),
    ],
}


@dataclass(frozen=True)
class IdeaDraft:
    title: str
    text: str
    topics: list[str]


@dataclass(frozen=True)
class Context:
    tone: str
    count: int
    topics: list[str]  # most important first
    recent_titles: list[str]
    avoid: frozenset[str]  # titles already suggested


class IdeaEngine(Protocol):
    name: str

    async def suggest(self, context: Context) -> list[IdeaDraft]: ...


class LocalIdeaEngine:
    name = "local"

    async def suggest(self, context: Context) -> list[IdeaDraft]:
        topics = list(dict.fromkeys(context.topics)) or list(FALLBACK_TOPICS)
        if len(topics) == 1:
            topics.append(FALLBACK_TOPICS[0])
        templates = TEMPLATES[context.tone]
        out: list[IdeaDraft] = []
        seen = set(context.avoid)
        # walk topic pairs in order of importance, rotating templates, until enough fresh titles
        for i, a in enumerate(topics):
            for b in topics[i + 1 :] + topics[:i]:
                title_t, text_t = templates[(len(out) + i) % len(templates)]
                values = {"a": a, "b": b, "A": a[:1].upper() + a[1:]}
                title = title_t.format(**values)[:200]
                if title.lower() in seen:
                    continue
                seen.add(title.lower())
                used = [a, b] if "{b}" in title_t + text_t else [a]
                out.append(IdeaDraft(title=title, text=text_t.format(**values), topics=used))
                if len(out) == context.count:
                    return out
        return out


IDEAS_SCHEMA = {
    "title": "ideas",
    "type": "object",
    "properties": {
        "ideas": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "text": {"type": "string", "maxLength": 5000},
                    "topics": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 5},
                },
                "required": ["title", "text", "topics"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["ideas"],
    "additionalProperties": False,
}


class ModelIdeaEngine:
    """Ideas from the platform's language model (keel.core.llm), asked for as schema-checked JSON."""

    def __init__(self, llm: LanguageModel, user_id: UUID) -> None:
        self.llm = llm
        self.user_id = user_id
        self.name = llm.model[:100]

    async def suggest(self, context: Context) -> list[IdeaDraft]:
        topics = ", ".join(context.topics) or "not known yet"
        recent = "; ".join(context.recent_titles) or "none"
        avoid = "; ".join(sorted(context.avoid)) or "none"
        prompt = (
            f"Suggest {context.count} content ideas in a {context.tone} tone for a creator whose recurring "
            f"topics are: {topics}. Recent titles: {recent}. Do not repeat these titles: {avoid}. "
            "Each idea has a title, one or two sentences of text, and its topics."
        )
        messages = [
            {
                "role": "system",
                "content": "You suggest social media content ideas. You answer with JSON only.",
            },
            {"role": "user", "content": prompt},
        ]
        answer = await self.llm.complete(
            messages, user_id=self.user_id, app="segmint", json_schema=IDEAS_SCHEMA, temperature=0.7
        )
        drafts = [
            IdeaDraft(
                title=i["title"].strip()[:200], text=(i["text"] or i["title"]).strip(), topics=i["topics"]
            )
            for i in answer.data["ideas"]
            if i["title"].strip()
        ]
        if not drafts:
            raise ServiceUnavailable("The language model suggested nothing")
        return drafts[: context.count]


def engine_for(llm: LanguageModel | None, user_id: UUID) -> IdeaEngine:
    return ModelIdeaEngine(llm, user_id) if llm is not None else LocalIdeaEngine()


async def context_for(db: AsyncSession, workspace_id: UUID, data: IdeaRequest) -> Context:
    pieces = await material_of(db, workspace_id)
    weights: Counter[str] = Counter()
    tones: Counter[str] = Counter()
    for title, text, status, tone in ((p.title, p.text, p.status, p.tone) for p in pieces):
        weight = STATUS_WEIGHT.get(status, 1)
        tones[tone] += weight
        # topic words only: no placeholders ("content", "sample") and no everyday adverbs ("back")
        for term, n in Counter(style.topic_terms(f"{title} {text}")).items():
            weights[term] += n * weight
    topics = [t for t, _ in sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:8]]
    if data.topic:
        topics = [data.topic.strip(), *[t for t in topics if t != data.topic.strip()]]
    avoid = await db.scalars(
        select(func.lower(Idea.title))
        .where(Idea.workspace_id == workspace_id)
        .order_by(Idea.created_at.desc())
        .limit(AVOID_RECENT)
    )
    usual = min(tones, key=lambda t: (-tones[t], t)) if tones else "friendly"
    return Context(
        tone=data.tone or usual,
        count=data.count,
        topics=topics,
        recent_titles=[p.title for p in pieces[:5]],
        avoid=frozenset(avoid.all()),
    )


async def suggest(db: AsyncSession, llm: LanguageModel | None, seat: Seat, data: IdeaRequest) -> list[Idea]:
    seat.require(team_roles.WRITE_IDEAS, "ask for ideas")
    engine = engine_for(llm, seat.user_id)  # token quotas are per person
    context = await context_for(db, seat.workspace_id, data)
    drafts = await engine.suggest(context)
    rows = [
        Idea(
            owner_id=seat.user_id,
            workspace_id=seat.workspace_id,
            title=d.title,
            text=d.text,
            tone=context.tone,
            topics=d.topics,
            engine=engine.name,
            status="new",
        )
        for d in drafts
    ]
    db.add_all(rows)
    await db.flush()
    return rows


def idea_read(row: Idea) -> IdeaRead:
    return IdeaRead(
        id=row.id,
        title=row.title,
        text=row.text,
        tone=row.tone,
        topics=list(row.topics or []),
        engine=row.engine,
        status=row.status,
        content_id=row.content_id,
        created_at=row.created_at,  # type: ignore[arg-type]
    )


async def list_ideas(
    db: AsyncSession, seat: Seat, *, status: str | None, limit: int, offset: int
) -> tuple[list[Idea], int]:
    conditions = [Idea.workspace_id == seat.workspace_id] + ([Idea.status == status] if status else [])
    order = (Idea.created_at.desc(), Idea.id)
    return await paged(db, Idea, conditions, select(Idea), order_by=order, limit=limit, offset=offset)


async def _get(db: AsyncSession, seat: Seat, idea_id: UUID) -> Idea:
    row = await db.scalar(
        select(Idea).where(Idea.id == idea_id, Idea.workspace_id == seat.workspace_id).with_for_update()
    )
    if row is None:
        raise NotFound("Idea not found")
    seat.require(team_roles.WRITE_IDEAS, "accept or dismiss ideas")
    if row.status != "new":
        raise Conflict(f"This idea was already {row.status}", details={"status": row.status})
    return row


async def accept(db: AsyncSession, seat: Seat, idea_id: UUID) -> Content:
    idea = await _get(db, seat, idea_id)
    tags = [re.sub(r"[^a-z0-9_-]+", "-", t.lower()).strip("-")[:50] for t in idea.topics]
    content = await services.create_content(
        db,
        seat,
        ContentCreate(text=idea.text, tone=idea.tone, title=idea.title, tags=[t for t in tags if t][:20]),  # type: ignore[arg-type]
        event="created_from_idea",
    )
    idea.status, idea.content_id = "accepted", content.id
    await db.flush()
    return content


async def dismiss(db: AsyncSession, seat: Seat, idea_id: UUID) -> Idea:
    idea = await _get(db, seat, idea_id)
    idea.status = "dismissed"
    await db.flush()
    return idea
