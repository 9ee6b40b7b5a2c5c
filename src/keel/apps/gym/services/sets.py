"""Sets in a session: log (idempotent, with the records it broke), change, delete."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from keel.apps.gym.clock import aware, utc_now
from keel.apps.gym.models import Exercise, WorkoutSession, WorkoutSet
from keel.apps.gym.records import (
    bests_before,
    records_broken_by,
    to_performed,
)
from keel.apps.gym.schemas import (
    LoggedSetRead,
    SetCreate,
    SetRead,
)
from keel.apps.gym.services.common import REPS_MEASUREMENTS, record_read
from keel.apps.gym.services.library import visible_exercise
from keel.apps.gym.services.sessions import exercise_names, own_session, set_read
from keel.apps.gym.units import db_decimal, to_decimal, to_kg, to_metres
from keel.core.errors import Conflict, NotFound, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from keel.identity import Principal

# =========================================================================== sets


def check_editable(row: WorkoutSession, window_hours: int) -> None:
    if row.finished_at is None:
        return
    if utc_now() - aware(row.finished_at) > timedelta(hours=window_hours):
        raise Conflict(
            f"This session finished more than {window_hours} hours ago; its sets can no longer change",
            details={"session_id": f"finished more than {window_hours}h ago (GYM_EDIT_WINDOW_HOURS)"},
        )


def validate_set(values: dict[str, Any], exercise: Exercise) -> None:
    errors: dict[str, str] = {}
    weight, reps, rpe = values.get("weight"), values.get("reps"), values.get("rpe")
    if weight is not None and weight < 0:
        errors["weight"] = "must not be negative"
    if rpe is not None and not (1 <= rpe <= 10):
        errors["rpe"] = "must be between 1 and 10"
    if rpe is not None and values.get("rir") is not None:
        errors["rir"] = "give either rpe or rir, not both"
    if exercise.measurement in REPS_MEASUREMENTS and (reps is None or reps < 1):
        errors["reps"] = f"must be at least 1 for a {exercise.measurement.replace('_', ' ')} exercise"
    if errors:
        raise ValidationFailed(details=errors)


def _set_values(data: SetCreate | dict[str, Any]) -> dict[str, Any]:
    return data if isinstance(data, dict) else {f: getattr(data, f) for f in data.__struct_fields__}


def _apply_set(row: WorkoutSet, values: dict[str, Any]) -> None:
    if "set_type" in values:
        row.set_type = str(values["set_type"])
    for key in ("reps", "duration_s", "notes", "position"):
        if key in values and not (key == "position" and values[key] is None):
            setattr(row, key, values[key])
    for key in ("rpe", "rir"):
        if key in values:
            setattr(row, key, to_decimal(values[key]) if values[key] is not None else None)
    if "unit" in values:
        row.weight_unit = values["unit"]
    if "weight" in values:
        row.weight_kg = to_kg(values["weight"], row.weight_unit) if values["weight"] is not None else None
    if "distance_unit" in values:
        row.distance_unit = values["distance_unit"]
    if "distance" in values:
        row.distance_m = (
            to_metres(values["distance"], row.distance_unit) if values["distance"] is not None else None
        )
    if values.get("performed_at") is not None:
        row.performed_at = aware(values["performed_at"])


# an unfinished session older than this is a backdated (or forgotten) one: its sets happened at its start
LIVE_SESSION = timedelta(hours=24)


def default_performed_at(session: WorkoutSession) -> datetime:
    """When a set given no time happened: now while its session is in progress, else the session's start,
    so a workout logged after the fact lands in its own week's records, charts and muscle statistics."""
    now = utc_now()
    started = aware(session.started_at)
    ends = aware(session.finished_at) if session.finished_at else started + LIVE_SESSION
    return now if started <= now <= ends else started


async def log_set(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    data: SetCreate,
    *,
    idempotency_key: str | None,
    window_hours: int,
) -> tuple[LoggedSetRead, bool]:
    """(the logged set with the records it broke, created?). A retry with the same client id answers the
    stored set, not a duplicate."""
    session = await own_session(db, principal, session_id)
    client_id = str(data.client_id) if data.client_id else (idempotency_key or None)
    if client_id:
        existing = await db.scalar(
            select(WorkoutSet).where(
                WorkoutSet.owner_id == principal.user_id, WorkoutSet.client_id == client_id
            )
        )
        if existing is not None:
            if existing.session_id != session_id:
                raise Conflict("This client id was already used for a set of another session")
            names = await exercise_names(db, [existing.exercise_id])
            return LoggedSetRead(
                set=set_read(existing, names.get(existing.exercise_id, "")), records=[]
            ), False
    check_editable(session, window_hours)
    try:
        exercise = await visible_exercise(db, principal.user_id, data.exercise_id)
    except NotFound:
        raise ValidationFailed(details={"exercise_id": "unknown exercise"}) from None
    values = _set_values(data)
    validate_set(values, exercise)
    position = data.position
    if position is None:
        last = await db.scalar(
            select(func.max(WorkoutSet.position)).where(WorkoutSet.session_id == session_id)
        )
        position = (last or 0) + 1
    row = WorkoutSet(
        id=uuid.uuid4(),
        owner_id=principal.user_id,
        session_id=session_id,
        exercise_id=exercise.id,
        client_id=client_id,
        position=position,
        weight_unit=data.unit,
        distance_unit=data.distance_unit,
        performed_at=aware(data.performed_at) if data.performed_at else default_performed_at(session),
    )
    _apply_set(row, {k: v for k, v in values.items() if k not in ("exercise_id", "client_id", "position")})
    # the bests before this set (one aggregate statement, whatever the history's length)
    performed = to_performed(row)
    current, session_volume = await bests_before(db, principal.user_id, performed)
    broken = records_broken_by(current, performed, session_volume_before=session_volume)
    db.add(row)
    try:
        await db.flush()
    except IntegrityError as exc:  # the same client id raced in from a second request
        raise Conflict("A set with this client id is being logged") from exc
    return LoggedSetRead(set=set_read(row, exercise.name), records=[record_read(r) for r in broken]), True


async def _own_set(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, set_id: uuid.UUID
) -> WorkoutSet:
    row = await db.scalar(
        select(WorkoutSet).where(
            WorkoutSet.id == set_id,
            WorkoutSet.session_id == session_id,
            WorkoutSet.owner_id == principal.user_id,
        )
    )
    if row is None:
        raise NotFound("Set not found")
    return row


async def update_set(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    set_id: uuid.UUID,
    values: dict[str, Any],
    *,
    window_hours: int,
) -> SetRead:
    session = await own_session(db, principal, session_id)
    row = await _own_set(db, principal, session_id, set_id)
    check_editable(session, window_hours)
    values.pop("client_id", None)
    exercise_id = values.pop("exercise_id", None) or row.exercise_id
    try:
        exercise = await visible_exercise(db, principal.user_id, exercise_id)
    except NotFound:
        raise ValidationFailed(details={"exercise_id": "unknown exercise"}) from None
    # RPE and RIR are two scales for one thing: setting one replaces the other unless both are sent
    for given, other in (("rpe", "rir"), ("rir", "rpe")):
        if values.get(given) is not None and other not in values:
            values[other] = None
    merged = {
        "weight": values.get("weight"),
        "rpe": values.get("rpe", db_decimal(row.rpe)),
        "rir": values.get("rir", db_decimal(row.rir)),
        "reps": values.get("reps", row.reps),
    }
    validate_set(merged, exercise)
    row.exercise_id = exercise.id
    _apply_set(row, values)
    await db.flush()
    return set_read(row, exercise.name)


async def delete_set(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, set_id: uuid.UUID, *, window_hours: int
) -> None:
    session = await own_session(db, principal, session_id)
    row = await _own_set(db, principal, session_id, set_id)
    check_editable(session, window_hours)
    await db.delete(row)
    await db.flush()
