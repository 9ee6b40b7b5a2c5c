"""Import (Strong/Hevy CSV) and export (CSV, JSON) routes."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import services
from keel.apps.gym.routes.common import GymController, TimeZone, app_settings
from keel.apps.gym.schemas import ImportPreviewRead
from keel.core.cache import Cache
from keel.core.envelope import Envelope, ok
from keel.core.errors import (
    PayloadTooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
    ValidationFailed,
    error_responses,
)
from keel.core.uploads import upload_operation
from keel.identity import Principal


async def _read_csv(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The CSV is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"The CSV is larger than {limit} bytes")
    content_type = request.headers.get("content-type", "")
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "multipart/form-data":
        import email.parser  # the first multipart import loads the MIME parser (issue 12)
        import email.policy

        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(body))
        for part in message.iter_parts():
            if part.get_filename() or part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else b""
        raise ValidationFailed(details={"file": "a CSV file part is required"})
    if base in ("text/csv", "text/plain", "application/csv", "application/octet-stream", ""):
        return bytes(body)
    raise UnsupportedMediaType("Send the CSV as text/csv or as a multipart/form-data file")


class TransferController(GymController):
    path = "/"

    @post(
        "/import",
        status_code=200,
        request_max_body_size=None,
        responses=error_responses(Unauthorized, Unprocessable, PayloadTooLarge, UnsupportedMediaType),
        operation_class=upload_operation(raw=("text/csv",)),
        summary="Import a Strong or Hevy CSV: preview (dry_run=true) or commit all-or-nothing",
    )
    async def import_csv(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        cache: Cache,
        principal: Principal,
        format: Literal["auto", "strong", "hevy"] = "auto",
        unit: Literal["kg", "lb"] = "kg",
        dry_run: bool = True,
        timezone: TimeZone = "UTC",
    ) -> Response[Envelope[ImportPreviewRead]]:
        settings = app_settings(request)
        tz = services.time_zone(timezone)
        body = await _read_csv(request, settings.gym_import_max_size)
        preview = await services.import_csv(
            db_session,
            cache,
            principal,
            body,
            fmt=format,
            unit=unit,
            dry_run=dry_run,
            max_rows=settings.gym_import_max_rows,
            tz=tz,
        )
        return Response(content=ok(preview), status_code=200 if dry_run else 201)

    @get(
        "/export",
        responses=error_responses(Unauthorized, ValidationFailed),
        summary="Download your sessions as a Strong or Hevy CSV",
        media_type="text/csv",
        opt={"skip_compression": True},
    )
    async def export_csv(
        self,
        db_session: AsyncSession,
        principal: Principal,
        format: Literal["strong", "hevy"] = "strong",
        unit: Literal["kg", "lb"] | None = None,
        timezone: TimeZone = "UTC",
    ) -> Response[str]:
        tz = services.time_zone(timezone)
        text = await services.export_csv(db_session, principal, fmt=format, unit=unit, tz=tz)
        return Response(
            content=text,
            media_type="text/csv",  # Litestar adds the charset of text types itself
            headers={"Content-Disposition": f'attachment; filename="keel-gym-{format}.csv"'},
        )

    @get(
        "/export/json",
        responses=error_responses(Unauthorized),
        summary="Everything of yours: custom exercises, plans, sessions and sets",
    )
    async def export_json(self, db_session: AsyncSession, principal: Principal) -> Envelope[dict[str, Any]]:
        return ok(await services.export_json(db_session, principal))
