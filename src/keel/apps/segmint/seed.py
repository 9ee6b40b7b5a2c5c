"""Demo data for segmint: a demo creator with a few pieces of content (idempotent: skipped when the demo
account already has content). Outside production only. The account's password is random (nobody knows
it): use "forgot password" in development to sign in as it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from keel.apps.segmint import services
from keel.apps.segmint.models import Content
from keel.apps.segmint.schemas import ContentCreate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

DEMO_EMAIL = "segmint-demo@example.com"  # ensure_user refuses reserved names such as .local
DEMO_CONTENT = (
    ContentCreate(
        title="Morning routines for creators",
        text="Coffee first. Then one hour of writing before any notifications. Routines beat motivation.",
        tone="friendly",
        platforms=["twitter", "linkedin"],
        tags=["routines", "writing"],
    ),
    ContentCreate(
        title="Batching content saves hours",
        text="Plan a week of posts in one sitting. Batching keeps your voice consistent and frees your "
        "afternoons.",
        tone="professional",
        platforms=["linkedin", "blog"],
        tags=["productivity"],
    ),
    ContentCreate(
        title="My camera and I are not speaking",
        text="Day three of the great lighting feud. The camera wants golden hour; I want lunch.",
        tone="witty",
        platforms=["instagram"],
        tags=["video", "behind-the-scenes"],
    ),
)


async def seed(session: AsyncSession, settings: Settings | None = None) -> None:
    if settings is not None and (settings.is_production or "segmint" not in settings.apps):
        return
    from keel.apps.segmint.teams import ensure_personal, ensure_roles
    from keel.identity import ensure_user

    user_id = await ensure_user(session, email=DEMO_EMAIL, name="Segmint Demo", settings=settings)
    await ensure_roles(session)  # the owner membership names a role
    await ensure_personal(session, user_id)
    if await session.scalar(select(func.count()).select_from(Content).where(Content.owner_id == user_id)):
        return
    for data in DEMO_CONTENT:
        await services.create_content(session, user_id, data)
