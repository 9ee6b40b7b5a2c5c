"""Integrations and schedules: integrations (webhooks, Mastodon with a pasted token, and accounts connected
through `connections`), the per-network checks before anything is scheduled, and schedules. Credentials
live encrypted (`credentials`); the delivery run the `segmint:publish` job performs is `delivery`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from keel.apps.segmint import connections, media, services
from keel.apps.segmint.credentials import cipher, decrypt, encrypt, hint, target_problem
from keel.apps.segmint.delivery import lost_schedules, run_publish, target_of, verify
from keel.apps.segmint.models import (
    APPROVED,
    PENDING,
    SCHEDULE_ACTIVE,
    SCHEDULED,
    Delivery,
    Integration,
    Schedule,
)
from keel.apps.segmint.network_models import Connection, OAuthApp
from keel.apps.segmint.networks import validation, webhook
from keel.apps.segmint.networks.base import PublishFailed
from keel.apps.segmint.paging import paged
from keel.apps.segmint.schemas import (
    DeliveryPart,
    DeliveryRead,
    IntegrationCheck,
    IntegrationCreate,
    IntegrationRead,
    IntegrationUpdate,
    ScheduleCreate,
    ScheduleRead,
)
from keel.apps.segmint.services.content import as_seat
from keel.apps.segmint.settlement import StillPending
from keel.apps.segmint.teams import Seat
from keel.apps.segmint.teams import roles as team_roles
from keel.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.settings import Settings

__all__ = ["StillPending", "cipher", "decrypt", "lost_schedules", "run_publish"]  # what tasks and tests use
log = structlog.get_logger("keel.segmint.publishing")
CONNECTED = ("x", "linkedin", "bluesky")  # created through /connections, never with a pasted secret


async def _check_url(settings: Settings, url: str) -> None:
    problem = await target_problem(settings, url)
    if problem is not None:
        raise ValidationFailed(details={"url": problem[0]})


# --------------------------------------------------------------------------- integrations


def integration_read(
    row: Integration, connection: Connection | None = None, signing_secret: str | None = None
) -> IntegrationRead:
    return IntegrationRead(
        id=row.id,
        name=row.name,
        provider=row.provider,  # type: ignore[arg-type]
        url=row.url,
        secret_hint=row.secret_hint,
        created_at=row.created_at,
        account=connection.account_name if connection else None,
        signing_secret=signing_secret,
    )


async def connections_of(db: AsyncSession, rows: list[Integration]) -> dict[UUID, Connection]:
    ids = [r.id for r in rows]
    found = await db.scalars(select(Connection).where(Connection.integration_id.in_(ids))) if ids else []
    return {c.integration_id: c for c in found}


async def _name_taken(db: AsyncSession, workspace_id: UUID, name: str, but: UUID | None = None) -> None:
    # names are unique per workspace (the table's constraint): two members may not both add "Blog"
    statement = select(Integration.id).where(
        Integration.workspace_id == workspace_id, Integration.name == name
    )
    if but is not None:
        statement = statement.where(Integration.id != but)
    if await db.scalar(statement):
        raise Conflict(
            f"This workspace already has an integration named {name!r}",
            details={"name": "already used in this workspace"},
        )


async def create_integration(
    db: AsyncSession, settings: Settings, who: Seat | UUID, data: IntegrationCreate
) -> tuple[Integration, str | None]:
    """The integration, and the signing secret when one was generated (shown this once)."""
    seat = as_seat(who)
    seat.require(team_roles.MANAGE_INTEGRATIONS, "connect integrations")
    owner_id = seat.user_id
    if data.provider in CONNECTED:
        raise Unprocessable(
            f"Connect {data.provider} through /connections/{data.provider}",
            details={"provider": f"use the {data.provider} connection flow (OAuth or app password)"},
        )
    generated = None
    secret = data.secret
    if secret is None:
        if data.provider != "webhook":
            raise ValidationFailed(details={"secret": "Paste the account's access token"})
        secret = generated = webhook.new_secret()
    if data.provider == "webhook" and not webhook.valid_secret(secret):
        raise ValidationFailed(details={"secret": "A whsec_ secret carries 24-64 bytes of base64"})
    await _name_taken(db, seat.workspace_id, data.name)
    await _check_url(settings, data.url)
    row = Integration(
        owner_id=owner_id,
        workspace_id=seat.workspace_id,
        name=data.name,
        provider=data.provider,
        url=data.url.rstrip("/") if data.provider == "mastodon" else data.url,
        secret_encrypted=encrypt(settings, secret),
        secret_hint=hint(secret),
    )
    db.add(row)
    await db.flush()
    return row, generated


async def get_integration(
    db: AsyncSession, who: Seat | UUID, integration_id: UUID, *, manage: bool = False
) -> Integration:
    """An integration of the seat's workspace (another workspace's: 404); manage=True needs the role to
    manage integrations (403 otherwise: the caller can see it)."""
    seat = as_seat(who)
    row = await db.scalar(
        select(Integration).where(
            Integration.id == integration_id, Integration.workspace_id == seat.workspace_id
        )
    )
    if row is None:
        raise NotFound("Integration not found")
    if manage:
        seat.require(team_roles.MANAGE_INTEGRATIONS, "manage integrations")
    return row


async def update_integration(
    db: AsyncSession, settings: Settings, who: Seat | UUID, integration_id: UUID, data: IntegrationUpdate
) -> Integration:
    row = await get_integration(db, who, integration_id, manage=True)
    connected = await db.scalar(select(Connection.id).where(Connection.integration_id == row.id))
    if connected and (isinstance(data.url, str) or isinstance(data.secret, str)):
        raise Conflict("A connected account cannot be re-keyed; disconnect it and connect it again")
    if row.provider == "webhook" and isinstance(data.secret, str) and not webhook.valid_secret(data.secret):
        raise ValidationFailed(details={"secret": "A whsec_ secret carries 24-64 bytes of base64"})
    if isinstance(data.name, str):
        await _name_taken(db, row.workspace_id, data.name, but=row.id)
        row.name = data.name
    if isinstance(data.url, str):
        await _check_url(settings, data.url)
        row.url = data.url.rstrip("/") if row.provider == "mastodon" else data.url
    if isinstance(data.secret, str):
        row.secret_encrypted, row.secret_hint = encrypt(settings, data.secret), hint(data.secret)
    await db.flush()
    return row


async def list_integrations(
    db: AsyncSession, who: Seat | UUID, *, limit: int, offset: int
) -> tuple[list[Integration], int]:
    conditions = [Integration.workspace_id == as_seat(who).workspace_id]
    order = (Integration.name, Integration.id)
    return await paged(
        db, Integration, conditions, select(Integration), order_by=order, limit=limit, offset=offset
    )


async def delete_integration(
    db: AsyncSession, settings: Settings, who: Seat | UUID, integration_id: UUID
) -> None:
    row = await get_integration(db, who, integration_id, manage=True)
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
    await connections.revoke(db, settings, row)  # best effort: the network forgets the token
    await db.delete(row)
    await db.flush()


async def check_integration(
    db: AsyncSession, settings: Settings, who: Seat | UUID, integration_id: UUID
) -> IntegrationCheck:
    row = await get_integration(db, who, integration_id, manage=True)
    blocked = await target_problem(settings, row.url)
    if blocked is not None:
        return IntegrationCheck(ok=False, detail=blocked[0])
    connection = await db.scalar(select(Connection).where(Connection.integration_id == row.id))
    app = await db.get(OAuthApp, connection.app_id) if connection and connection.app_id else None
    try:
        target = target_of(settings, row, connection, app)
        async with httpx.AsyncClient(
            timeout=settings.segmint_publish_timeout, follow_redirects=False
        ) as client:
            detail = await verify(client, settings, target)
    except PublishFailed as exc:
        return IntegrationCheck(ok=False, detail=exc.message)
    if connection is not None and target.account is not None and target.account.changed:
        connections.store(settings, row, connection, target.account)  # a refresh happened: keep it
        await db.flush()
    return IntegrationCheck(ok=True, detail=detail)


def check_targets(text: str, integrations: list[Integration], *, thread: bool, images: Any = ()) -> None:
    """422 before scheduling when the text cannot go to one of the networks as asked, naming each."""
    problems: dict[str, str] = {}
    for integration in integrations:
        if integration.provider == "webhook":
            continue
        checked = validation.check(text, integration.provider, thread=thread, media=images)
        if not checked.ok:
            problems[integration.provider] = f"{integration.name}: " + "; ".join(checked.problems)
    if problems:
        raise Unprocessable(
            "The content does not fit some of the networks: " + "; ".join(sorted(problems.values())),
            details=problems,
        )


# --------------------------------------------------------------------------- schedules


def schedule_read(row: Schedule) -> ScheduleRead:
    return ScheduleRead(
        id=row.id,
        content_id=row.content_id,
        publish_at=row.publish_at,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        thread=bool(row.thread),
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
                response_status=d.response_status,
                error_code=d.error_code,
                parts=[
                    DeliveryPart(id=str(p.get("id")), url=p.get("url"), status=p.get("status"))
                    for p in (d.parts or [])
                    if isinstance(p, dict) and p.get("id")
                ],
                retry_at=d.retry_at,
            )
            for d in row.deliveries
        ],
    )


async def create_schedule(
    db: AsyncSession, who: Seat | UUID, content_id: UUID, data: ScheduleCreate
) -> Schedule:
    seat = as_seat(who)
    owner_id = seat.user_id
    if data.publish_at.tzinfo is None:
        raise ValidationFailed(details={"publish_at": "Give a time zone (e.g. 2030-01-01T09:00:00Z)"})
    publish_at = data.publish_at.astimezone(UTC)
    if publish_at <= datetime.now(UTC):
        raise ValidationFailed(details={"publish_at": "Must be in the future"})
    row = await services.get_content(db, seat, content_id, write=False, members_only=True, lock=True)
    seat.require(team_roles.SCHEDULE, "schedule content")
    wanted = list(dict.fromkeys(data.integration_ids))
    integrations = (
        await db.scalars(
            select(Integration).where(
                Integration.workspace_id == seat.workspace_id, Integration.id.in_(wanted)
            )
        )
    ).all()
    missing = sorted(str(i) for i in set(wanted) - {i.id for i in integrations})
    if missing:
        raise NotFound(f"Integration not found: {', '.join(missing)}", details={"integration_ids": missing})
    images = media.descriptors(await media.of_content(db, row.id))
    check_targets(row.text, list(integrations), thread=data.thread, images=images)
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
        workspace_id=row.workspace_id,
        content_id=row.id,
        publish_at=publish_at,
        status="scheduled",
        attempts=0,
        thread=data.thread,
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
    db: AsyncSession,
    who: Seat | UUID,
    *,
    content_id: UUID | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Schedule], int]:
    seat = as_seat(who)
    if content_id is not None:
        await services.get_content(db, seat, content_id, write=False, members_only=True)
    conditions: list[Any] = [Schedule.workspace_id == seat.workspace_id]
    if content_id is not None:
        conditions.append(Schedule.content_id == content_id)
    if status:
        conditions.append(Schedule.status == status)
    order = (Schedule.publish_at.desc(), Schedule.id)
    return await paged(db, Schedule, conditions, _schedules(), order_by=order, limit=limit, offset=offset)


async def get_schedule(db: AsyncSession, who: Seat | UUID, schedule_id: UUID) -> Schedule:
    workspace_id = as_seat(who).workspace_id
    row = await db.scalar(
        _schedules().where(Schedule.id == schedule_id, Schedule.workspace_id == workspace_id)
    )
    if row is None:
        raise NotFound("Schedule not found")
    return row


async def cancel_schedule(db: AsyncSession, who: Seat | UUID, schedule_id: UUID) -> Schedule:
    seat = as_seat(who)
    row = await get_schedule(db, seat, schedule_id)
    seat.require(team_roles.SCHEDULE, "cancel schedules")
    if row.status != "scheduled":
        raise Conflict(
            f"Only a schedule that has not started can be cancelled; this one is '{row.status}'",
            details={"status": row.status},
        )
    content = await services.get_content(db, seat, row.content_id, write=False, members_only=True, lock=True)
    row.status, row.finished_at = "cancelled", datetime.now(UTC)
    services.move(db, content, APPROVED, action="schedule_cancelled", actor_id=seat.user_id)
    await db.flush()
    return row
