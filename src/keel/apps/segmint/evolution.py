"""How the voice changes: the style features per month or quarter, a distance between consecutive
periods (0 same … 1 unrecognisable) and what changed, in words; and a chart of it (SVG or PNG)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import select

from keel.apps.segmint import style
from keel.apps.segmint.models import Content
from keel.apps.segmint.schemas import VoicePeriod

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SOURCE_ROWS = 2000  # the latest pieces the evolution is computed from
CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
# feature, scale of a large change, words when it goes up, words when it goes down
NUMERIC = (
    ("sentence_length", 6.0, "sentences got longer", "sentences got shorter"),
    ("formality", 0.3, "more formal", "more casual"),
    ("question_share", 0.15, "more questions", "fewer questions"),
    ("exclamation_share", 0.15, "more exclamations", "fewer exclamations"),
    ("emoji_per_post", 1.0, "more emoji", "fewer emoji"),
    ("hashtags_per_post", 1.0, "more hashtags", "fewer hashtags"),
    ("vocabulary_richness", 0.15, "more varied vocabulary", "plainer vocabulary"),
)
NOTICEABLE = 0.25  # a change of a quarter of the scale is worth saying


def period_of(moment: datetime, period: str) -> str:
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return moment.strftime("%Y-%m")


def _distance(a: style.Features, b: style.Features) -> float:
    parts = [min(1.0, abs(getattr(a, n) - getattr(b, n)) / scale) for n, scale, _, _ in NUMERIC]
    ta, tb = set(a.topics[:5]), set(b.topics[:5])
    parts.append(1 - len(ta & tb) / len(ta | tb) if ta | tb else 0.0)
    parts.append(0.0 if a.point_of_view == b.point_of_view else 1.0)
    return round(sum(parts) / len(parts), 3)


def _changes(before: style.Features, now: style.Features, seen_topics: set[str]) -> list[str]:
    said = []
    for name, scale, up, down in NUMERIC:
        delta = getattr(now, name) - getattr(before, name)
        if abs(delta) >= NOTICEABLE * scale:
            said.append(up if delta > 0 else down)
    if now.point_of_view != before.point_of_view:
        said.append(f"point of view: {before.point_of_view} -> {now.point_of_view}")
    said += [f"new topic: {t}" for t in now.topics[:5] if t not in seen_topics]
    said += [f"dropped topic: {t}" for t in before.topics[:3] if t not in now.topics]
    return said


async def evolution(db: AsyncSession, workspace_id: UUID, period: str) -> list[VoicePeriod]:
    rows = await db.execute(
        select(Content.title, Content.text, Content.status, Content.tone, Content.created_at)
        .where(Content.workspace_id == workspace_id)
        .order_by(Content.created_at.desc())
        .limit(SOURCE_ROWS)
    )
    grouped: dict[str, list[style.Piece]] = {}
    for title, text, status, tone, created_at in rows:
        grouped.setdefault(period_of(created_at, period), []).append(style.Piece(text, title, status, tone))
    out: list[VoicePeriod] = []
    previous: style.Features | None = None
    seen: set[str] = set()
    for key in sorted(grouped):
        f = style.features(grouped[key], top=5)
        out.append(
            VoicePeriod(
                period=key,
                pieces=f.pieces,
                sentence_length=f.sentence_length,
                formality=f.formality,
                question_share=f.question_share,
                emoji_per_post=f.emoji_per_post,
                hashtags_per_post=f.hashtags_per_post,
                vocabulary_richness=f.vocabulary_richness,
                point_of_view=f.point_of_view,
                topics=f.topics,
                distance=_distance(previous, f) if previous else None,
                changes=_changes(previous, f, seen) if previous else [],
            )
        )
        seen |= set(f.topics[:5])
        previous = f
    return out


def render(periods: Sequence[VoicePeriod], fmt: str) -> bytes:
    """Three panels over the periods: sentence length, style shares, and the distance from the period
    before, with what changed written at each point. matplotlib is imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [p.period for p in periods]
    x = list(range(len(periods)))
    fig = Figure(figsize=(8, 7), dpi=100)
    length_ax, shares_ax, distance_ax = fig.subplots(3, 1, sharex=True)
    length_ax.plot(x, [p.sentence_length for p in periods], marker="o", color="#1f77b4")
    length_ax.set_ylabel("words / sentence")
    length_ax.set_title("How your voice changes")
    for name, label, color in (
        ("formality", "formality (0-1)", "#2ca02c"),
        ("question_share", "questions", "#d62728"),
        ("vocabulary_richness", "vocabulary", "#9467bd"),
    ):
        shares_ax.plot(x, [getattr(p, name) for p in periods], marker="o", label=label, color=color)
    shares_ax.set_ylim(0, 1)
    shares_ax.legend(loc="upper left", fontsize=8)
    distance_ax.bar(x, [p.distance or 0 for p in periods], color="#ff7f0e")
    distance_ax.set_ylim(0, 1)
    distance_ax.set_ylabel("change")
    for i, p in enumerate(periods):
        if p.changes:  # new topics first: they are what a person notices
            said = sorted(p.changes, key=lambda c: not c.startswith("new topic"))[:4]
            distance_ax.annotate("\n".join(said), (i, p.distance or 0), fontsize=7, ha="center", va="bottom")
    distance_ax.set_xticks(x, labels, rotation=30)
    fig.tight_layout()
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: smaller, searchable
        fig.savefig(buffer, format=fmt)
    return buffer.getvalue()


async def render_async(periods: Sequence[VoicePeriod], fmt: str) -> bytes:
    return await asyncio.to_thread(render, periods, fmt)
