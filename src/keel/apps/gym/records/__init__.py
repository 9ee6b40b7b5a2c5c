"""Personal records, two engines that must agree.

- :mod:`.rules`: the reference engine, pure functions over plain values (e1RM, volume, records, weekly
  muscle volume in :mod:`.muscles`). Progress and muscle statistics use it directly; tests hold the SQL
  engine to it.
- :mod:`.history`: a user's sets loaded as the engines' input (one query).
- :mod:`.sql`: the same records computed by the database (a bounded number of statements whatever the
  history's length), used by the records endpoint and the PR flags of a newly logged set.
"""

from keel.apps.gym.records.history import PERFORMED_COLUMNS, performed_history, to_performed
from keel.apps.gym.records.muscles import HasMuscles, MuscleWeek, weekly_muscle_volume
from keel.apps.gym.records.rules import (
    DEFAULT_REP_CAP,
    ExerciseRecords,
    Formula,
    PerformedSet,
    Record,
    RecordConfig,
    RecordKind,
    SetType,
    brzycki,
    compute_records,
    effective_reps,
    epley,
    estimate_1rm,
    records_broken_by,
    rpe_to_rir,
    set_volume,
)
from keel.apps.gym.records.sql import bests_before, records_for

__all__ = [
    "DEFAULT_REP_CAP",
    "PERFORMED_COLUMNS",
    "ExerciseRecords",
    "Formula",
    "HasMuscles",
    "MuscleWeek",
    "PerformedSet",
    "Record",
    "RecordConfig",
    "RecordKind",
    "SetType",
    "bests_before",
    "brzycki",
    "compute_records",
    "effective_reps",
    "epley",
    "estimate_1rm",
    "performed_history",
    "records_broken_by",
    "records_for",
    "rpe_to_rir",
    "set_volume",
    "to_performed",
    "weekly_muscle_volume",
]
