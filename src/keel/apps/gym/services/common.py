"""Names and small mappings the gym services share."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from keel.apps.gym.catalog import Measurement
from keel.apps.gym.records import (
    Record,
)
from keel.apps.gym.schemas import (
    RecordRead,
)

if TYPE_CHECKING:
    pass

LIBRARY_NS = "gym:library"
PLANS_NS = "gym:plans"
MANAGE_LIBRARY = "gym.library.manage"
MANAGE_PLANS = "gym.plans.manage"
REPS_MEASUREMENTS = (Measurement.WEIGHT_REPS.value, Measurement.REPS_ONLY.value)
ZERO = Decimal(0)


def record_read(record: Record) -> RecordRead:
    return RecordRead(
        kind=record.kind.value,
        value=record.value,
        achieved_at=record.achieved_at,
        session_id=record.session_id,  # type: ignore[arg-type]
        set_id=record.set_id,  # type: ignore[arg-type]
        weight_kg=record.weight_kg,
        reps=record.reps,
        previous_value=record.previous_value,
    )
