"""Integrations and publishing: credentials encrypted at rest (Fernet), the providers that post content
(signed webhook, Mastodon), schedules and the delivery run the `segmint:publish` job performs.

Idempotent delivery: each target's outcome is committed as soon as it is known, a re-run skips targets
already delivered, and every request carries `Idempotency-Key: <delivery id>` (Mastodon honours it; webhook
receivers can) so even a crash between the target's answer and our commit does not double-post.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import selectinload

from keel.apps.segmint import services
from keel.apps.segmint.models import (
    APPROVED,
    DELIVERED,
    FAILED,
    PENDING,
    PUBLISHED,
    SCHEDULE_ACTIVE,
    SCHEDULED,
    Content,
    Delivery,
    Integration,
    Schedule,
)
from keel.apps.segmint.schemas import (
    DeliveryRead,
    IntegrationCheck,
    IntegrationCreate,
    IntegrationRead,
    IntegrationUpdate,
    ScheduleCreate,
    ScheduleRead,
)
from keel.core.errors import Conflict, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from keel.settings import Settings

log = structlog.get_logger("keel.segmint.publishing")
SIGNATURE_HEADER = "X-Segmint-Signature"
TIMESTAMP_HEADER = "X-Segmint-Timestamp"
USER_AGENT = "keel-segmint/1"


# --------------------------------------------------------------------------- encryption at rest


def cipher(settings: Settings) -> MultiFernet:
    """SEGMINT_ENCRYPTION_KEY (several keys: the first encrypts, all decrypt, for rotation). Without one
    (development and tests only; production refuses to start) a key derived from JWT_SECRET."""
    keys = [k.strip() for k in settings.segmint_encryption_key.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"keel-segmint-credentials:" + settings.jwt_secret.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(settings: Settings, secret: str) -> str:
    return cipher(settings).encrypt(secret.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # the key changed without keeping the old one for rotation
        raise PublishFailed(
            "The stored credential cannot be decrypted; enter it again", transient=False
        ) from exc


def hint(secret: str) -> str:
    return "••••" + (secret[-4:] if len(secret) >= 16 else "")


# --------------------------------------------------------------------------- where targets may live


async def target_problem(settings: Settings, url: str) -> tuple[str, bool] | None:
    """Why this URL may not be posted to, and whether that may pass (a DNS hiccup), or None when fine.

    Integrations are user-supplied URLs the server will POST to: unless SEGMINT_ALLOW_PRIVATE_TARGETS,
    every address the host resolves to must be public, so nobody can aim the publisher at the internal
    network (SSRF). Checked when the integration is saved and again before each delivery."""
    if settings.segmint_allow_private_targets:
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" ("Invalid IPv6 URL")
        return "This is not a valid URL", False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except UnicodeError:  # a host name IDNA cannot encode
        return "This is not a valid host name", False
    except OSError:
        return f"The host {host!r} cannot be resolved", True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return (
                f"{host!r} resolves to a private or local address ({address}); targets must be public",
                False,
            )
    return None


async def _check_url(settings: Settings, url: str) -> None:
    problem = await target_problem(settings, url)
    if problem is not None:
        raise ValidationFailed(details={"url": problem[0]})


# --------------------------------------------------------------------------- integrations


def integration_read(row: Integration) -> IntegrationRead:
    return IntegrationRead(
        id=row.id,
        name=row.name,
        provider=row.provider,  # type: ignore[arg-type]
        url=row.url,
        secret_hint=row.secret_hint,
        created_at=row.created_at,
    )


async def _name_taken(db: AsyncSession, owner_id: UUID, name: str, but: UUID | None = None) -> None:
    statement = select(Integration.id).where(Integration.owner_id == owner_id, Integration.name == name)
    if but is not None:
        statement = statement.where(Integration.id != but)
    if await db.scalar(statement):
        raise Conflict(f"You already have an integration named {name!r}", details={"name": "already used"})


async def create_integration(
    db: AsyncSession, settings: Settings, owner_id: UUID, data: IntegrationCreate
) -> Integration:
    await _name_taken(db, owner_id, data.name)
    await _check_url(settings, data.url)
    row = Integration(
        owner_id=owner_id,
        name=data.name,
        provider=data.provider,
        url=data.url.rstrip("/") if data.provider == "mastodon" else data.url,
        secret_encrypted=encrypt(settings, data.secret),
        secret_hint=hint(data.secret),
    )
    db.add(row)
    await db.flush()
    return row


async def get_integration(db: AsyncSession, owner_id: UUID, integration_id: UUID) -> Integration:
    row = await db.scalar(
        select(Integration).where(Integration.id == integration_id, Integration.owner_id == owner_id)
    )
    if row is None:
        raise NotFound("Integration not found")
    return row


async def update_integration(
    db: AsyncSession, settings: Settings, owner_id: UUID, integration_id: UUID, data: IntegrationUpdate
) -> Integration:
    row = await get_integration(db, owner_id, integration_id)
    if isinstance(data.name, str):
        await _name_taken(db, owner_id, data.name, but=row.id)
        row.name = data.name
    if isinstance(data.url, str):
        await _check_url(settings, data.url)
        row.url = data.url.rstrip("/") if row.provider == "mastodon" else data.url
    if isinstance(data.secret, str):
        row.secret_encrypted, row.secret_hint = encrypt(settings, data.secret), hint(data.secret)
    await db.flush()
    return row


async def list_integrations(
    db: AsyncSession, owner_id: UUID, *, limit: int, offset: int
) -> tuple[list[Integration], int]:
    where = Integration.owner_id == owner_id
    total = await db.scalar(select(func.count()).select_from(Integration).where(where)) or 0
    rows = await db.scalars(
        select(Integration)
        .where(where)
        .order_by(Integration.name, Integration.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


async def delete_integration(db: AsyncSession, owner_id: UUID, integration_id: UUID) -> None:
    row = await get_integration(db, owner_id, integration_id)
    waiting = await db.scalar(
        select(func.count())
        .select_from(Delivery)
        .join(Schedule, Schedule.id == Delivery.schedule_id)
        .where(
            Delivery.integration_id == row.id,
            Delivery.status == PENDING,
            Schedule.status.in_(SCHEDULE_ACTIVE),
        )
    )
    if waiting:
        raise Conflict("This integration has scheduled publications waiting; cancel them first")
    await db.delete(row)
    await db.flush()


# --------------------------------------------------------------------------- providers


class PublishFailed(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class Post:
    delivery_id: str
    content_id: str
    title: str
    text: str
    tone: str
    tags: list[str]
    platforms: list[str]


@dataclass(frozen=True)
class Target:
    provider: str
    url: str
    secret: str


@dataclass(frozen=True)
class Published:
    external_id: str
    external_url: str | None


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: hex HMAC-SHA256 over `<timestamp>.<body>` (the timestamp defeats replays)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _failure(response: httpx.Response, what: str) -> PublishFailed:
    status = response.status_code
    transient = status in (408, 425, 429) or status >= 500
    if status in (401, 403):
        message = f"{what} refused the credential ({status}); update the integration's secret"
    else:
        message = f"{what} answered {status}: {response.text[:200]}"
    return PublishFailed(message, transient=transient)


async def verify(client: httpx.AsyncClient, target: Target) -> str:
    """Prove the integration works without publishing anything: a signed `ping` to a webhook, Mastodon's
    verify_credentials. The account/answer on success; raises PublishFailed otherwise."""
    try:
        if target.provider == "mastodon":
            response = await client.get(
                f"{target.url}/api/v1/accounts/verify_credentials",
                headers={"User-Agent": USER_AGENT, "Authorization": f"Bearer {target.secret}"},
            )
            if not response.is_success:
                raise _failure(response, "Mastodon")
            return f"signed in as @{_json(response).get('acct') or '?'}"
        body = json.dumps({"event": "ping"}, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        response = await client.post(
            target.url,
            content=body,
            headers={
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(target.secret, timestamp, body),
            },
        )
        if not response.is_success:
            raise _failure(response, "The webhook")
        return f"the webhook answered {response.status_code}"
    except httpx.TimeoutException as exc:
        raise PublishFailed(f"The target timed out ({type(exc).__name__})", transient=True) from exc
    except httpx.TransportError as exc:
        raise PublishFailed(
            f"The target could not be reached ({type(exc).__name__})", transient=True
        ) from exc


async def check_integration(
    db: AsyncSession, settings: Settings, owner_id: UUID, integration_id: UUID
) -> IntegrationCheck:
    row = await get_integration(db, owner_id, integration_id)
    blocked = await target_problem(settings, row.url)
    if blocked is not None:
        return IntegrationCheck(ok=False, detail=blocked[0])
    try:
        target = Target(row.provider, row.url, decrypt(settings, row.secret_encrypted))
        async with httpx.AsyncClient(
            timeout=settings.segmint_publish_timeout, follow_redirects=False
        ) as client:
            return IntegrationCheck(ok=True, detail=await verify(client, target))
    except PublishFailed as exc:
        return IntegrationCheck(ok=False, detail=exc.message)


async def deliver(client: httpx.AsyncClient, target: Target, post: Post) -> Published:
    headers = {"User-Agent": USER_AGENT, "Idempotency-Key": post.delivery_id}
    try:
        if target.provider == "webhook":
            body = json.dumps(
                {
                    "event": "content.published",
                    "delivery_id": post.delivery_id,
                    "content_id": post.content_id,
                    "title": post.title,
                    "text": post.text,
                    "tone": post.tone,
                    "tags": post.tags,
                    "platforms": post.platforms,
                },
                separators=(",", ":"),
            ).encode()
            timestamp = str(int(time.time()))
            headers |= {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(target.secret, timestamp, body),
            }
            response = await client.post(target.url, content=body, headers=headers)
            if not response.is_success:
                raise _failure(response, "The webhook")
            answer = _json(response)
            return Published(str(answer.get("id") or post.delivery_id)[:200], _str(answer.get("url")))
        if target.provider == "mastodon":
            headers["Authorization"] = f"Bearer {target.secret}"
            response = await client.post(
                f"{target.url}/api/v1/statuses",
                json={"status": post.text, "visibility": "public"},
                headers=headers,
            )
            if not response.is_success:
                raise _failure(response, "Mastodon")
            answer = _json(response)
            if not answer.get("id"):
                raise PublishFailed("Mastodon answered without a status id", transient=False)
            return Published(str(answer["id"])[:200], _str(answer.get("url")))
    except httpx.TimeoutException as exc:
        raise PublishFailed(f"The target timed out ({type(exc).__name__})", transient=True) from exc
    except httpx.TransportError as exc:
        raise PublishFailed(
            f"The target could not be reached ({type(exc).__name__})", transient=True
        ) from exc
    raise PublishFailed(f"Unknown provider {target.provider!r}", transient=False)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _str(value: Any) -> str | None:
    return str(value)[:500] if value else None


# --------------------------------------------------------------------------- schedules


def schedule_read(row: Schedule) -> ScheduleRead:
    return ScheduleRead(
        id=row.id,
        content_id=row.content_id,
        publish_at=row.publish_at,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        finished_at=row.finished_at,
        created_at=row.created_at,
        deliveries=[
            DeliveryRead(
                integration_id=d.integration_id,
                integration_name=d.integration_name,
                status=d.status,  # type: ignore[arg-type]
                attempts=d.attempts,
                external_id=d.external_id,
                external_url=d.external_url,
                error=d.error,
                delivered_at=d.delivered_at,
            )
            for d in row.deliveries
        ],
    )


async def create_schedule(
    db: AsyncSession, owner_id: UUID, content_id: UUID, data: ScheduleCreate
) -> Schedule:
    if data.publish_at.tzinfo is None:
        raise ValidationFailed(details={"publish_at": "Give a time zone (e.g. 2030-01-01T09:00:00Z)"})
    publish_at = data.publish_at.astimezone(UTC)
    if publish_at <= datetime.now(UTC):
        raise ValidationFailed(details={"publish_at": "Must be in the future"})
    row = await services.get_content(db, owner_id, content_id, lock=True)
    wanted = list(dict.fromkeys(data.integration_ids))
    integrations = (
        await db.scalars(
            select(Integration).where(Integration.owner_id == owner_id, Integration.id.in_(wanted))
        )
    ).all()
    missing = sorted(str(i) for i in set(wanted) - {i.id for i in integrations})
    if missing:
        raise NotFound(f"Integration not found: {', '.join(missing)}", details={"integration_ids": missing})
    services.move(
        db,
        row,
        SCHEDULED,
        action="scheduled",
        actor_id=owner_id,
        comment=f"for {publish_at.isoformat()} to {', '.join(sorted(i.name for i in integrations))}",
    )
    schedule = Schedule(
        owner_id=owner_id,
        content_id=row.id,
        publish_at=publish_at,
        status="scheduled",
        attempts=0,
        deliveries=[
            Delivery(integration_id=i.id, integration_name=i.name, status=PENDING, attempts=0)
            for i in integrations
        ],
    )
    db.add(schedule)
    await db.flush()
    return schedule


def _schedules() -> Any:
    return select(Schedule).options(selectinload(Schedule.deliveries))


async def list_schedules(
    db: AsyncSession, owner_id: UUID, *, content_id: UUID | None, status: str | None, limit: int, offset: int
) -> tuple[list[Schedule], int]:
    if content_id is not None:
        await services.get_content(db, owner_id, content_id)
    conditions: list[Any] = [Schedule.owner_id == owner_id]
    if content_id is not None:
        conditions.append(Schedule.content_id == content_id)
    if status:
        conditions.append(Schedule.status == status)
    total = await db.scalar(select(func.count()).select_from(Schedule).where(*conditions)) or 0
    rows = await db.scalars(
        _schedules()
        .where(*conditions)
        .order_by(Schedule.publish_at.desc(), Schedule.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all()), total


async def get_schedule(db: AsyncSession, owner_id: UUID, schedule_id: UUID) -> Schedule:
    row = await db.scalar(_schedules().where(Schedule.id == schedule_id, Schedule.owner_id == owner_id))
    if row is None:
        raise NotFound("Schedule not found")
    return row


async def cancel_schedule(db: AsyncSession, owner_id: UUID, schedule_id: UUID) -> Schedule:
    row = await get_schedule(db, owner_id, schedule_id)
    if row.status != "scheduled":
        raise Conflict(
            f"Only a schedule that has not started can be cancelled; this one is '{row.status}'",
            details={"status": row.status},
        )
    content = await services.get_content(db, owner_id, row.content_id, lock=True)
    row.status, row.finished_at = "cancelled", datetime.now(UTC)
    services.move(db, content, APPROVED, action="schedule_cancelled", actor_id=owner_id)
    await db.flush()
    return row


# --------------------------------------------------------------------------- the delivery run (job side)


class StillPending(Exception):
    """Some targets failed transiently: the job raises this so procrastinate retries with backoff."""


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
        if claimed.rowcount != 1:
            log.info("segmint_run_skipped", schedule_id=str(schedule_id), reason="another run holds it")
            return "claimed"
        content = await db.scalar(
            select(Content).where(Content.id == schedule.content_id).options(selectinload(Content.tags))
        )
        if content is None:
            return "missing"
        schedule.status, schedule.attempts = "publishing", schedule.attempts + 1
        pending = [d for d in schedule.deliveries if d.status == PENDING]
        integrations = {
            i.id: i
            for i in (
                await db.scalars(
                    select(Integration).where(
                        Integration.id.in_([d.integration_id for d in pending if d.integration_id])
                    )
                )
            ).all()
        }
        work: list[tuple[UUID, Target | None, str | None]] = []
        for d in pending:
            integration = integrations.get(d.integration_id) if d.integration_id else None
            if integration is None:
                work.append((d.id, None, "The integration was removed"))
                continue
            try:
                work.append(
                    (
                        d.id,
                        Target(
                            integration.provider,
                            integration.url,
                            decrypt(settings, integration.secret_encrypted),
                        ),
                        None,
                    )
                )
            except PublishFailed as exc:
                work.append((d.id, None, exc.message))
        base = dict(
            content_id=str(content.id),
            title=content.title,
            text=content.text,
            tone=content.tone,
            tags=[t.tag for t in content.tags],
            platforms=list(content.platforms or []),
        )

    timeout = settings.segmint_publish_timeout
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            for delivery_id, target, problem in work:
                outcome: Published | PublishFailed
                blocked = await target_problem(settings, target.url) if target is not None else None
                if target is None:
                    outcome = PublishFailed(problem or "Cannot publish", transient=False)
                elif blocked is not None:
                    outcome = PublishFailed(blocked[0], transient=blocked[1])
                else:
                    try:
                        outcome = await deliver(client, target, Post(delivery_id=str(delivery_id), **base))
                    except PublishFailed as exc:
                        outcome = exc
                async with sessions() as db, db.begin():  # each outcome is durable before the next target
                    delivery = await db.get(Delivery, delivery_id)
                    if delivery is None:
                        continue
                    delivery.attempts += 1
                    if isinstance(outcome, Published):
                        delivery.status, delivery.error = DELIVERED, None
                        delivery.external_id = outcome.external_id
                        delivery.external_url = outcome.external_url
                        delivery.delivered_at = datetime.now(UTC)
                    else:
                        delivery.error = outcome.message
                        delivery.status = PENDING if outcome.transient and not final_attempt else FAILED
                        log.warning(
                            "segmint_delivery_failed",
                            delivery_id=str(delivery_id),
                            error=outcome.message,
                            transient=outcome.transient,
                        )
    finally:
        async with sessions() as db, db.begin():  # release the claim: a retry may run now
            await db.execute(update(Schedule).where(Schedule.id == schedule_id).values(claimed_until=None))
    return await _finish(sessions, settings, schedule_id)


async def _finish(sessions: async_sessionmaker[AsyncSession], settings: Settings, schedule_id: UUID) -> str:
    status, event = await _settle(sessions, schedule_id)
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
    sessions: async_sessionmaker[AsyncSession], schedule_id: UUID
) -> tuple[str, dict[str, Any] | None]:
    async with sessions() as db, db.begin():
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
