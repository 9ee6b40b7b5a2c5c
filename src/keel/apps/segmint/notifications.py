"""Notifications: submitted, approved, rejected, published, failed. Each is a row the user lists and marks
read, a realtime event on their `user:<id>:segmint` channel, and an email when they opted in for that kind.

Rows are written in the caller's transaction; the event and mail go out only after it commits (an
`after_commit` hook on the session), so nobody hears of something that was rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint.models import Content, Notification, NotificationPreference
from keel.apps.segmint.paging import paged

log = structlog.get_logger("keel.segmint.notifications")
KINDS = ("submitted", "approved", "rejected", "published", "failed")
_OUTBOX = "segmint_notifications"
_tasks: set[asyncio.Task[None]] = set()  # keep fire-and-forget deliveries alive until done


def notify(
    db: AsyncSession,
    user_ids: Iterable[UUID | None],
    kind: str,
    content: Content,
    body: str = "",
    *,
    actor_id: UUID | None = None,
) -> None:
    """Tell these people (never the one who acted) that `kind` happened to `content`."""
    people = sorted({u for u in user_ids if u is not None and u != actor_id})
    if not people:
        return
    title = f"{kind.capitalize()}: {content.title}"[:300]
    rows = [
        Notification(
            user_id=u,
            workspace_id=content.workspace_id,
            content_id=content.id,
            kind=kind,
            title=title,
            body=body,
        )
        for u in people
    ]
    db.add_all(rows)
    outbox = db.info.setdefault(_OUTBOX, [])
    if not outbox:
        sync = db.sync_session
        event.listen(sync, "after_commit", _after_commit, once=True)
        event.listen(sync, "after_rollback", _after_rollback, once=True)
    outbox.extend(rows)


def _after_rollback(session: Any) -> None:
    session.info.pop(_OUTBOX, None)


def _after_commit(session: Any) -> None:
    rows: list[Notification] = session.info.pop(_OUTBOX, [])
    settings = session.info.get("segmint_settings")
    messages = [
        {
            "user_id": r.user_id,
            "event": {
                "type": "segmint.notification",
                "id": str(r.id),
                "kind": r.kind,
                "title": r.title,
                "body": r.body,
                "content_id": str(r.content_id) if r.content_id else None,
                "workspace_id": str(r.workspace_id) if r.workspace_id else None,
            },
        }
        for r in rows
    ]
    if not messages:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(_deliver(messages, settings, session.bind))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def deliveries_done() -> None:
    """Wait until every delivery this event loop started has finished (its events sent, its mails
    tried); a delivery of a loop that has stopped never will."""
    loop = asyncio.get_running_loop()
    while running := [task for task in _tasks if task.get_loop() is loop]:
        await asyncio.gather(*running, return_exceptions=True)


async def _deliver(messages: list[dict[str, Any]], settings: Any, bind: Any) -> None:
    """Realtime events, then the mails people opted in for; failures are logged, never raised."""
    from keel.core.realtime import notify as realtime_notify
    from keel.core.realtime import user_channel

    if settings is None:
        from keel.settings import get_settings

        settings = get_settings()
    for message in messages:
        try:
            await realtime_notify(
                user_channel(message["user_id"], "segmint"), message["event"], settings=settings
            )
        except Exception:
            log.warning("segmint_notification_event_failed", exc_info=True)
    try:
        await _mail(messages, settings, bind)
    except Exception:
        log.warning("segmint_notification_mail_failed", exc_info=True)


async def _mail(messages: list[dict[str, Any]], settings: Any, bind: Any) -> None:
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

    from keel.identity import Mailer, user_summaries

    engine = AsyncEngine(bind.engine) if bind is not None and not isinstance(bind, AsyncEngine) else bind
    if engine is None:
        return
    people = {m["user_id"] for m in messages}
    async with async_sessionmaker(engine)() as db:
        wanted = dict(
            (
                await db.execute(
                    select(NotificationPreference.user_id, NotificationPreference.email_kinds).where(
                        NotificationPreference.user_id.in_(people)
                    )
                )
            ).all()
        )
        if not wanted:
            return
        who = await user_summaries(db, wanted, active_only=True)
    mailer = Mailer(settings)
    link = settings.frontend_url.rstrip("/")
    for message in messages:
        user_id, body = message["user_id"], message["event"]
        if body["kind"] not in (wanted.get(user_id) or ()) or user_id not in who:
            continue
        text = f"{body['title']}\n\n{body['body']}\n\n{link}/segmint/content/{body['content_id']}\n"
        await mailer.send(who[user_id].email, f"[segmint] {body['title']}"[:200], text)


# --------------------------------------------------------------------------- reading


async def list_mine(
    db: AsyncSession, user_id: UUID, *, unread: bool | None, limit: int, offset: int
) -> tuple[list[Notification], int, int]:
    conditions: list[Any] = [Notification.user_id == user_id]
    if unread is True:
        conditions.append(Notification.read_at.is_(None))
    elif unread is False:
        conditions.append(Notification.read_at.is_not(None))
    order = (Notification.created_at.desc(), Notification.id.desc())
    rows, total = await paged(
        db, Notification, conditions, select(Notification), order_by=order, limit=limit, offset=offset
    )
    unread_count = (
        await db.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )
    return rows, total, unread_count


async def mark_read(db: AsyncSession, user_id: UUID, notification_id: UUID) -> Notification:
    from keel.core.errors import NotFound

    row = await db.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if row is None:
        raise NotFound("Notification not found")
    if row.read_at is None:
        row.read_at = datetime.now(UTC)
        await db.flush()
    return row


async def mark_all_read(db: AsyncSession, user_id: UUID) -> int:
    result = await db.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def email_kinds(db: AsyncSession, user_id: UUID) -> list[str]:
    kinds = await db.scalar(
        select(NotificationPreference.email_kinds).where(NotificationPreference.user_id == user_id)
    )
    return sorted(kinds or [])


async def set_email_kinds(db: AsyncSession, user_id: UUID, kinds: Iterable[str]) -> list[str]:
    wanted = sorted(set(kinds))
    row = await db.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user_id))
    if row is None:
        db.add(NotificationPreference(user_id=user_id, email_kinds=wanted))
    else:
        row.email_kinds = wanted
    await db.flush()
    return wanted
