from collections import Counter

import pytest

from keel.apps.gym.catalog import (
    EXERCISES,
    EXERCISES_BY_SLUG,
    PLANS,
    Category,
    ExerciseNameIndex,
    Measurement,
    Muscle,
    default_name_index,
    name_key,
)


def test_catalogue_size_and_unique_slugs() -> None:
    assert len(EXERCISES) >= 160
    assert len(EXERCISES_BY_SLUG) == len(EXERCISES)
    assert all(e.slug == e.slug.lower() and " " not in e.slug for e in EXERCISES)


def test_every_name_and_alias_resolves_to_exactly_one_exercise() -> None:
    owners: dict[str, set[str]] = {}
    for exercise in EXERCISES:
        keys = [name_key(name) for name in (exercise.name, *exercise.aliases)]
        assert len(keys) == len(set(keys)), f"redundant alias on {exercise.slug}"
        for key in keys:
            owners.setdefault(key, set()).add(exercise.slug)
    clashes = {key: slugs for key, slugs in owners.items() if len(slugs) > 1}
    assert not clashes


def test_catalogue_covers_all_categories_and_measurements() -> None:
    assert {e.category for e in EXERCISES} == set(Category)
    assert {e.measurement for e in EXERCISES} == set(Measurement)
    for slug in ("plank", "dead-hang", "running", "rowing-machine", "cycling", "push-up", "pigeon-pose"):
        assert slug in EXERCISES_BY_SLUG


def test_muscles_come_from_the_vocabulary_and_do_not_overlap() -> None:
    for exercise in EXERCISES:
        assert exercise.primary_muscles, exercise.slug
        assert all(isinstance(m, Muscle) for m in (*exercise.primary_muscles, *exercise.secondary_muscles))
        assert not set(exercise.primary_muscles) & set(exercise.secondary_muscles), exercise.slug


def test_time_based_and_bodyweight_exercises_are_measured_sensibly() -> None:
    assert EXERCISES_BY_SLUG["plank"].measurement is Measurement.TIME
    assert EXERCISES_BY_SLUG["dead-hang"].measurement is Measurement.TIME
    assert EXERCISES_BY_SLUG["pull-up"].measurement is Measurement.REPS_ONLY
    assert EXERCISES_BY_SLUG["running"].measurement is Measurement.DISTANCE_TIME
    assert EXERCISES_BY_SLUG["barbell-back-squat"].measurement is Measurement.WEIGHT_REPS


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        # Strong / Hevy display names
        ("Squat (Barbell)", "barbell-back-squat"),
        ("Bench Press (Barbell)", "barbell-bench-press"),
        ("Deadlift (Barbell)", "barbell-deadlift"),
        ("Overhead Press (Barbell)", "overhead-press"),
        ("Bent Over Row (Barbell)", "barbell-row"),
        ("Lat Pulldown (Cable)", "lat-pulldown"),
        ("Triceps Pushdown (Cable - Straight Bar)", "triceps-pushdown"),
        ("Bicep Curl (Dumbbell)", "dumbbell-curl"),
        ("Leg Press (Machine)", "leg-press"),
        ("Seated Cable Row - V Grip (Cable)", "seated-cable-row"),
        ("Romanian Deadlift (Barbell)", "romanian-deadlift"),
        ("Hip Thrust (Barbell)", "barbell-hip-thrust"),
        ("Rowing (Machine)", "rowing-machine"),
        # punctuation, case and word order
        ("pull-up", "pull-up"),
        ("PULLUP", "pull-up"),
        ("Barbell Squat", "barbell-back-squat"),
        ("Back Squat", "barbell-back-squat"),
        ("  chin up ", "chin-up"),
    ],
)
def test_name_index_matches_app_names(name: str, slug: str) -> None:
    assert default_name_index().match(name) == slug


def test_name_index_reports_unknown_and_accepts_custom_names() -> None:
    assert default_name_index().match("Zercher Good Morning Hold") is None
    assert default_name_index().match("") is None
    custom = ExerciseNameIndex(EXERCISES, extra={"Zercher Squat": "custom-42"})
    assert custom.match("zercher squat") == "custom-42"
    assert custom.match("Squat (Barbell)") == "barbell-back-squat"


def test_plans_reference_existing_exercises_and_are_well_formed() -> None:
    assert len(PLANS) >= 7
    assert len({plan.slug for plan in PLANS}) == len(PLANS)
    for plan in PLANS:
        assert plan.days, plan.slug
        for day in plan.days:
            assert day.exercises, (plan.slug, day.name)
            for item in day.exercises:
                assert item.slug in EXERCISES_BY_SLUG, (plan.slug, item.slug)
                assert item.sets >= 1
                assert (item.reps_min is not None) != (item.duration_s is not None)
                if item.reps_max is not None:
                    assert item.reps_min is not None and item.reps_min <= item.reps_max
                if item.rpe is not None:
                    assert 5 <= item.rpe <= 10
            # a superset label must group at least two exercises
            labels = Counter(item.superset for item in day.exercises if item.superset)
            assert all(count >= 2 for count in labels.values()), (plan.slug, day.name)


def test_well_known_plans_are_present_with_their_classic_prescriptions() -> None:
    plans = {plan.slug: plan for plan in PLANS}
    for slug in (
        "full-body-3x",
        "push-pull-legs",
        "upper-lower",
        "stronglifts-5x5",
        "starting-strength",
        "531-boring-but-big",
        "phul",
        "beginner-bodyweight",
    ):
        assert slug in plans
    workout_a = plans["stronglifts-5x5"].days[0]
    assert [(e.slug, e.sets, e.reps_min, e.reps_max) for e in workout_a.exercises] == [
        ("barbell-back-squat", 5, 5, 5),
        ("barbell-bench-press", 5, 5, 5),
        ("barbell-row", 5, 5, 5),
    ]
    deadlift = plans["stronglifts-5x5"].days[1].exercises[-1]
    assert (deadlift.slug, deadlift.sets, deadlift.reps_min) == ("barbell-deadlift", 1, 5)
    main_press = plans["531-boring-but-big"].days[0].exercises[0]
    assert main_press.amrap and main_press.reps_max is None
