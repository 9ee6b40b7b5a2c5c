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
from keel.core.mapping import to_read

if TYPE_CHECKING:
    pass

LIBRARY_NS = "gym:library"
PLANS_NS = "gym:plans"
MANAGE_LIBRARY = "gym.library.manage"
MANAGE_PLANS = "gym.plans.manage"
REPS_MEASUREMENTS = (Measurement.WEIGHT_REPS.value, Measurement.REPS_ONLY.value)
ZERO = Decimal(0)


def record_read(record: Record) -> RecordRead:
    return to_read(record, RecordRead, kind=record.kind.value)
