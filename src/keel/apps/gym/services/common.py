"""Names and small mappings the gym services share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keel.apps.gym.catalog import Measurement
from keel.apps.gym.records import (
    Record,
)
from keel.apps.gym.schemas import (
    RecordRead,
)
from keel.apps.gym.units import db_decimal, from_kg
from keel.core.mapping import to_read

LIBRARY_NS = "gym:library"
PLANS_NS = "gym:plans"
MANAGE_LIBRARY = "gym.library.manage"
MANAGE_PLANS = "gym.plans.manage"
REPS_MEASUREMENTS = (Measurement.WEIGHT_REPS.value, Measurement.REPS_ONLY.value)
ZERO = Decimal(0)


def record_read(record: Record) -> RecordRead:
    return to_read(record, RecordRead, kind=record.kind.value)


def load_fields(row: Any) -> dict[str, Any]:
    """How heavy and how hard, as a set or a planned exercise reads: `weight` in the row's unit,
    `weight_kg`, `unit`, `rpe`, `rir`."""
    weight_kg = db_decimal(row.weight_kg)
    return {
        "weight": from_kg(weight_kg, row.weight_unit) if weight_kg is not None else None,
        "weight_kg": weight_kg,
        "unit": row.weight_unit,
        "rpe": db_decimal(row.rpe),
        "rir": db_decimal(row.rir),
    }
