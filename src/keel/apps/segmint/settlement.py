"""How a publication settles once every target has answered: the schedule's status (published, partial,
failed), the content's (published, or back to approved), the notifications to the author and whoever
scheduled it (one line per target), and the owner's realtime event. Pending targets: `StillPending`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from keel.apps.segmint import notifications, services
from keel.apps.segmint.models import APPROVED, DELIVERED, PENDING, PUBLISHED, SCHEDULED, Content, Schedule

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.publishing")


class StillPending(Exception):
    """Some targets failed transiently: the job raises this so procrastinate retries with backoff."""


def _schedules() -> Any:
    return select(Schedule).options(selectinload(Schedule.deliveries))


async def finish(sessions: async_sessionmaker[AsyncSession], settings: Settings, schedule_id: UUID) -> str:
    status, event = await _settle(sessions, settings, schedule_id)
    if event is not None:
        await _announce(settings, event)
    return status


async def _announce(settings: Settings, event: dict[str, Any]) -> None:
    """The owner's `user:<id>:segmint` channel hears how a publication ended; never fails the job."""
    from keel.core.realtime import notify, user_channel

    try:
        await notify(user_channel(event.pop("owner_id"), "segmint"), event, settings=settings)
    except Exception:
        log.warning("segmint_announce_failed", schedule_id=event.get("id"), exc_info=True)


async def _settle(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, schedule_id: UUID
) -> tuple[str, dict[str, Any] | None]:
    async with sessions() as db, db.begin():
        db.info["segmint_settings"] = settings  # the notification mails go out after the commit
        schedule = await db.scalar(
            _schedules().where(Schedule.id == schedule_id).with_for_update(of=Schedule)
        )
        if schedule is None:
            return "missing", None
        states = [d.status for d in schedule.deliveries]
        if PENDING in states:
            raise StillPending(f"{states.count(PENDING)} target(s) failed transiently; retrying")
        content = await db.scalar(
            select(Content).where(Content.id == schedule.content_id).with_for_update(of=Content)
        )
        delivered = states.count(DELIVERED)
        schedule.finished_at = datetime.now(UTC)
        schedule.status = "published" if delivered == len(states) else "partial" if delivered else "failed"
        if content is not None and content.status == SCHEDULED:
            if delivered:
                services.move(
                    db,
                    content,
                    PUBLISHED,
                    action="published",
                    actor_id=None,
                    comment=f"delivered to {delivered} of {len(states)} target(s)",
                )
                content.published_at = schedule.finished_at
            else:
                services.move(
                    db,
                    content,
                    APPROVED,
                    action="publish_failed",
                    actor_id=None,
                    comment="; ".join(sorted({d.error or "" for d in schedule.deliveries}))[:2000],
                )
        if content is not None:  # the author and whoever scheduled it hear how it ended
            notifications.notify(
                db,
                [content.owner_id, schedule.owner_id],
                "published" if delivered else "failed",
                content,
                _outcome(schedule),
            )
        event = {
            "type": "segmint.schedule",
            "id": str(schedule.id),
            "content_id": str(schedule.content_id),
            "status": schedule.status,
            "delivered": delivered,
            "targets": len(states),
            "owner_id": str(schedule.owner_id),
        }
        return schedule.status, event


def _outcome(schedule: Schedule) -> str:
    """What each target answered, one line per target (what a person checks first)."""
    lines = []
    for d in schedule.deliveries:
        said = (d.external_url or d.external_id) if d.status == DELIVERED else d.error
        lines.append(f"{d.integration_name}: {d.status}{f' ({said})' if said else ''}")
    return "\n".join(lines)[:2000]
