"""Seed catalogue: the built-in exercise library and predefined plans, as plain data.

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


class ExerciseDef(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    name: str
    primary_muscles: tuple[Muscle, ...]
    secondary_muscles: tuple[Muscle, ...] = ()
    equipment: Equipment
    category: Category = Category.STRENGTH
    measurement: Measurement = Measurement.WEIGHT_REPS
    aliases: tuple[str, ...] = ()


class PlanExercise(msgspec.Struct, frozen=True, kw_only=True):
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


class PlanDay(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    exercises: tuple[PlanExercise, ...]


class PlanDef(msgspec.Struct, frozen=True, kw_only=True):
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


# --------------------------------------------------------------------------- exercises

M = Muscle
E = Equipment
C = Category
K = Measurement


def _ex(
    slug: str,
    name: str,
    primary: tuple[Muscle, ...],
    secondary: tuple[Muscle, ...],
    equipment: Equipment,
    *aliases: str,
    category: Category = C.STRENGTH,
    measurement: Measurement = K.WEIGHT_REPS,
) -> ExerciseDef:
    return ExerciseDef(
        slug=slug,
        name=name,
        primary_muscles=primary,
        secondary_muscles=secondary,
        equipment=equipment,
        category=category,
        measurement=measurement,
        aliases=aliases,
    )


def _cardio(slug: str, name: str, *aliases: str, measurement: Measurement = K.DISTANCE_TIME) -> ExerciseDef:
    return _ex(
        slug, name, (M.CARDIO,), (), E.NONE, *aliases, category=C.CARDIO, measurement=measurement
    )


def _stretch(slug: str, name: str, primary: tuple[Muscle, ...], *aliases: str) -> ExerciseDef:
    return _ex(slug, name, primary, (), E.NONE, *aliases, category=C.MOBILITY, measurement=K.TIME)


# One exercise per call reads far better than the formatter's one-argument-per-line layout.
# fmt: off
_LEGS = (M.QUADRICEPS, M.GLUTES)
_POSTERIOR = (M.HAMSTRINGS, M.GLUTES)

EXERCISES: tuple[ExerciseDef, ...] = (
    # ---- squat pattern
    _ex("barbell-back-squat", "Barbell Back Squat", _LEGS, (M.ADDUCTORS, M.LOWER_BACK, M.ABS), E.BARBELL,
        "Back Squat", "Squat (Barbell)", "Squat", "Barbell Squat", "High Bar Squat"),
    _ex("low-bar-squat", "Low Bar Squat", _LEGS, (M.HAMSTRINGS, M.ADDUCTORS, M.LOWER_BACK), E.BARBELL,
        "Low Bar Squat (Barbell)"),
    _ex("barbell-front-squat", "Barbell Front Squat", (M.QUADRICEPS,), (M.GLUTES, M.UPPER_BACK, M.ABS),
        E.BARBELL, "Front Squat", "Front Squat (Barbell)"),
    _ex("box-squat", "Box Squat", _LEGS, (M.HAMSTRINGS, M.LOWER_BACK), E.BARBELL, "Box Squat (Barbell)"),
    _ex("pause-squat", "Pause Squat", _LEGS, (M.ADDUCTORS, M.LOWER_BACK), E.BARBELL,
        "Paused Squat (Barbell)", "Pause Squat (Barbell)"),
    _ex("goblet-squat", "Goblet Squat", _LEGS, (M.ADDUCTORS, M.ABS), E.DUMBBELL,
        "Goblet Squat (Dumbbell)", "Goblet Squat (Kettlebell)"),
    _ex("smith-machine-squat", "Smith Machine Squat", _LEGS, (M.ADDUCTORS,), E.SMITH_MACHINE,
        "Squat (Smith Machine)"),
    _ex("hack-squat", "Hack Squat", (M.QUADRICEPS,), (M.GLUTES,), E.MACHINE,
        "Hack Squat (Machine)"),
    _ex("leg-press", "Leg Press", _LEGS, (M.ADDUCTORS, M.HAMSTRINGS), E.MACHINE,
        "Leg Press (Machine)", "Sled Leg Press"),
    _ex("bodyweight-squat", "Bodyweight Squat", _LEGS, (M.ADDUCTORS,), E.BODYWEIGHT,
        "Air Squat", "Squat (Bodyweight)", measurement=K.REPS_ONLY),
    _ex("jump-squat", "Jump Squat", _LEGS, (M.CALVES,), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    _ex("pistol-squat", "Pistol Squat", _LEGS, (M.ABS,), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    _ex("bulgarian-split-squat", "Bulgarian Split Squat", _LEGS, (M.ADDUCTORS, M.HAMSTRINGS), E.DUMBBELL,
        "Bulgarian Split Squat (Dumbbell)", "Rear Foot Elevated Split Squat"),
    _ex("dumbbell-lunge", "Dumbbell Lunge", _LEGS, (M.HAMSTRINGS, M.ADDUCTORS), E.DUMBBELL,
        "Lunge (Dumbbell)", "Lunges (Dumbbell)"),
    _ex("barbell-lunge", "Barbell Lunge", _LEGS, (M.HAMSTRINGS, M.ADDUCTORS), E.BARBELL, "Lunge (Barbell)"),
    _ex("walking-lunge", "Walking Lunge", _LEGS, (M.HAMSTRINGS, M.ADDUCTORS), E.DUMBBELL,
        "Walking Lunge (Dumbbell)"),
    _ex("bodyweight-lunge", "Bodyweight Lunge", _LEGS, (M.HAMSTRINGS,), E.BODYWEIGHT,
        "Lunge (Bodyweight)", "Lunge", measurement=K.REPS_ONLY),
    _ex("reverse-lunge", "Reverse Lunge", _LEGS, (M.HAMSTRINGS,), E.DUMBBELL, "Reverse Lunge (Dumbbell)"),
    _ex("step-up", "Dumbbell Step Up", _LEGS, (M.HAMSTRINGS, M.CALVES), E.DUMBBELL,
        "Step Up", "Step-up (Dumbbell)"),
    _ex("leg-extension", "Leg Extension", (M.QUADRICEPS,), (), E.MACHINE, "Leg Extension (Machine)"),
    _ex("sissy-squat", "Sissy Squat", (M.QUADRICEPS,), (), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    # ---- hinge pattern
    _ex("barbell-deadlift", "Barbell Deadlift", _POSTERIOR, (M.LOWER_BACK, M.TRAPS, M.FOREARMS, M.QUADRICEPS),
        E.BARBELL, "Deadlift", "Deadlift (Barbell)", "Conventional Deadlift"),
    _ex("sumo-deadlift", "Sumo Deadlift", (M.GLUTES, M.ADDUCTORS, M.QUADRICEPS), (M.HAMSTRINGS, M.LOWER_BACK),
        E.BARBELL, "Sumo Deadlift (Barbell)"),
    _ex("trap-bar-deadlift", "Trap Bar Deadlift", (M.QUADRICEPS, M.GLUTES), (M.HAMSTRINGS, M.TRAPS),
        E.TRAP_BAR, "Deadlift (Trap Bar)", "Hex Bar Deadlift"),
    _ex("romanian-deadlift", "Romanian Deadlift", _POSTERIOR, (M.LOWER_BACK, M.FOREARMS), E.BARBELL,
        "Romanian Deadlift (Barbell)", "RDL"),
    _ex("dumbbell-romanian-deadlift", "Dumbbell Romanian Deadlift", _POSTERIOR, (M.LOWER_BACK,), E.DUMBBELL,
        "Romanian Deadlift (Dumbbell)"),
    _ex("stiff-leg-deadlift", "Stiff Leg Deadlift", _POSTERIOR, (M.LOWER_BACK,), E.BARBELL,
        "Straight Leg Deadlift", "Stiff Leg Deadlift (Barbell)"),
    _ex("single-leg-romanian-deadlift", "Single Leg Romanian Deadlift", _POSTERIOR, (M.ABS,), E.DUMBBELL,
        "Single Leg Romanian Deadlift (Dumbbell)"),
    _ex("deficit-deadlift", "Deficit Deadlift", _POSTERIOR, (M.LOWER_BACK, M.QUADRICEPS), E.BARBELL),
    _ex("rack-pull", "Rack Pull", (M.GLUTES, M.LOWER_BACK), (M.TRAPS, M.HAMSTRINGS, M.FOREARMS), E.BARBELL,
        "Rack Pull (Barbell)"),
    _ex("good-morning", "Good Morning", (M.HAMSTRINGS, M.LOWER_BACK), (M.GLUTES,), E.BARBELL,
        "Good Morning (Barbell)"),
    _ex("barbell-hip-thrust", "Barbell Hip Thrust", (M.GLUTES,), (M.HAMSTRINGS,), E.BARBELL,
        "Hip Thrust (Barbell)", "Hip Thrust"),
    _ex("glute-bridge", "Glute Bridge", (M.GLUTES,), (M.HAMSTRINGS,), E.BODYWEIGHT,
        "Bridge", measurement=K.REPS_ONLY),
    _ex("kettlebell-swing", "Kettlebell Swing", (M.GLUTES, M.HAMSTRINGS), (M.LOWER_BACK, M.FRONT_DELTS),
        E.KETTLEBELL, "Kettlebell Swings"),
    _ex("cable-pull-through", "Cable Pull Through", (M.GLUTES,), (M.HAMSTRINGS,), E.CABLE,
        "Pull Through (Cable)"),
    _ex("back-extension", "Back Extension", (M.LOWER_BACK,), (M.GLUTES, M.HAMSTRINGS), E.BODYWEIGHT,
        "Back Extension (Hyperextension)", "Hyperextension", "Back Extension (Machine)"),
    _ex("lying-leg-curl", "Lying Leg Curl", (M.HAMSTRINGS,), (M.CALVES,), E.MACHINE,
        "Lying Leg Curl (Machine)", "Leg Curl"),
    _ex("seated-leg-curl", "Seated Leg Curl", (M.HAMSTRINGS,), (), E.MACHINE, "Seated Leg Curl (Machine)"),
    _ex("nordic-hamstring-curl", "Nordic Hamstring Curl", (M.HAMSTRINGS,), (M.GLUTES,), E.BODYWEIGHT,
        "Nordic Curl", "Nordic Hamstrings Curls", measurement=K.REPS_ONLY),
    _ex("hip-abduction-machine", "Hip Abduction", (M.ABDUCTORS,), (M.GLUTES,), E.MACHINE,
        "Hip Abductor (Machine)", "Hip Abduction (Machine)"),
    _ex("hip-adduction-machine", "Hip Adduction", (M.ADDUCTORS,), (), E.MACHINE,
        "Hip Adductor (Machine)", "Hip Adduction (Machine)"),
    _ex("cable-glute-kickback", "Cable Glute Kickback", (M.GLUTES,), (M.HAMSTRINGS,), E.CABLE,
        "Glute Kickback (Cable)"),
    # ---- calves
    _ex("standing-calf-raise", "Standing Calf Raise", (M.CALVES,), (), E.MACHINE,
        "Standing Calf Raise (Machine)", "Calf Raise"),
    _ex("seated-calf-raise", "Seated Calf Raise", (M.CALVES,), (), E.MACHINE,
        "Seated Calf Raise (Machine)", "Seated Calf Raise (Plate Loaded)"),
    _ex("dumbbell-calf-raise", "Dumbbell Calf Raise", (M.CALVES,), (), E.DUMBBELL,
        "Standing Calf Raise (Dumbbell)", "Calf Raise (Dumbbell)"),
    _ex("leg-press-calf-raise", "Leg Press Calf Raise", (M.CALVES,), (), E.MACHINE,
        "Calf Press on Leg Press", "Calf Press (Machine)"),
    # ---- horizontal push
    _ex("barbell-bench-press", "Barbell Bench Press", (M.CHEST,), (M.FRONT_DELTS, M.TRICEPS), E.BARBELL,
        "Bench Press", "Bench Press (Barbell)", "Flat Bench Press"),
    _ex("incline-barbell-bench-press", "Incline Barbell Bench Press", (M.CHEST, M.FRONT_DELTS), (M.TRICEPS,),
        E.BARBELL, "Incline Bench Press (Barbell)", "Incline Bench Press"),
    _ex("decline-barbell-bench-press", "Decline Barbell Bench Press", (M.CHEST,), (M.TRICEPS, M.FRONT_DELTS),
        E.BARBELL, "Decline Bench Press (Barbell)", "Decline Bench Press"),
    _ex("close-grip-bench-press", "Close Grip Bench Press", (M.TRICEPS, M.CHEST), (M.FRONT_DELTS,), E.BARBELL,
        "Bench Press - Close Grip (Barbell)", "Close Grip Bench Press (Barbell)"),
    _ex("paused-bench-press", "Paused Bench Press", (M.CHEST,), (M.FRONT_DELTS, M.TRICEPS), E.BARBELL,
        "Paused Bench Press (Barbell)", "Pause Bench Press"),
    _ex("dumbbell-bench-press", "Dumbbell Bench Press", (M.CHEST,), (M.FRONT_DELTS, M.TRICEPS), E.DUMBBELL,
        "Bench Press (Dumbbell)"),
    _ex("incline-dumbbell-bench-press", "Incline Dumbbell Bench Press", (M.CHEST, M.FRONT_DELTS),
        (M.TRICEPS,),
        E.DUMBBELL, "Incline Bench Press (Dumbbell)", "Incline Dumbbell Press"),
    _ex("decline-dumbbell-bench-press", "Decline Dumbbell Bench Press", (M.CHEST,), (M.TRICEPS,), E.DUMBBELL,
        "Decline Bench Press (Dumbbell)"),
    _ex("smith-machine-bench-press", "Smith Machine Bench Press", (M.CHEST,), (M.FRONT_DELTS, M.TRICEPS),
        E.SMITH_MACHINE, "Bench Press (Smith Machine)"),
    _ex("machine-chest-press", "Machine Chest Press", (M.CHEST,), (M.FRONT_DELTS, M.TRICEPS), E.MACHINE,
        "Chest Press (Machine)", "Chest Press"),
    _ex("dumbbell-fly", "Dumbbell Fly", (M.CHEST,), (M.FRONT_DELTS,), E.DUMBBELL,
        "Chest Fly (Dumbbell)", "Dumbbell Flyes"),
    _ex("incline-dumbbell-fly", "Incline Dumbbell Fly", (M.CHEST,), (M.FRONT_DELTS,), E.DUMBBELL,
        "Incline Chest Fly (Dumbbell)"),
    _ex("cable-crossover", "Cable Crossover", (M.CHEST,), (M.FRONT_DELTS,), E.CABLE,
        "Cable Fly Crossovers", "Chest Fly (Cable)"),
    _ex("pec-deck", "Pec Deck", (M.CHEST,), (M.FRONT_DELTS,), E.MACHINE,
        "Butterfly (Pec Deck)", "Chest Fly (Machine)", "Pec Deck (Machine)"),
    _ex("push-up", "Push Up", (M.CHEST,), (M.TRICEPS, M.FRONT_DELTS, M.ABS), E.BODYWEIGHT,
        "Push Ups", measurement=K.REPS_ONLY),
    _ex("knee-push-up", "Knee Push Up", (M.CHEST,), (M.TRICEPS, M.FRONT_DELTS), E.BODYWEIGHT,
        "Push Up (Knees)", "Kneeling Push Up", measurement=K.REPS_ONLY),
    _ex("incline-push-up", "Incline Push Up", (M.CHEST,), (M.TRICEPS, M.FRONT_DELTS), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("decline-push-up", "Decline Push Up", (M.CHEST, M.FRONT_DELTS), (M.TRICEPS,), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("diamond-push-up", "Diamond Push Up", (M.TRICEPS, M.CHEST), (M.FRONT_DELTS,), E.BODYWEIGHT,
        "Close Grip Push Up", measurement=K.REPS_ONLY),
    _ex("weighted-push-up", "Weighted Push Up", (M.CHEST,), (M.TRICEPS, M.FRONT_DELTS), E.PLATE,
        "Push Up (Weighted)"),
    _ex("chest-dip", "Chest Dip", (M.CHEST, M.TRICEPS), (M.FRONT_DELTS,), E.BODYWEIGHT,
        "Dip", "Dips", "Dips (Chest)", measurement=K.REPS_ONLY),
    _ex("weighted-dip", "Weighted Dip", (M.CHEST, M.TRICEPS), (M.FRONT_DELTS,), E.PLATE,
        "Chest Dip (Weighted)", "Dip (Weighted)"),
    _ex("assisted-dip", "Assisted Dip", (M.CHEST, M.TRICEPS), (M.FRONT_DELTS,), E.MACHINE,
        "Chest Dip (Assisted)", "Assisted Dip (Machine)"),
    # ---- vertical push / shoulders
    _ex("overhead-press", "Overhead Press", (M.FRONT_DELTS,), (M.SIDE_DELTS, M.TRICEPS, M.UPPER_BACK, M.ABS),
        E.BARBELL, "Overhead Press (Barbell)", "OHP", "Military Press", "Standing Press",
        "Strict Military Press (Barbell)"),
    _ex("seated-barbell-press", "Seated Barbell Shoulder Press", (M.FRONT_DELTS,), (M.SIDE_DELTS, M.TRICEPS),
        E.BARBELL, "Seated Overhead Press (Barbell)", "Seated Military Press"),
    _ex("push-press", "Push Press", (M.FRONT_DELTS,), (M.TRICEPS, M.QUADRICEPS, M.GLUTES), E.BARBELL,
        "Push Press (Barbell)"),
    _ex("dumbbell-shoulder-press", "Dumbbell Shoulder Press", (M.FRONT_DELTS,), (M.SIDE_DELTS, M.TRICEPS),
        E.DUMBBELL, "Shoulder Press (Dumbbell)", "Overhead Press (Dumbbell)",
        "Seated Shoulder Press (Dumbbell)"),
    _ex("arnold-press", "Arnold Press", (M.FRONT_DELTS,), (M.SIDE_DELTS, M.TRICEPS), E.DUMBBELL,
        "Arnold Press (Dumbbell)"),
    _ex("machine-shoulder-press", "Machine Shoulder Press", (M.FRONT_DELTS,), (M.SIDE_DELTS, M.TRICEPS),
        E.MACHINE, "Shoulder Press (Machine)", "Shoulder Press (Machine Plates)"),
    _ex("landmine-press", "Landmine Press", (M.FRONT_DELTS, M.CHEST), (M.TRICEPS,), E.BARBELL),
    _ex("pike-push-up", "Pike Push Up", (M.FRONT_DELTS,), (M.TRICEPS, M.SIDE_DELTS), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("handstand-push-up", "Handstand Push Up", (M.FRONT_DELTS,), (M.TRICEPS, M.TRAPS), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("dumbbell-lateral-raise", "Dumbbell Lateral Raise", (M.SIDE_DELTS,), (M.TRAPS,), E.DUMBBELL,
        "Lateral Raise (Dumbbell)", "Side Lateral Raise"),
    _ex("cable-lateral-raise", "Cable Lateral Raise", (M.SIDE_DELTS,), (), E.CABLE, "Lateral Raise (Cable)",
        "Single Arm Lateral Raise (Cable)"),
    _ex("machine-lateral-raise", "Machine Lateral Raise", (M.SIDE_DELTS,), (), E.MACHINE,
        "Lateral Raise (Machine)"),
    _ex("dumbbell-front-raise", "Dumbbell Front Raise", (M.FRONT_DELTS,), (M.SIDE_DELTS,), E.DUMBBELL,
        "Front Raise (Dumbbell)"),
    _ex("plate-front-raise", "Plate Front Raise", (M.FRONT_DELTS,), (), E.PLATE, "Front Raise (Plate)"),
    _ex("rear-delt-fly", "Dumbbell Rear Delt Fly", (M.REAR_DELTS,), (M.UPPER_BACK,), E.DUMBBELL,
        "Rear Delt Reverse Fly (Dumbbell)", "Reverse Fly (Dumbbell)", "Bent Over Reverse Fly"),
    _ex("reverse-pec-deck", "Reverse Pec Deck", (M.REAR_DELTS,), (M.UPPER_BACK,), E.MACHINE,
        "Rear Delt Reverse Fly (Machine)", "Reverse Fly (Machine)"),
    _ex("face-pull", "Face Pull", (M.REAR_DELTS,), (M.UPPER_BACK, M.TRAPS), E.CABLE,
        "Face Pull (Cable)"),
    _ex("upright-row", "Upright Row", (M.SIDE_DELTS, M.TRAPS), (M.BICEPS,), E.BARBELL,
        "Upright Row (Barbell)"),
    _ex("band-pull-apart", "Band Pull Apart", (M.REAR_DELTS,), (M.UPPER_BACK,), E.BAND,
        measurement=K.REPS_ONLY),
    # ---- traps
    _ex("barbell-shrug", "Barbell Shrug", (M.TRAPS,), (M.FOREARMS,), E.BARBELL, "Shrug (Barbell)"),
    _ex("dumbbell-shrug", "Dumbbell Shrug", (M.TRAPS,), (M.FOREARMS,), E.DUMBBELL, "Shrug (Dumbbell)"),
    # ---- vertical pull
    _ex("pull-up", "Pull Up", (M.LATS,), (M.BICEPS, M.UPPER_BACK, M.FOREARMS), E.BODYWEIGHT,
        "Pull Ups", measurement=K.REPS_ONLY),
    _ex("chin-up", "Chin Up", (M.LATS, M.BICEPS), (M.UPPER_BACK, M.FOREARMS), E.BODYWEIGHT,
        "Chin Ups", measurement=K.REPS_ONLY),
    _ex("weighted-pull-up", "Weighted Pull Up", (M.LATS,), (M.BICEPS, M.UPPER_BACK, M.FOREARMS), E.PLATE,
        "Pull Up (Weighted)"),
    _ex("weighted-chin-up", "Weighted Chin Up", (M.LATS, M.BICEPS), (M.UPPER_BACK,), E.PLATE,
        "Chin Up (Weighted)"),
    _ex("assisted-pull-up", "Assisted Pull Up", (M.LATS,), (M.BICEPS, M.UPPER_BACK), E.MACHINE,
        "Pull Up (Assisted)", "Assisted Pull Up (Machine)"),
    _ex("neutral-grip-pull-up", "Neutral Grip Pull Up", (M.LATS,), (M.BICEPS, M.FOREARMS), E.BODYWEIGHT,
        "Pull Up (Neutral Grip)", measurement=K.REPS_ONLY),
    _ex("lat-pulldown", "Lat Pulldown", (M.LATS,), (M.BICEPS, M.UPPER_BACK), E.CABLE,
        "Lat Pulldown (Cable)", "Lat Pulldown - Wide Grip (Cable)", "Pulldown"),
    _ex("close-grip-lat-pulldown", "Close Grip Lat Pulldown", (M.LATS,), (M.BICEPS,), E.CABLE,
        "Lat Pulldown - Close Grip (Cable)", "Lat Pulldown (Close Grip)"),
    _ex("machine-lat-pulldown", "Machine Lat Pulldown", (M.LATS,), (M.BICEPS,), E.MACHINE,
        "Lat Pulldown (Machine)"),
    _ex("straight-arm-pulldown", "Straight Arm Pulldown", (M.LATS,), (M.TRICEPS,), E.CABLE,
        "Straight Arm Pulldown (Cable)", "Straight Arm Lat Pulldown (Cable)"),
    # ---- horizontal pull
    _ex("barbell-row", "Barbell Row", (M.UPPER_BACK, M.LATS), (M.REAR_DELTS, M.BICEPS, M.LOWER_BACK),
        E.BARBELL,
        "Bent Over Row (Barbell)", "Bent Over Row", "Barbell Bent Over Row"),
    _ex("pendlay-row", "Pendlay Row", (M.UPPER_BACK, M.LATS), (M.REAR_DELTS, M.LOWER_BACK), E.BARBELL,
        "Pendlay Row (Barbell)"),
    _ex("dumbbell-row", "Dumbbell Row", (M.LATS, M.UPPER_BACK), (M.BICEPS, M.REAR_DELTS), E.DUMBBELL,
        "Bent Over One Arm Row (Dumbbell)", "One Arm Dumbbell Row", "Single Arm Row (Dumbbell)"),
    _ex("chest-supported-row", "Chest Supported Dumbbell Row", (M.UPPER_BACK, M.LATS), (M.REAR_DELTS,),
        E.DUMBBELL, "Chest Supported Incline Row (Dumbbell)", "Incline Row (Dumbbell)"),
    _ex("seated-cable-row", "Seated Cable Row", (M.UPPER_BACK, M.LATS), (M.BICEPS, M.REAR_DELTS), E.CABLE,
        "Seated Row (Cable)", "Seated Cable Row - V Grip (Cable)", "Cable Row"),
    _ex("machine-row", "Machine Row", (M.UPPER_BACK, M.LATS), (M.BICEPS,), E.MACHINE,
        "Seated Row (Machine)", "Iso-Lateral Row (Machine)"),
    _ex("t-bar-row", "T-Bar Row", (M.UPPER_BACK, M.LATS), (M.BICEPS, M.LOWER_BACK), E.BARBELL,
        "T-Bar Row (Machine)"),
    _ex("inverted-row", "Inverted Row", (M.UPPER_BACK, M.LATS), (M.BICEPS, M.REAR_DELTS), E.BODYWEIGHT,
        "Inverted Row (Bodyweight)", "Australian Pull Up", measurement=K.REPS_ONLY),
    _ex("seal-row", "Seal Row", (M.UPPER_BACK, M.LATS), (M.REAR_DELTS,), E.BARBELL, "Seal Row (Barbell)"),
    # ---- biceps
    _ex("barbell-curl", "Barbell Curl", (M.BICEPS,), (M.FOREARMS,), E.BARBELL,
        "Bicep Curl (Barbell)", "Biceps Curl (Barbell)"),
    _ex("ez-bar-curl", "EZ Bar Curl", (M.BICEPS,), (M.FOREARMS,), E.EZ_BAR,
        "EZ Bar Biceps Curl", "Bicep Curl (EZ Bar)"),
    _ex("dumbbell-curl", "Dumbbell Curl", (M.BICEPS,), (M.FOREARMS,), E.DUMBBELL,
        "Bicep Curl (Dumbbell)", "Biceps Curl (Dumbbell)", "Dumbbell Bicep Curl"),
    _ex("hammer-curl", "Hammer Curl", (M.BICEPS, M.FOREARMS), (), E.DUMBBELL, "Hammer Curl (Dumbbell)"),
    _ex("incline-dumbbell-curl", "Incline Dumbbell Curl", (M.BICEPS,), (), E.DUMBBELL,
        "Incline Curl (Dumbbell)", "Incline Bicep Curl (Dumbbell)"),
    _ex("preacher-curl", "Preacher Curl", (M.BICEPS,), (M.FOREARMS,), E.EZ_BAR,
        "Preacher Curl (Barbell)", "Preacher Curl (EZ Bar)"),
    _ex("machine-preacher-curl", "Machine Preacher Curl", (M.BICEPS,), (), E.MACHINE,
        "Preacher Curl (Machine)", "Bicep Curl (Machine)"),
    _ex("concentration-curl", "Concentration Curl", (M.BICEPS,), (), E.DUMBBELL,
        "Concentration Curl (Dumbbell)"),
    _ex("cable-curl", "Cable Curl", (M.BICEPS,), (M.FOREARMS,), E.CABLE,
        "Bicep Curl (Cable)", "Biceps Curl (Cable)"),
    _ex("spider-curl", "Spider Curl", (M.BICEPS,), (), E.DUMBBELL, "Spider Curl (Dumbbell)"),
    # ---- triceps
    _ex("triceps-pushdown", "Triceps Pushdown", (M.TRICEPS,), (), E.CABLE,
        "Triceps Pushdown (Cable - Straight Bar)", "Tricep Pushdown", "Pushdown (Cable)"),
    _ex("rope-pushdown", "Rope Pushdown", (M.TRICEPS,), (), E.CABLE,
        "Triceps Rope Pushdown", "Triceps Pushdown (Cable - Rope)"),
    _ex("overhead-cable-triceps-extension", "Overhead Cable Triceps Extension", (M.TRICEPS,), (), E.CABLE,
        "Triceps Extension (Cable)", "Overhead Triceps Extension (Cable)"),
    _ex("dumbbell-overhead-triceps-extension", "Dumbbell Overhead Triceps Extension", (M.TRICEPS,), (),
        E.DUMBBELL, "Triceps Extension (Dumbbell)", "Overhead Triceps Extension (Dumbbell)"),
    _ex("skull-crusher", "Skull Crusher", (M.TRICEPS,), (), E.EZ_BAR,
        "Skullcrusher (Barbell)", "Lying Triceps Extension (Barbell)", "Skullcrusher (EZ Bar)"),
    _ex("dumbbell-skull-crusher", "Dumbbell Skull Crusher", (M.TRICEPS,), (), E.DUMBBELL,
        "Skullcrusher (Dumbbell)"),
    _ex("triceps-kickback", "Triceps Kickback", (M.TRICEPS,), (), E.DUMBBELL,
        "Triceps Kickback (Dumbbell)", "Tricep Kickback"),
    _ex("triceps-dip", "Triceps Dip", (M.TRICEPS,), (M.CHEST, M.FRONT_DELTS), E.BODYWEIGHT,
        "Tricep Dip", "Parallel Bar Dip", measurement=K.REPS_ONLY),
    _ex("bench-dip", "Bench Dip", (M.TRICEPS,), (M.CHEST, M.FRONT_DELTS), E.BODYWEIGHT,
        "Bench Dips", "Tricep Bench Dip", measurement=K.REPS_ONLY),
    _ex("jm-press", "JM Press", (M.TRICEPS,), (M.CHEST,), E.BARBELL, "JM Press (Barbell)"),
    # ---- forearms / grip
    _ex("wrist-curl", "Wrist Curl", (M.FOREARMS,), (), E.DUMBBELL, "Wrist Curl (Dumbbell)",
        "Seated Palms Up Wrist Curl"),
    _ex("reverse-wrist-curl", "Reverse Wrist Curl", (M.FOREARMS,), (), E.DUMBBELL,
        "Reverse Wrist Curl (Dumbbell)"),
    _ex("reverse-curl", "Reverse Curl", (M.FOREARMS, M.BICEPS), (), E.BARBELL, "Reverse Curl (Barbell)"),
    _ex("farmers-walk", "Farmer's Walk", (M.FOREARMS, M.TRAPS), (M.ABS, M.GLUTES), E.DUMBBELL,
        "Farmer's Carry", "Farmers Walk (Dumbbell)"),
    _ex("dead-hang", "Dead Hang", (M.FOREARMS,), (M.LATS,), E.BODYWEIGHT,
        "Bar Hang", measurement=K.TIME),
    # ---- olympic / power / full body
    _ex("power-clean", "Power Clean", (M.FULL_BODY,), (M.TRAPS, M.GLUTES, M.HAMSTRINGS, M.QUADRICEPS),
        E.BARBELL, "Power Clean (Barbell)"),
    _ex("hang-clean", "Hang Clean", (M.FULL_BODY,), (M.TRAPS, M.GLUTES, M.HAMSTRINGS), E.BARBELL,
        "Hang Clean (Barbell)"),
    _ex("clean-and-jerk", "Clean and Jerk", (M.FULL_BODY,), (M.FRONT_DELTS, M.QUADRICEPS, M.GLUTES),
        E.BARBELL, "Clean and Jerk (Barbell)", "Clean & Jerk"),
    _ex("snatch", "Snatch", (M.FULL_BODY,), (M.TRAPS, M.FRONT_DELTS, M.QUADRICEPS), E.BARBELL,
        "Snatch (Barbell)", "Power Snatch"),
    _ex("thruster", "Thruster", (M.QUADRICEPS, M.FRONT_DELTS), (M.GLUTES, M.TRICEPS), E.BARBELL,
        "Thruster (Barbell)"),
    _ex("kettlebell-goblet-clean", "Kettlebell Clean and Press", (M.FULL_BODY,), (M.FRONT_DELTS, M.GLUTES),
        E.KETTLEBELL, "Clean and Press (Kettlebell)"),
    _ex("turkish-get-up", "Turkish Get Up", (M.FULL_BODY,), (M.FRONT_DELTS, M.ABS, M.OBLIQUES),
        E.KETTLEBELL, "Turkish Get Up (Kettlebell)"),
    _ex("burpee", "Burpee", (M.FULL_BODY,), (M.CHEST, M.QUADRICEPS), E.BODYWEIGHT,
        "Burpees", measurement=K.REPS_ONLY),
    _ex("box-jump", "Box Jump", (M.QUADRICEPS, M.GLUTES), (M.CALVES,), E.BODYWEIGHT,
        "Box Jumps", measurement=K.REPS_ONLY),
    _ex("wall-ball", "Wall Ball", (M.QUADRICEPS, M.FRONT_DELTS), (M.GLUTES,), E.OTHER,
        "Wall Ball Shot", measurement=K.REPS_ONLY),
    _ex("sled-push", "Sled Push", (M.QUADRICEPS, M.GLUTES), (M.CALVES,), E.OTHER,
        measurement=K.DISTANCE),
    _ex("battle-ropes", "Battle Ropes", (M.CARDIO,), (M.FRONT_DELTS, M.FOREARMS), E.OTHER,
        "Battle Rope", category=C.CARDIO, measurement=K.TIME),
    # ---- core
    _ex("plank", "Plank", (M.ABS,), (M.OBLIQUES, M.FRONT_DELTS), E.BODYWEIGHT,
        "Front Plank", measurement=K.TIME),
    _ex("side-plank", "Side Plank", (M.OBLIQUES,), (M.ABS, M.ABDUCTORS), E.BODYWEIGHT, measurement=K.TIME),
    _ex("hollow-body-hold", "Hollow Body Hold", (M.ABS,), (), E.BODYWEIGHT, "Hollow Hold",
        measurement=K.TIME),
    _ex("l-sit", "L-Sit", (M.ABS,), (M.TRICEPS, M.QUADRICEPS), E.BODYWEIGHT, "L Sit Hold",
        measurement=K.TIME),
    _ex("wall-sit", "Wall Sit", (M.QUADRICEPS,), (M.GLUTES,), E.BODYWEIGHT, measurement=K.TIME),
    _ex("crunch", "Crunch", (M.ABS,), (), E.BODYWEIGHT, "Crunches", measurement=K.REPS_ONLY),
    _ex("sit-up", "Sit Up", (M.ABS,), (M.OBLIQUES,), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    _ex("cable-crunch", "Cable Crunch", (M.ABS,), (M.OBLIQUES,), E.CABLE, "Crunch (Cable)"),
    _ex("machine-crunch", "Machine Crunch", (M.ABS,), (), E.MACHINE, "Crunch (Machine)"),
    _ex("hanging-leg-raise", "Hanging Leg Raise", (M.ABS,), (M.OBLIQUES, M.FOREARMS), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("hanging-knee-raise", "Hanging Knee Raise", (M.ABS,), (M.FOREARMS,), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("lying-leg-raise", "Lying Leg Raise", (M.ABS,), (), E.BODYWEIGHT,
        "Leg Raise", measurement=K.REPS_ONLY),
    _ex("captains-chair-leg-raise", "Captain's Chair Leg Raise", (M.ABS,), (M.OBLIQUES,), E.MACHINE,
        "Knee Raise Parallel Bars", measurement=K.REPS_ONLY),
    _ex("ab-wheel-rollout", "Ab Wheel Rollout", (M.ABS,), (M.LATS, M.OBLIQUES), E.OTHER,
        "Ab Wheel", measurement=K.REPS_ONLY),
    _ex("russian-twist", "Russian Twist", (M.OBLIQUES,), (M.ABS,), E.PLATE,
        "Russian Twist (Weighted)", "Russian Twist (Bodyweight)"),
    _ex("bicycle-crunch", "Bicycle Crunch", (M.ABS, M.OBLIQUES), (), E.BODYWEIGHT,
        "Bicycle Crunches", measurement=K.REPS_ONLY),
    _ex("mountain-climber", "Mountain Climber", (M.ABS,), (M.FRONT_DELTS, M.QUADRICEPS), E.BODYWEIGHT,
        "Mountain Climbers", measurement=K.REPS_ONLY),
    _ex("dead-bug", "Dead Bug", (M.ABS,), (M.OBLIQUES,), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    _ex("bird-dog", "Bird Dog", (M.LOWER_BACK, M.ABS), (M.GLUTES,), E.BODYWEIGHT, measurement=K.REPS_ONLY),
    _ex("pallof-press", "Pallof Press", (M.OBLIQUES, M.ABS), (), E.CABLE, "Pallof Press (Cable)"),
    _ex("woodchopper", "Cable Woodchopper", (M.OBLIQUES,), (M.ABS,), E.CABLE,
        "Cable Twist", "Woodchopper (Cable)", "Wood Chop (Cable)"),
    _ex("dragon-flag", "Dragon Flag", (M.ABS,), (M.OBLIQUES, M.LOWER_BACK), E.BODYWEIGHT,
        measurement=K.REPS_ONLY),
    _ex("neck-curl", "Neck Curl", (M.NECK,), (), E.PLATE, "Lying Neck Curl", "Neck Flexion"),
    _ex("neck-extension", "Neck Extension", (M.NECK,), (M.TRAPS,), E.PLATE, "Lying Neck Extension"),
    # ---- cardio
    _cardio("running", "Running", "Run", "Outdoor Run"),
    _cardio("treadmill-running", "Treadmill Running", "Treadmill", "Running (Treadmill)", "Treadmill Run"),
    _cardio("walking", "Walking", "Walk", "Outdoor Walk"),
    _cardio("hiking", "Hiking", "Hike"),
    _cardio("cycling", "Cycling", "Bike", "Outdoor Cycling", "Cycling (Outdoor)"),
    _cardio("stationary-bike", "Stationary Bike", "Cycling (Indoor)", "Indoor Cycling", "Spinning",
            "Exercise Bike"),
    _cardio("assault-bike", "Air Bike", "Assault Bike", "Echo Bike"),
    _cardio("rowing-machine", "Rowing Machine", "Rowing", "Rower", "Indoor Rowing",
            "Erg"),
    _cardio("elliptical", "Elliptical Trainer", "Elliptical", "Cross Trainer"),
    _cardio("stair-climber", "Stair Climber", "Stair Machine", "Stairmaster", "Climbing Stairs",
            measurement=K.TIME),
    _cardio("swimming", "Swimming", "Swim", "Pool Swim"),
    _cardio("jump-rope", "Jump Rope", "Skipping", "Skipping Rope", measurement=K.TIME),
    _cardio("ski-erg", "Ski Erg", "Ski Machine"),
    _cardio("sprints", "Sprints", "Sprint", "Running Sprints"),
    _cardio("jumping-jacks", "Jumping Jacks", "Jumping Jack", measurement=K.TIME),
    _cardio("hiit", "HIIT", "High Intensity Interval Training", measurement=K.TIME),
    # ---- mobility / stretching (timed holds)
    _stretch("hamstring-stretch", "Hamstring Stretch", (M.HAMSTRINGS,), "Standing Hamstring Stretch"),
    _stretch("quad-stretch", "Quad Stretch", (M.QUADRICEPS,), "Standing Quad Stretch"),
    _stretch("hip-flexor-stretch", "Hip Flexor Stretch", (M.QUADRICEPS,), "Kneeling Hip Flexor Stretch"),
    _stretch("pigeon-pose", "Pigeon Pose", (M.GLUTES,), "Pigeon Stretch"),
    _stretch("couch-stretch", "Couch Stretch", (M.QUADRICEPS,)),
    _stretch("childs-pose", "Child's Pose", (M.LOWER_BACK, M.LATS)),
    _stretch("cat-cow", "Cat Cow", (M.LOWER_BACK,), "Cat-Cow Stretch"),
    _stretch("worlds-greatest-stretch", "World's Greatest Stretch", (M.FULL_BODY,)),
    _stretch("doorway-chest-stretch", "Doorway Chest Stretch", (M.CHEST,), "Chest Stretch"),
    _stretch("cross-body-shoulder-stretch", "Cross Body Shoulder Stretch", (M.REAR_DELTS,),
             "Shoulder Stretch"),
    _stretch("overhead-triceps-stretch", "Overhead Triceps Stretch", (M.TRICEPS,), "Triceps Stretch"),
    _stretch("calf-stretch", "Calf Stretch", (M.CALVES,), "Wall Calf Stretch"),
    _stretch("butterfly-stretch", "Butterfly Stretch", (M.ADDUCTORS,), "Seated Butterfly Stretch"),
    _stretch("deep-squat-hold", "Deep Squat Hold", (M.ADDUCTORS, M.GLUTES), "Squat Hold", "Deep Squat"),
    _stretch("thoracic-rotation", "Thoracic Rotation", (M.UPPER_BACK,), "Open Book Stretch"),
    _stretch("lat-stretch", "Lat Stretch", (M.LATS,), "Hanging Lat Stretch"),
    _stretch("neck-stretch", "Neck Stretch", (M.NECK,), "Upper Trap Stretch"),
    _stretch("downward-dog", "Downward Dog", (M.HAMSTRINGS, M.CALVES), "Downward Facing Dog"),
    _stretch("cobra-stretch", "Cobra Stretch", (M.ABS,), "Cobra Pose"),
    _stretch("foam-rolling", "Foam Rolling", (M.FULL_BODY,), "Foam Roller"),
    _ex("hip-circles", "Hip Circles", (M.GLUTES,), (M.ADDUCTORS, M.ABDUCTORS), E.NONE,
        category=C.MOBILITY, measurement=K.REPS_ONLY),
    _ex("arm-circles", "Arm Circles", (M.SIDE_DELTS,), (M.FRONT_DELTS, M.REAR_DELTS), E.NONE,
        category=C.MOBILITY, measurement=K.REPS_ONLY),
    _ex("band-shoulder-dislocate", "Band Shoulder Dislocates", (M.FRONT_DELTS, M.REAR_DELTS), (), E.BAND,
        "Shoulder Dislocates", "Band Pass Through", category=C.MOBILITY, measurement=K.REPS_ONLY),
    _ex("leg-swings", "Leg Swings", (M.HAMSTRINGS, M.ADDUCTORS), (M.GLUTES,), E.NONE,
        category=C.MOBILITY, measurement=K.REPS_ONLY),
    _ex("ninety-ninety-hip-switch", "90/90 Hip Switch", (M.GLUTES,), (M.ADDUCTORS, M.ABDUCTORS), E.NONE,
        category=C.MOBILITY, measurement=K.REPS_ONLY),
    _ex("scapular-pull-up", "Scapular Pull Up", (M.LATS, M.TRAPS), (), E.BODYWEIGHT,
        "Scap Pull Up", measurement=K.REPS_ONLY),
    _ex("band-face-pull", "Band Face Pull", (M.REAR_DELTS,), (M.UPPER_BACK,), E.BAND,
        "Face Pull (Band)", measurement=K.REPS_ONLY),
    _ex("band-squat", "Banded Squat", _LEGS, (), E.BAND, "Squat (Band)", measurement=K.REPS_ONLY),
)
# fmt: on

EXERCISES_BY_SLUG: Mapping[str, ExerciseDef] = {exercise.slug: exercise for exercise in EXERCISES}



@cache
def default_name_index() -> ExerciseNameIndex:
    """Name index over the built-in catalogue (built once, lazily)."""
    return ExerciseNameIndex(EXERCISES)


# --------------------------------------------------------------------------- plans


def _p(
    slug: str,
    sets: int,
    reps: int | tuple[int, int] | None = None,
    *,
    amrap: bool = False,
    duration_s: int | None = None,
    rpe: float | None = None,
    rest_s: int = 90,
    superset: str | None = None,
    notes: str | None = None,
) -> PlanExercise:
    reps_min, reps_max = reps if isinstance(reps, tuple) else (reps, reps)
    return PlanExercise(
        slug=slug,
        sets=sets,
        reps_min=reps_min,
        reps_max=None if amrap else reps_max,
        amrap=amrap,
        duration_s=duration_s,
        rpe=rpe,
        rest_s=rest_s,
        superset=superset,
        notes=notes,
    )


def _day(name: str, *exercises: PlanExercise) -> PlanDay:
    return PlanDay(name=name, exercises=exercises)


_531_MAIN = (
    "5/3/1 waves on a training max (90% of 1RM). Week 1: 65/75/85% x5,5,5+; "
    "week 2: 70/80/90% x3,3,3+; week 3: 75/85/95% x5,3,1+; week 4 deload 40/50/60% x5."
)
_BBB = "Boring But Big: 5x10 at 50-60% of the training max."
_LINEAR = "Add 2.5 kg (5 lb) every successful session; 5 kg (10 lb) on deadlifts."

PLANS: tuple[PlanDef, ...] = (
    PlanDef(
        slug="full-body-3x",
        name="Full Body 3x/Week",
        description="Three non-consecutive full-body days hitting every major muscle group with compounds "
        "first and accessories in supersets.",
        level="beginner",
        days_per_week=3,
        days=(
            _day(
                "Day A",
                _p("barbell-back-squat", 3, (5, 8), rpe=8, rest_s=180),
                _p("barbell-bench-press", 3, (5, 8), rpe=8, rest_s=150),
                _p("barbell-row", 3, (8, 10), rest_s=120),
                _p("dumbbell-lateral-raise", 3, (12, 15), rest_s=60, superset="a"),
                _p("hammer-curl", 3, (10, 12), rest_s=60, superset="a"),
                _p("plank", 3, duration_s=45, rest_s=60),
            ),
            _day(
                "Day B",
                _p("barbell-deadlift", 3, 5, rpe=8, rest_s=180),
                _p("overhead-press", 3, (6, 8), rpe=8, rest_s=150),
                _p("lat-pulldown", 3, (8, 12), rest_s=90),
                _p("bulgarian-split-squat", 3, (8, 10), rest_s=90),
                _p("triceps-pushdown", 3, (10, 15), rest_s=60, superset="a"),
                _p("face-pull", 3, (12, 15), rest_s=60, superset="a"),
            ),
            _day(
                "Day C",
                _p("barbell-front-squat", 3, (6, 8), rpe=8, rest_s=150),
                _p("incline-dumbbell-bench-press", 3, (8, 12), rest_s=120),
                _p("chin-up", 3, (6, 10), rest_s=120),
                _p("romanian-deadlift", 3, (8, 10), rest_s=120),
                _p("standing-calf-raise", 3, (10, 15), rest_s=60, superset="a"),
                _p("hanging-leg-raise", 3, (10, 15), rest_s=60, superset="a"),
            ),
        ),
    ),
    PlanDef(
        slug="push-pull-legs",
        name="Push/Pull/Legs",
        description="Classic bodybuilding split; run the three days twice a week (6 days) or once (3 days).",
        level="intermediate",
        days_per_week=6,
        days=(
            _day(
                "Push",
                _p("barbell-bench-press", 4, (5, 8), rpe=8, rest_s=180),
                _p("overhead-press", 3, (8, 10), rest_s=120),
                _p("incline-dumbbell-bench-press", 3, (8, 12), rest_s=90),
                _p("dumbbell-lateral-raise", 4, (12, 20), rest_s=60, superset="a"),
                _p("rope-pushdown", 3, (10, 15), rest_s=60, superset="a"),
                _p("overhead-cable-triceps-extension", 3, (10, 15), rest_s=60),
            ),
            _day(
                "Pull",
                _p("barbell-deadlift", 3, 5, rpe=8, rest_s=180),
                _p("pull-up", 3, (6, 10), rest_s=120),
                _p("seated-cable-row", 3, (8, 12), rest_s=90),
                _p("face-pull", 4, (12, 20), rest_s=60, superset="a"),
                _p("dumbbell-curl", 3, (10, 12), rest_s=60, superset="a"),
                _p("hammer-curl", 3, (10, 12), rest_s=60),
            ),
            _day(
                "Legs",
                _p("barbell-back-squat", 4, (5, 8), rpe=8, rest_s=180),
                _p("romanian-deadlift", 3, (8, 10), rest_s=120),
                _p("leg-press", 3, (10, 15), rest_s=120),
                _p("lying-leg-curl", 3, (10, 15), rest_s=60, superset="a"),
                _p("leg-extension", 3, (10, 15), rest_s=60, superset="a"),
                _p("standing-calf-raise", 4, (10, 15), rest_s=60),
            ),
        ),
    ),
    PlanDef(
        slug="upper-lower",
        name="Upper/Lower",
        description="Four days a week alternating upper and lower body; heavy A days, volume B days.",
        level="intermediate",
        days_per_week=4,
        days=(
            _day(
                "Upper A",
                _p("barbell-bench-press", 4, (4, 6), rpe=8, rest_s=180),
                _p("barbell-row", 4, (6, 8), rest_s=150),
                _p("overhead-press", 3, (6, 8), rest_s=120),
                _p("chin-up", 3, (6, 10), rest_s=120),
                _p("skull-crusher", 3, (8, 12), rest_s=60, superset="a"),
                _p("barbell-curl", 3, (8, 12), rest_s=60, superset="a"),
            ),
            _day(
                "Lower A",
                _p("barbell-back-squat", 4, (4, 6), rpe=8, rest_s=180),
                _p("romanian-deadlift", 3, (6, 8), rest_s=150),
                _p("walking-lunge", 3, (10, 12), rest_s=90),
                _p("standing-calf-raise", 4, (8, 12), rest_s=60, superset="a"),
                _p("hanging-leg-raise", 3, (10, 15), rest_s=60, superset="a"),
            ),
            _day(
                "Upper B",
                _p("incline-dumbbell-bench-press", 4, (8, 12), rest_s=120),
                _p("lat-pulldown", 4, (8, 12), rest_s=90),
                _p("dumbbell-shoulder-press", 3, (8, 12), rest_s=90),
                _p("seated-cable-row", 3, (10, 12), rest_s=90),
                _p("dumbbell-lateral-raise", 3, (12, 20), rest_s=60, superset="a"),
                _p("rope-pushdown", 3, (10, 15), rest_s=60, superset="a"),
                _p("incline-dumbbell-curl", 3, (10, 15), rest_s=60),
            ),
            _day(
                "Lower B",
                _p("barbell-deadlift", 3, (3, 5), rpe=8, rest_s=180),
                _p("leg-press", 4, (10, 15), rest_s=120),
                _p("lying-leg-curl", 3, (10, 15), rest_s=60, superset="a"),
                _p("leg-extension", 3, (10, 15), rest_s=60, superset="a"),
                _p("seated-calf-raise", 4, (12, 15), rest_s=60),
                _p("cable-crunch", 3, (12, 15), rest_s=60),
            ),
        ),
    ),
    PlanDef(
        slug="stronglifts-5x5",
        name="StrongLifts 5x5",
        description="Alternate workouts A and B three times a week. " + _LINEAR,
        level="beginner",
        days_per_week=3,
        days=(
            _day(
                "Workout A",
                _p("barbell-back-squat", 5, 5, rest_s=180),
                _p("barbell-bench-press", 5, 5, rest_s=180),
                _p("barbell-row", 5, 5, rest_s=180),
            ),
            _day(
                "Workout B",
                _p("barbell-back-squat", 5, 5, rest_s=180),
                _p("overhead-press", 5, 5, rest_s=180),
                _p("barbell-deadlift", 1, 5, rest_s=180),
            ),
        ),
    ),
    PlanDef(
        slug="starting-strength",
        name="Starting Strength",
        description="Mark Rippetoe's novice linear progression; alternate A and B three times a week. "
        + _LINEAR,
        level="beginner",
        days_per_week=3,
        days=(
            _day(
                "Workout A",
                _p("low-bar-squat", 3, 5, rest_s=240),
                _p("barbell-bench-press", 3, 5, rest_s=240),
                _p("barbell-deadlift", 1, 5, rest_s=240),
            ),
            _day(
                "Workout B",
                _p("low-bar-squat", 3, 5, rest_s=240),
                _p("overhead-press", 3, 5, rest_s=240),
                _p("power-clean", 5, 3, rest_s=180),
            ),
        ),
    ),
    PlanDef(
        slug="531-boring-but-big",
        name="5/3/1 Boring But Big",
        description="Jim Wendler's 5/3/1 (simplified BBB template): one main lift per day on a 4-week wave, "
        "then 5x10 of the same lift and one assistance movement.",
        level="intermediate",
        days_per_week=4,
        days=tuple(
            _day(
                f"{title} Day",
                _p(main, 3, 5, amrap=True, rest_s=180, notes=_531_MAIN),
                _p(main, 5, 10, rest_s=90, notes=_BBB),
                _p(assistance, 5, (10, 15), rest_s=60),
            )
            for title, main, assistance in (
                ("Press", "overhead-press", "chin-up"),
                ("Deadlift", "barbell-deadlift", "hanging-leg-raise"),
                ("Bench", "barbell-bench-press", "dumbbell-row"),
                ("Squat", "barbell-back-squat", "lying-leg-curl"),
            )
        ),
    ),
    PlanDef(
        slug="phul",
        name="PHUL (Power Hypertrophy Upper Lower)",
        description="Four days: two heavy power days and two hypertrophy days, split upper/lower.",
        level="intermediate",
        days_per_week=4,
        days=(
            _day(
                "Upper Power",
                _p("barbell-bench-press", 4, (3, 5), rpe=8.5, rest_s=180),
                _p("incline-dumbbell-bench-press", 4, (6, 10), rest_s=120),
                _p("barbell-row", 4, (3, 5), rest_s=180),
                _p("lat-pulldown", 4, (6, 10), rest_s=120),
                _p("overhead-press", 3, (5, 8), rest_s=120),
                _p("barbell-curl", 3, (6, 10), rest_s=60, superset="a"),
                _p("skull-crusher", 3, (6, 10), rest_s=60, superset="a"),
            ),
            _day(
                "Lower Power",
                _p("barbell-back-squat", 4, (3, 5), rpe=8.5, rest_s=180),
                _p("barbell-deadlift", 4, (3, 5), rpe=8.5, rest_s=180),
                _p("leg-press", 4, (10, 15), rest_s=120),
                _p("lying-leg-curl", 4, (6, 10), rest_s=90),
                _p("standing-calf-raise", 4, (6, 10), rest_s=60),
            ),
            _day(
                "Upper Hypertrophy",
                _p("incline-barbell-bench-press", 4, (8, 12), rest_s=120),
                _p("dumbbell-fly", 4, (8, 12), rest_s=60),
                _p("seated-cable-row", 4, (8, 12), rest_s=90),
                _p("dumbbell-row", 4, (8, 12), rest_s=90),
                _p("dumbbell-lateral-raise", 4, (8, 12), rest_s=60),
                _p("incline-dumbbell-curl", 4, (8, 12), rest_s=60, superset="a"),
                _p("rope-pushdown", 4, (8, 12), rest_s=60, superset="a"),
            ),
            _day(
                "Lower Hypertrophy",
                _p("barbell-front-squat", 4, (8, 12), rest_s=120),
                _p("barbell-lunge", 4, (8, 12), rest_s=90),
                _p("leg-extension", 4, (10, 15), rest_s=60, superset="a"),
                _p("seated-leg-curl", 4, (10, 15), rest_s=60, superset="a"),
                _p("seated-calf-raise", 4, (8, 12), rest_s=60),
                _p("leg-press-calf-raise", 4, (8, 12), rest_s=60),
            ),
        ),
    ),
    PlanDef(
        slug="beginner-bodyweight",
        name="Beginner Bodyweight Routine",
        description="No-equipment-beyond-a-bar routine, three times a week; paired exercises are supersets. "
        "Move to the harder variation once you hit the top of the rep range on every set.",
        level="beginner",
        days_per_week=3,
        days=(
            _day(
                "Full Body",
                _p("arm-circles", 1, 10, rest_s=0, superset="warmup"),
                _p("leg-swings", 1, 10, rest_s=0, superset="warmup"),
                _p("scapular-pull-up", 1, 10, rest_s=30, superset="warmup"),
                _p("pull-up", 3, (5, 8), rest_s=90, superset="a"),
                _p("bodyweight-squat", 3, (15, 20), rest_s=90, superset="a"),
                _p("chest-dip", 3, (5, 8), rest_s=90, superset="b"),
                _p("inverted-row", 3, (8, 12), rest_s=90, superset="b"),
                _p("push-up", 3, (5, 8), rest_s=90, superset="c"),
                _p("glute-bridge", 3, (10, 15), rest_s=90, superset="c"),
                _p("plank", 3, duration_s=30, rest_s=60, superset="d"),
                _p("lying-leg-raise", 3, (8, 12), rest_s=60, superset="d"),
            ),
        ),
    ),
)

PLANS_BY_SLUG: Mapping[str, PlanDef] = {plan.slug: plan for plan in PLANS}
