"""Seed catalogue: the built-in exercise library and predefined plans.

The data lives in ``gym/data/exercises.json`` and ``gym/data/plans.json`` (package data, shipped in the
wheel); this module declares its shape, loads and checks it, and matches free-text names against it.
Nothing here touches the database; seeding code maps these structs onto models.
Slugs are stable public identifiers: never rename one, add an alias instead.
Aliases include the exact display names Strong and Hevy export, so CSV imports
match without user intervention (see :class:`ExerciseNameIndex`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache
from importlib.resources import files

import msgspec

__all__ = [
    "EXERCISES",
    "EXERCISES_BY_SLUG",
    "PLANS",
    "PLANS_BY_SLUG",
    "Category",
    "Equipment",
    "ExerciseDef",
    "ExerciseNameIndex",
    "Measurement",
    "Muscle",
    "PlanDay",
    "PlanDef",
    "PlanExercise",
    "default_name_index",
    "name_key",
]


class Muscle(StrEnum):
    CHEST = "chest"
    FRONT_DELTS = "front delts"
    SIDE_DELTS = "side delts"
    REAR_DELTS = "rear delts"
    BICEPS = "biceps"
    TRICEPS = "triceps"
    FOREARMS = "forearms"
    LATS = "lats"
    UPPER_BACK = "upper back"
    TRAPS = "traps"
    LOWER_BACK = "lower back"
    ABS = "abs"
    OBLIQUES = "obliques"
    GLUTES = "glutes"
    QUADRICEPS = "quadriceps"
    HAMSTRINGS = "hamstrings"
    ADDUCTORS = "adductors"
    ABDUCTORS = "abductors"
    CALVES = "calves"
    NECK = "neck"
    FULL_BODY = "full body"
    CARDIO = "cardio"


class Equipment(StrEnum):
    BARBELL = "barbell"
    DUMBBELL = "dumbbell"
    MACHINE = "machine"
    CABLE = "cable"
    BODYWEIGHT = "bodyweight"
    KETTLEBELL = "kettlebell"
    BAND = "band"
    SMITH_MACHINE = "smith machine"
    EZ_BAR = "ez bar"
    TRAP_BAR = "trap bar"
    PLATE = "plate"
    OTHER = "other"
    NONE = "none"


class Category(StrEnum):
    STRENGTH = "strength"
    CARDIO = "cardio"
    MOBILITY = "mobility"


class Measurement(StrEnum):
    """What a set of this exercise records; drives the logging form and which records apply."""

    WEIGHT_REPS = "weight_reps"
    REPS_ONLY = "reps_only"
    TIME = "time"
    DISTANCE = "distance"
    DISTANCE_TIME = "distance_time"


class ExerciseDef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: str
    name: str
    primary_muscles: tuple[Muscle, ...]
    secondary_muscles: tuple[Muscle, ...] = ()
    equipment: Equipment
    category: Category = Category.STRENGTH
    measurement: Measurement = Measurement.WEIGHT_REPS
    aliases: tuple[str, ...] = ()


class PlanExercise(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One prescribed exercise in a plan day.

    ``reps_min == reps_max`` is an exact target; ``reps_max is None`` with ``amrap``
    means "at least reps_min, as many as possible". Time-based work uses
    ``duration_s`` instead of reps. Exercises sharing a ``superset`` label are
    performed back to back.
    """

    slug: str
    sets: int
    reps_min: int | None = None
    reps_max: int | None = None
    amrap: bool = False
    duration_s: int | None = None
    rpe: float | None = None
    rest_s: int = 90
    superset: str | None = None
    notes: str | None = None


class PlanDay(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    exercises: tuple[PlanExercise, ...]


class PlanDef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: str
    name: str
    description: str
    level: str  # beginner | intermediate | advanced
    days_per_week: int
    days: tuple[PlanDay, ...]


# --------------------------------------------------------------------------- name matching

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _tokens(name: str) -> list[str]:
    # NFKD + ASCII drop folds accents ("Développé" -> "developpe") and odd dashes.
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return [token for token in _NON_ALNUM.split(folded) if token]


def name_key(name: str) -> str:
    """Case/punctuation/space-insensitive key: "Pull-Up", "pull up" and "Pullup" all give "pullup"."""
    return "".join(_tokens(name))


def _bag_key(name: str) -> str:
    # Word-order-insensitive key, so "Barbell Squat" finds "Squat (Barbell)".
    return " ".join(sorted(_tokens(name)))


class ExerciseNameIndex:
    """Resolve free-text exercise names (from CSVs or user input) to catalogue slugs.

    Exact normalised matches win; word-order-insensitive matches are only used
    when unambiguous. ``extra`` maps additional names (e.g. a user's custom
    exercises) to slugs or ids and takes precedence over the catalogue.
    """

    def __init__(self, exercises: Iterable[ExerciseDef], extra: Mapping[str, str] | None = None) -> None:
        self._exact: dict[str, str] = {}
        bags: dict[str, set[str]] = {}
        for exercise in exercises:
            for name in (exercise.name, *exercise.aliases):
                self._exact.setdefault(name_key(name), exercise.slug)
                bags.setdefault(_bag_key(name), set()).add(exercise.slug)
        for name, target in (extra or {}).items():
            self._exact[name_key(name)] = target
            bags[_bag_key(name)] = {target}
        self._bag = {key: next(iter(slugs)) for key, slugs in bags.items() if len(slugs) == 1}

    def match(self, name: str) -> str | None:
        key = name_key(name)
        if not key:
            return None
        return self._exact.get(key) or self._bag.get(_bag_key(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.match(name) is not None


# --------------------------------------------------------------------------- data files


def _load(name: str, kind: type) -> tuple:  # type: ignore[type-arg]
    # strict decoding: a typo in a data file (unknown muscle, missing field) fails at import, loudly
    return msgspec.json.decode(
        files("keel.apps.gym").joinpath("data", name).read_bytes(), type=tuple[kind, ...]
    )


EXERCISES: tuple[ExerciseDef, ...] = _load("exercises.json", ExerciseDef)
EXERCISES_BY_SLUG: Mapping[str, ExerciseDef] = {exercise.slug: exercise for exercise in EXERCISES}
PLANS: tuple[PlanDef, ...] = _load("plans.json", PlanDef)
PLANS_BY_SLUG: Mapping[str, PlanDef] = {plan.slug: plan for plan in PLANS}


@cache
def default_name_index() -> ExerciseNameIndex:
    """Name index over the built-in catalogue (built once, lazily)."""
    return ExerciseNameIndex(EXERCISES)
