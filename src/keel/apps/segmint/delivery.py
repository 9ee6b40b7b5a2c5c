"""The delivery run the `segmint:publish` job performs, and the adapter each target posts through.

Idempotent delivery: each target's outcome is committed as soon as it is known, a re-run skips targets
already delivered, and every request carries an idempotency key (the delivery id: `Idempotency-Key` for
Mastodon and webhooks, `webhook-id` for Standard Webhooks receivers). A thread records each part as it is
posted, so a retry after a failure half-way resumes with the next part, replying to the last one. A 429
with Retry-After holds that target until then. Tokens due to expire are refreshed first and stored again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import selectinload

from keel.apps.segmint import connections, media
from keel.apps.segmint.credentials import decrypt, target_problem
from keel.apps.segmint.models import (
    DELIVERED,
    FAILED,
    PENDING,
    SCHEDULE_ACTIVE,
    Content,
    Delivery,
    Integration,
    Schedule,
)
from keel.apps.segmint.network_models import Connection, OAuthApp
from keel.apps.segmint.networks import bluesky, linkedin, mastodon, validation, webhook, x
from keel.apps.segmint.networks.base import Account, Attachment, Progress, Published, PublishFailed
from keel.apps.segmint.settlement import finish

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.publishing")


@dataclass(frozen=True)
class Post:
    delivery_id: str
    content_id: str
    title: str
    text: str
    tone: str
    tags: list[str]
    platforms: list[str]
    media: tuple[Attachment, ...] = ()  # images: the first post of a thread carries them


@dataclass
class Target:
    provider: str
    url: str
    secret: str  # webhook signing secret (other providers post as `account`)
    account: Account | None = None
    app: OAuthApp | None = None
    connection_id: UUID | None = None
    done: list[dict[str, Any]] = field(default_factory=list)  # thread parts already posted


def target_of(
    settings: Settings, integration: Integration, connection: Connection | None, app: OAuthApp | None
) -> Target:
    if integration.provider == "webhook":
        return Target("webhook", integration.url, decrypt(settings, integration.secret_encrypted))
    account = connections.account_of(settings, integration, connection)
    return Target(
        integration.provider, integration.url, "", account, app, connection.id if connection else None
    )


async def verify(client: httpx.AsyncClient, settings: Settings, target: Target) -> str:
    """Prove the integration works without publishing: a signed `ping` to a webhook, the account the
    token belongs to on a network. The answer on success; raises PublishFailed otherwise."""
    if target.provider == "webhook":
        return await webhook.ping(client, target.url, target.secret)
    assert target.account is not None
    await connections.renew_if_due(client, settings, target.account, target.app)
    checks = {
        "mastodon": mastodon.verify,
        "x": x.verify,
        "linkedin": linkedin.verify,
        "bluesky": bluesky.verify,
    }
    return await checks[target.provider](client, target.account)


async def deliver(
    client: httpx.AsyncClient, settings: Settings, target: Target, post: Post, parts: list[str]
) -> Published:
    if target.provider == "webhook":
        event = {
            "type": "content.published",
            "timestamp": datetime.now(UTC).isoformat(),
            "event": "content.published",
            "delivery_id": post.delivery_id,
            "content_id": post.content_id,
            "title": post.title,
            "text": post.text,
            "tone": post.tone,
            "tags": post.tags,
            "platforms": post.platforms,
        }
        return await webhook.publish(client, target.url, target.secret, post.delivery_id, event)
    account = target.account
    if account is None:
        raise PublishFailed(f"Unknown provider {target.provider!r}", transient=False)
    await connections.renew_if_due(client, settings, account, target.app)
    if target.provider == "linkedin":
        return await linkedin.publish(
            client,
            account,
            parts,
            post.delivery_id,
            target.done,
            version=settings.segmint_linkedin_version,
            media=list(post.media),
        )
    adapters = {"mastodon": mastodon.publish, "x": x.publish, "bluesky": bluesky.publish}
    if target.provider not in adapters:
        raise PublishFailed(f"Unknown provider {target.provider!r}", transient=False)
    return await adapters[target.provider](
        client, account, parts, post.delivery_id, target.done, list(post.media)
    )


def _schedules() -> Any:
    return select(Schedule).options(selectinload(Schedule.deliveries))


async def run_publish(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, schedule_id: UUID, *, final_attempt: bool
) -> str:
    """Publish a due schedule to each target not yet delivered; returns the schedule's status."""
    now = datetime.now(UTC)
    lease = timedelta(seconds=60 + 10 * settings.segmint_publish_timeout)  # longer than any run takes
    async with sessions() as db, db.begin():
        # claim it (one conditional UPDATE, atomic on both databases): a concurrent run stands aside;
        # a run that died is taken over once its lease expires
        claimed = await db.execute(
            update(Schedule)
            .where(
                Schedule.id == schedule_id,
                Schedule.status.in_(SCHEDULE_ACTIVE),
                or_(Schedule.claimed_until.is_(None), Schedule.claimed_until < now),
            )
            .values(claimed_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        schedule = await db.scalar(_schedules().where(Schedule.id == schedule_id))
        if schedule is None:
            return "missing"
        if schedule.status not in SCHEDULE_ACTIVE:
            return schedule.status  # cancelled, or a duplicate run of a finished one
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            log.info("segmint_run_skipped", schedule_id=str(schedule_id), reason="another run holds it")
            return "claimed"
        content = await db.scalar(
            select(Content).where(Content.id == schedule.content_id).options(selectinload(Content.tags))
        )
        if content is None:
            return "missing"
        schedule.status, schedule.attempts = "publishing", schedule.attempts + 1
        pending = [d for d in schedule.deliveries if d.status == PENDING]
        ids = [d.integration_id for d in pending if d.integration_id]
        integrations = {
            i.id: i for i in (await db.scalars(select(Integration).where(Integration.id.in_(ids)))).all()
        }
        links = {
            c.integration_id: c
            for c in (await db.scalars(select(Connection).where(Connection.integration_id.in_(ids)))).all()
        }
        app_ids = [c.app_id for c in links.values() if c.app_id]
        apps = {a.id: a for a in (await db.scalars(select(OAuthApp).where(OAuthApp.id.in_(app_ids)))).all()}
        work: list[tuple[UUID, Target | None, str | None, datetime | None]] = []
        for d in pending:
            integration = integrations.get(d.integration_id) if d.integration_id else None
            if integration is None:
                work.append((d.id, None, "The integration was removed", None))
                continue
            try:
                connection, app = connections.connection_app(links, apps, integration.id)
                target = target_of(settings, integration, connection, app)
                target.done = Progress(d.parts or [], _part_recorder(sessions, d.id))
                work.append((d.id, target, None, d.retry_at))
            except PublishFailed as exc:
                work.append((d.id, None, exc.message, None))
        thread = bool(schedule.thread)
        base = dict(
            content_id=str(content.id),
            title=content.title,
            text=content.text,
            tone=content.tone,
            tags=[t.tag for t in content.tags],
            platforms=list(content.platforms or []),
        )
        images = await media.of_content(db, content.id)

    async with contextlib.AsyncExitStack() as files:  # the media files stay open while the targets run
        try:
            base["media"] = tuple(await files.enter_async_context(media.opened(settings, images)))
        except Exception as exc:  # a file gone from storage: nothing can be posted as approved
            log.warning("segmint_media_missing", schedule_id=str(schedule_id), error=str(exc))
            work = [
                (d, None, f"An attached image cannot be read ({type(exc).__name__})", r)
                for d, _, _, r in work
            ]

        try:
            async with httpx.AsyncClient(
                timeout=settings.segmint_publish_timeout, follow_redirects=False
            ) as client:
                for delivery_id, target, problem, retry_at in work:
                    if retry_at is not None and retry_at > datetime.now(UTC) and not final_attempt:
                        continue  # the network asked us to wait (429 Retry-After): stays pending
                    post = Post(delivery_id=str(delivery_id), **base)
                    outcome = await _attempt(client, settings, target, problem, post, thread)
                    await _record(sessions, settings, delivery_id, target, outcome, final_attempt)
        finally:
            async with sessions() as db, db.begin():  # release the claim: a retry may run now
                await db.execute(
                    update(Schedule).where(Schedule.id == schedule_id).values(claimed_until=None)
                )
    return await finish(sessions, settings, schedule_id)


def _part_recorder(sessions: async_sessionmaker[AsyncSession], delivery_id: UUID) -> Any:
    """Commit the parts posted so far as soon as the network answers each one (its own transaction)."""

    async def record(parts: list[dict[str, Any]]) -> None:
        async with sessions() as db, db.begin():
            await db.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == PENDING)
                .values(parts=parts)
                .execution_options(synchronize_session=False)
            )

    return record


async def _attempt(
    client: httpx.AsyncClient,
    settings: Settings,
    target: Target | None,
    problem: str | None,
    post: Post,
    thread: bool,
) -> Published | PublishFailed:
    if target is None:
        return PublishFailed(problem or "Cannot publish", transient=False)
    blocked = await target_problem(settings, target.url)
    if blocked is not None:
        return PublishFailed(blocked[0], transient=blocked[1])
    parts = [post.text]
    if target.provider in validation.RULES and target.provider != "webhook":
        attached = [validation.Media(m.mime_type, m.size) for m in post.media]
        checked = validation.check(post.text, target.provider, thread=thread, media=attached)
        if not checked.ok:  # checked when scheduled; the text cannot change after approval, but rules can
            return PublishFailed("; ".join(checked.problems), transient=False)
        parts = checked.parts
    try:
        return await deliver(client, settings, target, post, parts)
    except PublishFailed as exc:
        return exc


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    delivery_id: UUID,
    target: Target | None,
    outcome: Published | PublishFailed,
    final_attempt: bool,
) -> None:
    async with sessions() as db, db.begin():  # each outcome is durable before the next target
        delivery = await db.get(Delivery, delivery_id)
        if delivery is None:
            return
        delivery.attempts += 1
        delivery.response_status = outcome.status
        if isinstance(outcome, Published):
            delivery.status, delivery.error, delivery.error_code, delivery.retry_at = (
                DELIVERED,
                None,
                None,
                None,
            )
            delivery.external_id, delivery.external_url = outcome.external_id, outcome.external_url
            delivery.parts = outcome.parts
            delivery.delivered_at = datetime.now(UTC)
        else:
            delivery.error, delivery.error_code = outcome.message, outcome.code
            delivery.parts = outcome.parts or delivery.parts
            delivery.status = PENDING if outcome.transient and not final_attempt else FAILED
            delivery.retry_at = (
                datetime.now(UTC) + timedelta(seconds=outcome.retry_after) if outcome.retry_after else None
            )
            log.warning(
                "segmint_delivery_failed",
                delivery_id=str(delivery_id),
                error=outcome.message,
                status=outcome.status,
                transient=outcome.transient,
            )
        if (
            target is not None
            and target.account is not None
            and target.account.changed
            and target.connection_id
        ):
            connection = await db.get(Connection, target.connection_id)
            integration = await db.get(Integration, connection.integration_id) if connection else None
            if connection is not None and integration is not None:
                connections.store(settings, integration, connection, target.account)


async def lost_schedules(
    sessions: async_sessionmaker[AsyncSession], live_job_ids: set[int]
) -> list[tuple[UUID, datetime]]:
    async with sessions() as db:
        rows = (
            await db.execute(
                select(Schedule.id, Schedule.publish_at, Schedule.job_id).where(
                    Schedule.status.in_(SCHEDULE_ACTIVE)
                )
            )
        ).all()
    return [(sid, at) for sid, at, job_id in rows if job_id is None or job_id not in live_job_ids]
