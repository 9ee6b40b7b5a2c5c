from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from keel.apps.gym.catalog import EXERCISES_BY_SLUG
from keel.apps.gym.records import (
    ExerciseRecords,
    PerformedSet,
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
    weekly_muscle_volume,
)
from keel.apps.gym.units import to_kg

D = Decimal
T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)  # a Monday


def performed(
    set_id: int,
    weight: str | Decimal | None,
    reps: int | None,
    *,
    session: str = "s1",
    exercise: str = "barbell-bench-press",
    minutes: int = 0,
    set_type: SetType = SetType.NORMAL,
    duration_s: int | None = None,
    distance_m: str | None = None,
    rpe: str | None = None,
) -> PerformedSet:
    return PerformedSet(
        set_id=set_id,
        session_id=session,
        exercise_id=exercise,
        performed_at=T0 + timedelta(minutes=minutes),
        set_type=set_type,
        reps=reps,
        weight_kg=D(weight) if isinstance(weight, str) else weight,
        duration_s=duration_s,
        distance_m=D(distance_m) if distance_m is not None else None,
        rpe=D(rpe) if rpe is not None else None,
    )


# --------------------------------------------------------------------------- estimators


def test_epley_and_brzycki_reference_values() -> None:
    assert epley(100, 5) == D("116.67")
    assert brzycki(100, 5) == D("112.50")
    assert epley(D("102.058"), 8) == D("129.27")
    assert brzycki(60, 10) == D("80.00")


def test_single_rep_is_the_weight_itself() -> None:
    assert epley(180, 1) == D("180.00")
    assert brzycki(180, 1) == D("180.00")


def test_rep_cap_makes_high_rep_sets_unestimated() -> None:
    assert epley(100, 12) is not None
    assert epley(100, 13) is None
    assert brzycki(100, 13) is None
    assert brzycki(100, 20, rep_cap=20) == D("211.76")
    assert epley(100, 8, rep_cap=6) is None


def test_brzycki_never_divides_by_zero() -> None:
    assert brzycki(100, 37, rep_cap=40) is None
    assert brzycki(100, 40, rep_cap=40) is None


def test_no_load_or_no_reps_is_not_estimated() -> None:
    assert epley(0, 5) is None
    assert epley(100, 0) is None
    assert epley(-20, 5) is None  # assisted machines


def test_reps_in_reserve_and_rpe() -> None:
    assert rpe_to_rir(8) == D(2)
    assert rpe_to_rir("9.5") == D("0.5")
    assert effective_reps(5, rpe=8) == D(7)
    assert effective_reps(5, rir=3) == D(8)
    # 100 x 5 @ RPE 8 estimates like 100 x 7
    assert epley(100, 5, rpe=8) == epley(100, 7) == D("123.33")
    assert estimate_1rm(100, 5, "brzycki", rir=2) == brzycki(100, 7)
    # RIR pushes a set past the cap
    assert epley(100, 11, rir=2) is None
    with pytest.raises(ValueError):
        rpe_to_rir(11)
    with pytest.raises(ValueError):
        effective_reps(5, rir=1, rpe=9)


def test_bad_estimator_arguments_raise() -> None:
    with pytest.raises(ValueError):
        estimate_1rm(0, 5, "lombardi")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        epley(100, 5, rep_cap=0)


def test_set_volume() -> None:
    assert set_volume(D("100"), 5) == D("500.000")
    assert set_volume(to_kg(225, "lb"), 5) == D("510.290")
    assert set_volume(None, 10) == 0
    assert set_volume(D("100"), None) == 0


# --------------------------------------------------------------------------- record engine


def test_records_over_a_history_ignore_warmups() -> None:
    history = [
        performed(1, "140", 3, set_type=SetType.WARMUP),  # heavy "warm-up" must not count
        performed(2, "100", 5, minutes=5),
        performed(3, "100", 5, minutes=8),
        performed(4, "90", 8, minutes=11),
        performed(5, "110", 3, session="s2", minutes=60 * 48),
        performed(6, "100", 6, session="s2", minutes=60 * 48 + 4),
    ]
    records = compute_records(history)["barbell-bench-press"]

    assert records.heaviest_weight is not None
    assert (records.heaviest_weight.value, records.heaviest_weight.set_id) == (D("110.000"), 5)
    assert records.e1rm is not None
    assert (records.e1rm.value, records.e1rm.set_id) == (D("121.00"), 5)  # 110 x 3 beats 100 x 6 (120)
    assert records.best_set_volume is not None
    assert (records.best_set_volume.value, records.best_set_volume.set_id) == (D("720.000"), 4)  # 90 x 8
    session = records.best_session_volume
    assert session is not None
    assert (session.value, session.session_id, session.set_id) == (D("1720.000"), "s1", None)
    assert session.achieved_at == T0 + timedelta(minutes=11)
    reps_at = {w: r.value for w, r in records.most_reps_at_weight.items()}
    assert reps_at == {D("100.000"): D(6), D("90.000"): D(8), D("110.000"): D(3)}
    assert D("140.000") not in records.most_reps_at_weight


def test_ties_keep_the_earlier_set() -> None:
    records = compute_records([performed(1, "100", 5), performed(2, "100", 5, minutes=3)])
    e1rm = records["barbell-bench-press"].e1rm
    assert e1rm is not None and e1rm.set_id == 1


def test_new_heavier_set_is_flagged_as_pr() -> None:
    current = compute_records([performed(1, "100", 5), performed(2, "100", 5, minutes=3)])[
        "barbell-bench-press"
    ]
    broken = records_broken_by(current, performed(3, "105", 3, session="s2", minutes=3000))
    kinds = {record.kind: record for record in broken}
    assert set(kinds) == {RecordKind.HEAVIEST_WEIGHT, RecordKind.MOST_REPS_AT_WEIGHT}
    assert kinds[RecordKind.HEAVIEST_WEIGHT].value == D("105.000")
    assert kinds[RecordKind.HEAVIEST_WEIGHT].previous_value == D("100.000")
    assert kinds[RecordKind.HEAVIEST_WEIGHT].set_id == 3
    # first time at 105: the per-weight record has no previous value, UIs may stay quiet about it
    assert kinds[RecordKind.MOST_REPS_AT_WEIGHT].previous_value is None


def test_a_lighter_set_breaks_nothing_and_warmups_never_do() -> None:
    current = compute_records([performed(1, "100", 5)])["barbell-bench-press"]
    # only "first time at 80 kg", which carries no previous value
    [lighter] = records_broken_by(current, performed(2, "80", 3, minutes=5))
    assert (lighter.kind, lighter.previous_value) == (RecordKind.MOST_REPS_AT_WEIGHT, None)
    assert records_broken_by(current, performed(3, "200", 5, set_type=SetType.WARMUP)) == []
    assert records_broken_by(current, performed(4, "100", 5, minutes=9)) == []


def test_drop_and_failure_sets_count() -> None:
    current = compute_records([performed(1, "100", 5)])["barbell-bench-press"]
    broken = records_broken_by(current, performed(2, "60", 15, minutes=3, set_type=SetType.DROP))
    assert RecordKind.BEST_SET_VOLUME in {r.kind for r in broken}  # 900 > 500
    broken = records_broken_by(current, performed(3, "100", 6, minutes=6, set_type=SetType.FAILURE))
    assert RecordKind.E1RM in {r.kind for r in broken}


def test_pound_sets_compare_correctly_with_kilogram_sets() -> None:
    current = compute_records([performed(1, "100", 5)])["barbell-bench-press"]
    # 220 lb = 99.79 kg: lighter than 100 kg, no heaviest-weight record
    lighter = records_broken_by(current, performed(2, to_kg(220, "lb"), 5, minutes=5))
    assert RecordKind.HEAVIEST_WEIGHT not in {r.kind for r in lighter}
    # 225 lb = 102.058 kg: heavier
    heavier = records_broken_by(current, performed(3, to_kg(225, "lb"), 5, minutes=10))
    record = next(r for r in heavier if r.kind is RecordKind.HEAVIEST_WEIGHT)
    assert record.value == D("102.058")
    assert next(r for r in heavier if r.kind is RecordKind.E1RM).value == D("119.07")


def test_session_volume_record_is_flagged_when_the_running_total_passes_it() -> None:
    current = compute_records([performed(1, "100", 5), performed(2, "100", 5, minutes=3)])[
        "barbell-bench-press"
    ]  # best session 1000 kg
    new_set = performed(3, "100", 5, session="s2", minutes=3000)
    assert RecordKind.BEST_SESSION_VOLUME not in {
        r.kind for r in records_broken_by(current, new_set, session_volume_before=D(0))
    }
    broken = records_broken_by(current, new_set, session_volume_before=D(600))
    session = next(r for r in broken if r.kind is RecordKind.BEST_SESSION_VOLUME)
    assert (session.value, session.session_id, session.set_id) == (D("1100.000"), "s2", None)


def test_apply_updates_records_incrementally() -> None:
    history = [performed(1, "100", 5), performed(2, "105", 3, minutes=4)]
    batch = compute_records(history)["barbell-bench-press"]
    incremental = ExerciseRecords("barbell-bench-press")
    volume = D(0)
    for item in history:
        incremental = incremental.apply(records_broken_by(incremental, item, session_volume_before=volume))
        volume += set_volume(item.weight_kg, item.reps)
    assert incremental.all() == batch.all()


def test_time_distance_and_bodyweight_records() -> None:
    history = [
        performed(1, None, None, exercise="plank", duration_s=60),
        performed(2, None, None, exercise="plank", duration_s=95, minutes=2),
        performed(3, None, None, exercise="running", distance_m="5000", duration_s=1500),
        performed(4, None, 12, exercise="pull-up"),
        performed(5, None, 15, exercise="pull-up", minutes=3),
    ]
    records = compute_records(history)
    assert records["plank"].longest_duration is not None
    assert records["plank"].longest_duration.value == 95
    assert records["plank"].e1rm is None
    assert records["running"].longest_distance is not None
    assert records["running"].longest_distance.value == D("5000")
    pull_ups = records["pull-up"]
    assert pull_ups.most_reps_at_weight[D(0)].value == 15
    assert pull_ups.heaviest_weight is None and pull_ups.e1rm is None


def test_config_formula_rpe_and_cap() -> None:
    history = [performed(1, "100", 5, rpe="8")]
    assert compute_records(history)["barbell-bench-press"].e1rm.value == D("116.67")  # type: ignore[union-attr]
    with_rpe = compute_records(history, config=RecordConfig(use_rpe=True))
    assert with_rpe["barbell-bench-press"].e1rm.value == D("123.33")  # type: ignore[union-attr]
    brz = compute_records(history, config=RecordConfig(formula="brzycki"))
    assert brz["barbell-bench-press"].e1rm.value == D("112.50")  # type: ignore[union-attr]
    capped = compute_records([performed(1, "60", 15)], config=RecordConfig(rep_cap=12))
    assert capped["barbell-bench-press"].e1rm is None
    assert capped["barbell-bench-press"].best_set_volume is not None


# --------------------------------------------------------------------------- weekly muscle volume


def test_weekly_muscle_volume_counts_primary_fully_and_secondary_half() -> None:
    sets = [
        performed(1, "60", 10, set_type=SetType.WARMUP),
        performed(2, "100", 5, minutes=5),
        performed(3, "100", 5, minutes=8),
        performed(4, None, 10, exercise="pull-up", minutes=15),
        # following Monday: a new ISO week
        performed(5, "100", 5, session="s2", minutes=60 * 24 * 7),
    ]
    weeks = weekly_muscle_volume(sets, EXERCISES_BY_SLUG)
    first = {w.muscle: w for w in weeks if w.iso_week == 45}
    assert first["chest"].sets == D(2)
    assert first["chest"].volume_kg == D("1000.000")
    assert first["triceps"].sets == D(1)  # two secondary sets
    assert first["triceps"].volume_kg == D("500.000")
    assert first["lats"].sets == D(1)
    assert first["biceps"].sets == D("0.5")
    assert first["chest"].week_start == date(2026, 11, 2)
    second = {w.muscle: w for w in weeks if w.iso_week == 46}
    assert second["chest"].sets == D(1)
    assert "lats" not in second


def test_weekly_volume_uses_the_users_timezone_and_skips_unknown_exercises() -> None:
    sunday_night_utc = datetime(2026, 11, 8, 23, 30, tzinfo=UTC)  # Monday 00:30 in Berlin
    item = PerformedSet(
        set_id=1,
        session_id="s",
        exercise_id="barbell-bench-press",
        performed_at=sunday_night_utc,
        reps=5,
        weight_kg=D(100),
    )
    assert weekly_muscle_volume([item], EXERCISES_BY_SLUG)[0].iso_week == 45
    assert weekly_muscle_volume([item], EXERCISES_BY_SLUG, tz=ZoneInfo("Europe/Berlin"))[0].iso_week == 46
    unknown = PerformedSet(set_id=2, session_id="s", exercise_id="nope", performed_at=T0, reps=5)
    assert weekly_muscle_volume([unknown], EXERCISES_BY_SLUG) == []
