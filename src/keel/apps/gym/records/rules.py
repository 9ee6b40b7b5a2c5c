"""Estimated 1RM, volume and personal records (weekly muscle volume: :mod:`.muscles`).

Pure functions over plain values: the API feeds in sets loaded from the database
(already in canonical kg / metres, see :mod:`keel.apps.gym.units`) and persists
or returns what comes out. Warm-up sets never count towards anything here.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from keel.apps.gym.units import Number, to_decimal

__all__ = [
    "DEFAULT_REP_CAP",
    "ExerciseRecords",
    "Formula",
    "PerformedSet",
    "Record",
    "RecordConfig",
    "RecordKind",
    "SetType",
    "brzycki",
    "compute_records",
    "effective_reps",
    "epley",
    "estimate_1rm",
    "records_broken_by",
    "rpe_to_rir",
    "set_volume",
]

DEFAULT_REP_CAP = 12  # beyond ~12 reps both formulas drift badly from tested maxes
_E1RM_QUANT = Decimal("0.01")
_KG_QUANT = Decimal("0.001")

Formula = Literal["epley", "brzycki"]


class SetType(StrEnum):
    WARMUP = "warmup"
    NORMAL = "normal"
    DROP = "drop"
    FAILURE = "failure"


# --------------------------------------------------------------------------- estimators


def rpe_to_rir(rpe: Number) -> Decimal:
    """RPE 10 = no reps left, RPE 8 = two left (Tuchscherer scale)."""
    value = to_decimal(rpe)
    if not Decimal(0) <= value <= Decimal(10):
        raise ValueError(f"RPE must be between 0 and 10, got {rpe}")
    return Decimal(10) - value


def effective_reps(reps: int, *, rir: Number | None = None, rpe: Number | None = None) -> Decimal:
    """Reps the lifter could have done: performed reps plus reps in reserve (given directly or via RPE)."""
    if rir is not None and rpe is not None:
        raise ValueError("pass either rir or rpe, not both")
    reserve = to_decimal(rir) if rir is not None else rpe_to_rir(rpe) if rpe is not None else Decimal(0)
    if reserve < 0:
        raise ValueError("reps in reserve cannot be negative")
    return Decimal(reps) + reserve


def _estimate(
    weight: Number,
    reps: int,
    formula: Formula,
    rep_cap: int,
    rir: Number | None,
    rpe: Number | None,
) -> Decimal | None:
    if formula not in ("epley", "brzycki"):
        raise ValueError(f"unknown formula: {formula!r}")
    if rep_cap < 1:
        raise ValueError("rep_cap must be at least 1")
    w = to_decimal(weight)
    if w <= 0 or reps < 1:
        return None
    r = effective_reps(reps, rir=rir, rpe=rpe)
    if r > rep_cap:
        return None
    if r == 1:
        return w.quantize(_E1RM_QUANT, rounding=ROUND_HALF_UP)
    if formula == "epley":
        estimate = w * (1 + r / 30)
    else:
        if r >= 37:  # Brzycki's asymptote; a cap that high makes no sense anyway
            return None
        estimate = w * 36 / (37 - r)
    return estimate.quantize(_E1RM_QUANT, rounding=ROUND_HALF_UP)


def epley(
    weight: Number,
    reps: int,
    *,
    rep_cap: int = DEFAULT_REP_CAP,
    rir: Number | None = None,
    rpe: Number | None = None,
) -> Decimal | None:
    """Epley e1RM ``w * (1 + r/30)``, 2 decimals; ``None`` when not estimable (no load, no reps, r > cap)."""
    return _estimate(weight, reps, "epley", rep_cap, rir, rpe)


def brzycki(
    weight: Number,
    reps: int,
    *,
    rep_cap: int = DEFAULT_REP_CAP,
    rir: Number | None = None,
    rpe: Number | None = None,
) -> Decimal | None:
    """Brzycki e1RM ``w * 36 / (37 - r)``, 2 decimals; ``None`` when not estimable."""
    return _estimate(weight, reps, "brzycki", rep_cap, rir, rpe)


def estimate_1rm(
    weight: Number,
    reps: int,
    formula: Formula = "epley",
    *,
    rep_cap: int = DEFAULT_REP_CAP,
    rir: Number | None = None,
    rpe: Number | None = None,
) -> Decimal | None:
    return _estimate(weight, reps, formula, rep_cap, rir, rpe)


def set_volume(weight_kg: Number | None, reps: int | None) -> Decimal:
    """Tonnage of one set (weight x reps); zero for unloaded or rep-less sets."""
    if weight_kg is None or not reps or reps < 0:
        return Decimal(0)
    weight = to_decimal(weight_kg)
    return (weight * reps).quantize(_KG_QUANT) if weight > 0 else Decimal(0)


# --------------------------------------------------------------------------- record engine


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformedSet:
    """A logged set as the record engine sees it (canonical units)."""

    set_id: Hashable
    session_id: Hashable
    exercise_id: Hashable
    performed_at: datetime
    set_type: SetType = SetType.NORMAL
    reps: int | None = None
    weight_kg: Decimal | None = None
    duration_s: int | None = None
    distance_m: Decimal | None = None
    rpe: Decimal | None = None

    @property
    def counts(self) -> bool:
        return self.set_type is not SetType.WARMUP


class RecordKind(StrEnum):
    E1RM = "e1rm"
    HEAVIEST_WEIGHT = "heaviest_weight"
    MOST_REPS_AT_WEIGHT = "most_reps_at_weight"
    BEST_SET_VOLUME = "best_set_volume"
    BEST_SESSION_VOLUME = "best_session_volume"
    LONGEST_DURATION = "longest_duration"
    LONGEST_DISTANCE = "longest_distance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One personal record.

    ``value`` is in kg (e1RM, weight, volumes), reps (most reps at weight),
    seconds or metres. ``set_id`` is ``None`` for session records, which point
    at the session instead. ``previous_value`` is what this record replaced
    (``None`` the first time the exercise is done): UIs usually only celebrate
    when it is set.
    """

    kind: RecordKind
    exercise_id: Hashable
    value: Decimal
    achieved_at: datetime
    session_id: Hashable
    set_id: Hashable | None = None
    weight_kg: Decimal | None = None  # the load, for e1RM / reps-at-weight / heaviest records
    reps: int | None = None
    previous_value: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordConfig:
    formula: Formula = "epley"
    rep_cap: int = DEFAULT_REP_CAP
    # Off by default: Strong and Hevy estimate from performed reps only, and
    # lifters compare against those numbers.
    use_rpe: bool = False


@dataclass(frozen=True, slots=True)
class ExerciseRecords:
    """Current bests for one exercise. Immutable; :meth:`apply` returns an updated copy."""

    exercise_id: Hashable
    e1rm: Record | None = None
    heaviest_weight: Record | None = None
    best_set_volume: Record | None = None
    best_session_volume: Record | None = None
    longest_duration: Record | None = None
    longest_distance: Record | None = None
    # Keyed by load in kg (3 decimals); bodyweight/unloaded sets live under Decimal(0).
    most_reps_at_weight: Mapping[Decimal, Record] = field(default_factory=dict)

    def all(self) -> list[Record]:
        singles = (
            self.e1rm,
            self.heaviest_weight,
            self.best_set_volume,
            self.best_session_volume,
            self.longest_duration,
            self.longest_distance,
        )
        by_weight = [self.most_reps_at_weight[w] for w in sorted(self.most_reps_at_weight)]
        return [record for record in singles if record is not None] + by_weight

    def get(self, kind: RecordKind) -> Record | None:
        if kind is RecordKind.MOST_REPS_AT_WEIGHT:
            raise ValueError("use most_reps_at_weight[weight] for per-weight records")
        return getattr(self, kind.value)

    def apply(self, records: Iterable[Record]) -> ExerciseRecords:
        updates: dict[str, Record] = {}
        reps_at = dict(self.most_reps_at_weight)
        for record in records:
            if record.exercise_id != self.exercise_id:
                raise ValueError("record belongs to another exercise")
            if record.kind is RecordKind.MOST_REPS_AT_WEIGHT:
                reps_at[_weight_key(record.weight_kg)] = record
            else:
                updates[record.kind.value] = record
        return dataclasses.replace(self, most_reps_at_weight=reps_at, **updates)


def _weight_key(weight_kg: Decimal | None) -> Decimal:
    if weight_kg is None or weight_kg <= 0:
        return Decimal(0)
    return weight_kg.quantize(_KG_QUANT)


def records_broken_by(
    current: ExerciseRecords | None,
    new_set: PerformedSet,
    *,
    session_volume_before: Decimal = Decimal(0),
    config: RecordConfig = RecordConfig(),  # frozen, so safe as a default
) -> list[Record]:
    """Records this newly logged set breaks, given the exercise's current records.

    ``session_volume_before`` is the volume (kg) of the *counting* sets already
    logged for this exercise in the same session, so the session-volume record
    can be flagged as it happens. Ties do not break a record: the earlier set
    keeps it. Returns an empty list for warm-ups.
    """
    if not new_set.counts:
        return []
    current = current or ExerciseRecords(new_set.exercise_id)
    broken: list[Record] = []

    def consider(
        kind: RecordKind,
        value: Decimal | None,
        existing: Record | None,
        *,
        weight_kg: Decimal | None = None,
        reps: int | None = None,
    ) -> None:
        if value is None or value <= 0:
            return
        if existing is not None and value <= existing.value:
            return
        broken.append(
            Record(
                kind=kind,
                exercise_id=new_set.exercise_id,
                value=value,
                achieved_at=new_set.performed_at,
                session_id=new_set.session_id,
                set_id=None if kind is RecordKind.BEST_SESSION_VOLUME else new_set.set_id,
                weight_kg=weight_kg,
                reps=reps,
                previous_value=existing.value if existing is not None else None,
            )
        )

    reps = new_set.reps or 0
    weight = new_set.weight_kg.quantize(_KG_QUANT) if new_set.weight_kg is not None else None
    loaded = weight is not None and weight > 0 and reps > 0

    if loaded:
        rpe = new_set.rpe if config.use_rpe else None
        e1rm = estimate_1rm(weight, reps, config.formula, rep_cap=config.rep_cap, rpe=rpe)
        consider(RecordKind.E1RM, e1rm, current.e1rm, weight_kg=weight, reps=reps)
        consider(RecordKind.HEAVIEST_WEIGHT, weight, current.heaviest_weight, weight_kg=weight, reps=reps)
        volume = set_volume(weight, reps)
        consider(RecordKind.BEST_SET_VOLUME, volume, current.best_set_volume, weight_kg=weight, reps=reps)
        consider(
            RecordKind.BEST_SESSION_VOLUME,
            session_volume_before + volume,
            current.best_session_volume,
        )
    if reps > 0:
        key = _weight_key(weight)
        consider(
            RecordKind.MOST_REPS_AT_WEIGHT,
            Decimal(reps),
            current.most_reps_at_weight.get(key),
            weight_kg=key,
            reps=reps,
        )
    if new_set.duration_s:
        consider(RecordKind.LONGEST_DURATION, Decimal(new_set.duration_s), current.longest_duration)
    if new_set.distance_m is not None:
        consider(RecordKind.LONGEST_DISTANCE, new_set.distance_m, current.longest_distance)
    return broken


def compute_records(
    sets: Iterable[PerformedSet],
    *,
    config: RecordConfig = RecordConfig(),  # frozen, so safe as a default
) -> dict[Hashable, ExerciseRecords]:
    """Replay a chronological history and return current records per exercise.

    Input must be ordered by ``performed_at`` (ties broken by the caller's own
    order, e.g. set position); the earliest set achieving a value keeps the record.
    """
    records: dict[Hashable, ExerciseRecords] = {}
    session_volume: dict[tuple[Hashable, Hashable], Decimal] = defaultdict(Decimal)
    for performed in sets:
        if not performed.counts:
            continue
        key = (performed.exercise_id, performed.session_id)
        current = records.get(performed.exercise_id) or ExerciseRecords(performed.exercise_id)
        broken = records_broken_by(
            current, performed, session_volume_before=session_volume[key], config=config
        )
        session_volume[key] += set_volume(performed.weight_kg, performed.reps)
        records[performed.exercise_id] = current.apply(broken) if broken else current
    return records
