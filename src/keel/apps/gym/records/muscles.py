"""Weekly muscle volume: hard sets and tonnage per muscle and ISO week, from the reference engine's sets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from decimal import Decimal
from typing import Protocol

from keel.apps.gym.records.rules import PerformedSet, set_volume

__all__ = ["HasMuscles", "MuscleWeek", "weekly_muscle_volume"]

_KG_QUANT = Decimal("0.001")
_SECONDARY_SHARE = Decimal("0.5")


class HasMuscles(Protocol):
    """Anything with muscle lists, e.g. :class:`keel.apps.gym.catalog.ExerciseDef` or a DB row."""

    @property
    def primary_muscles(self) -> Iterable[str]: ...

    @property
    def secondary_muscles(self) -> Iterable[str]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MuscleWeek:
    """Hard sets and tonnage a muscle received in one ISO week (secondary work counts half)."""

    iso_year: int
    iso_week: int
    week_start: date  # the Monday
    muscle: str
    sets: Decimal
    volume_kg: Decimal


def weekly_muscle_volume(
    sets: Iterable[PerformedSet],
    exercises: Mapping[Hashable, HasMuscles],
    *,
    tz: tzinfo | None = None,
) -> list[MuscleWeek]:
    """Per ISO week and muscle: primary muscles get 1 set (and full volume), secondary 0.5.

    Pass ``tz`` (the user's zone) so a Sunday-night session is not counted in
    Monday's week because it was stored in UTC. Sets of exercises missing from
    ``exercises`` are skipped. Sorted by week, then muscle.
    """
    totals: dict[tuple[int, int, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for performed in sets:
        exercise = exercises.get(performed.exercise_id)
        if exercise is None or not performed.counts:
            continue
        moment = performed.performed_at
        if tz is not None and moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        iso_year, iso_week, _ = moment.isocalendar()
        volume = set_volume(performed.weight_kg, performed.reps)
        shares = {str(m): Decimal(1) for m in exercise.primary_muscles}
        for muscle in exercise.secondary_muscles:
            shares.setdefault(str(muscle), _SECONDARY_SHARE)  # primary wins if listed twice
        for muscle, share in shares.items():
            bucket = totals[(iso_year, iso_week, muscle)]
            bucket[0] += share
            bucket[1] += volume * share
    return [
        MuscleWeek(
            iso_year=iso_year,
            iso_week=iso_week,
            week_start=date.fromisocalendar(iso_year, iso_week, 1),
            muscle=muscle,
            sets=set_count,
            volume_kg=volume.quantize(_KG_QUANT),
        )
        for (iso_year, iso_week, muscle), (set_count, volume) in sorted(totals.items())
    ]
