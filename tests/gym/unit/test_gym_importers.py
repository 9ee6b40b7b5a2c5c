import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from keel.apps.gym.catalog import EXERCISES, ExerciseNameIndex
from keel.apps.gym.importers import (
    HEVY_HEADER,
    STRONG_HEADER,
    CsvFormat,
    ImportedSet,
    detect_format,
    dumps_hevy_csv,
    dumps_strong_csv,
    parse_csv,
    parse_duration,
    workout_fingerprint,
    write_strong_csv,
)
from keel.apps.gym.records import SetType
from keel.apps.gym.units import DistanceUnit, WeightUnit

D = Decimal

STRONG_SAMPLE = "\r\n".join(
    [
        ",".join(STRONG_HEADER),
        "2026-11-21 08:15:00,Push Day,1h 5m,Bench Press (Barbell),W,95,10,0,0,,Felt strong,",
        '2026-11-21 08:15:00,Push Day,1h 5m,Bench Press (Barbell),1,225,5,0,0,"paused, 1s",Felt strong,8.5',
        "2026-11-21 08:15:00,Push Day,1h 5m,Bench Press (Barbell),2,225,5,0,0,,Felt strong,9",
        "2026-11-21 08:15:00,Push Day,1h 5m,Bench Press (Barbell),D,135,12,0,0,,Felt strong,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Bench Press (Barbell),Rest Timer,0,0,0,120,,,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Overhead Press (Barbell),1,heavy,5,0,0,,Felt strong,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Overhead Press (Barbell),2,115,5,0,0,,Felt strong,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Overhead Press (Barbell),F,115,3,0,0,,Felt strong,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Zercher Carry,1,135,0,40,60,,Felt strong,",
        "2026-11-21 08:15:00,Push Day,1h 5m,Plank,1,0,0,0,90,,Felt strong,",
        "2026-11-22 07:00:00,Morning Run,45m,Running,1,0,0,5,1500,,,",
        "not a date,Broken,10m,Running,1,0,0,5,1500,,,",
        "2026-11-23 18:00:00,Legs,1h,Squat (Barbell),1,315,5,0,0,,,11",
        "",
    ]
)

HEVY_SAMPLE = "\n".join(
    [
        ",".join(f'"{column}"' for column in HEVY_HEADER),
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Bench Press (Barbell)",,'
        '"Arch!",0,"warmup",60,8,,,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Bench Press (Barbell)",,'
        '"",1,"normal",100,5,,,8',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Bench Press (Barbell)",,'
        '"",2,"dropset",70,10,,,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Lat Pulldown (Cable)",0,'
        '"",0,"normal",65.5,10,,,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Face Pull",0,'
        '"",0,"normal",20,15,,,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Lat Pulldown (Cable)",,'
        '"",0,"failure",60,9,,,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Dead Hang",,'
        '"",0,"normal",,,,45,',
        '"Upper A","21 Nov 2026, 08:15","21 Nov 2026, 09:20","Good session","Dead Hang",,'
        '"",1,"superset",,,,45,',
        '"Cardio","2026-11-22T07:00:00","2026-11-22T07:40:00","","Rowing Machine",,"",0,"normal",,,6.5,2400,',
    ]
)


def test_detect_format_from_header() -> None:
    assert detect_format(STRONG_HEADER) is CsvFormat.STRONG
    assert detect_format(HEVY_HEADER) is CsvFormat.HEVY
    assert detect_format(["\ufeffDate", "Workout Name", "Exercise Name", "Set Order"]) is CsvFormat.STRONG
    assert detect_format(["a", "b"]) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h 5m", 3900), ("45m", 2700), ("1h", 3600), ("2h 0m 30s", 7230), ("90", 90), ("", None)],
)
def test_parse_duration(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5 parsecs", "1h abc", "m"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# --------------------------------------------------------------------------- Strong


def test_strong_sample_in_pounds() -> None:
    result = parse_csv(STRONG_SAMPLE, weight_unit=WeightUnit.LB, distance_unit=DistanceUnit.KM)
    assert result.format is CsvFormat.STRONG
    # "Broken" (bad date) and "Legs" (RPE 11 on its only row) have no valid rows
    assert [w.title for w in result.workouts] == ["Push Day", "Morning Run"]

    push = result.workouts[0]
    assert push.started_at == datetime(2026, 11, 21, 8, 15)
    assert (push.duration_s, push.ended_at) == (3900, datetime(2026, 11, 21, 9, 20))
    assert push.notes == "Felt strong"
    bench, press, carry, plank = push.exercises
    assert (bench.slug, press.slug, carry.slug, plank.slug) == (
        "barbell-bench-press",
        "overhead-press",
        None,
        "plank",
    )
    assert [s.set_type for s in bench.sets] == [SetType.WARMUP, SetType.NORMAL, SetType.NORMAL, SetType.DROP]
    assert [s.weight_kg for s in bench.sets] == [D("43.091"), D("102.058"), D("102.058"), D("61.235")]
    assert all(s.weight_unit is WeightUnit.LB for s in bench.sets)
    assert bench.sets[1].rpe == D("8.5") and bench.sets[1].notes == "paused, 1s"
    # Strong's zeros in unused columns are "not recorded", not a 0 km bench press
    assert bench.sets[1].distance_m is None and bench.sets[1].duration_s is None
    # the bad "heavy" row is dropped, the failure set kept
    assert [(s.set_type, s.reps) for s in press.sets] == [(SetType.NORMAL, 5), (SetType.FAILURE, 3)]
    assert plank.sets[0].duration_s == 90 and plank.sets[0].weight_kg is None
    assert carry.sets[0].distance_m == D("40000.000")  # Strong distance column taken in the given unit

    run = result.workouts[1].exercises[0]
    assert run.slug == "running"
    assert (run.sets[0].distance_m, run.sets[0].duration_s) == (D("5000.000"), 1500)

    assert result.unmatched_exercises == ["Zercher Carry"]
    assert result.rows_read == 13  # data rows, rest timer included
    errors = {(e.row, e.field) for e in result.errors}
    assert errors == {(7, "Weight"), (13, "Date"), (14, "RPE")}


def test_strong_rows_with_errors_are_skipped_not_guessed() -> None:
    result = parse_csv(STRONG_SAMPLE, weight_unit="lb")
    titles = [w.title for w in result.workouts]
    assert "Broken" not in titles
    assert "Legs" not in titles  # its only row has RPE 11
    assert not result.ok


def test_strong_kg_unit_override_changes_stored_weights() -> None:
    result = parse_csv(STRONG_SAMPLE, weight_unit="kg")
    bench = result.workouts[0].exercises[0]
    assert bench.sets[1].weight_kg == D("225.000")
    assert bench.sets[1].weight_unit is WeightUnit.KG


@pytest.mark.parametrize(
    "payload",
    [
        STRONG_SAMPLE.encode("utf-8-sig"),  # BOM + CRLF as bytes
        "\ufeff" + STRONG_SAMPLE,  # BOM left in an already-decoded string
        STRONG_SAMPLE.replace(",", ";").replace('"paused; 1s"', '"paused, 1s"'),  # semicolon locale
    ],
)
def test_strong_bom_crlf_and_semicolons(payload: str | bytes) -> None:
    result = parse_csv(payload, weight_unit="lb")
    assert result.format is CsvFormat.STRONG
    bench = result.workouts[0].exercises[0]
    assert bench.sets[1].weight_kg == D("102.058")
    assert bench.sets[1].notes == "paused, 1s"


def test_binary_stream_is_left_open() -> None:
    stream = io.BytesIO(STRONG_SAMPLE.encode("utf-8-sig"))
    result = parse_csv(stream, weight_unit="lb")
    assert result.workouts
    assert not stream.closed


def test_same_exercise_twice_in_a_workout_stays_separate() -> None:
    rows = [
        ",".join(STRONG_HEADER),
        "2026-11-21 08:15:00,Day,1h,Squat (Barbell),1,100,5,,,,,",
        "2026-11-21 08:15:00,Day,1h,Squat (Barbell),2,100,5,,,,,",
        "2026-11-21 08:15:00,Day,1h,Squat (Barbell),W,60,5,,,,,",
        "2026-11-21 08:15:00,Day,1h,Squat (Barbell),1,80,8,,,,,",
    ]
    exercises = parse_csv("\n".join(rows)).workouts[0].exercises
    assert [len(e.sets) for e in exercises] == [3, 1]


# --------------------------------------------------------------------------- Hevy


def test_hevy_sample() -> None:
    result = parse_csv(io.StringIO(HEVY_SAMPLE))
    assert result.format is CsvFormat.HEVY
    upper, cardio = result.workouts
    assert upper.started_at == datetime(2026, 11, 21, 8, 15)
    assert upper.duration_s == 65 * 60
    assert upper.notes == "Good session"
    names = [(e.name, e.slug, e.superset_id) for e in upper.exercises]
    assert names == [
        ("Bench Press (Barbell)", "barbell-bench-press", None),
        ("Lat Pulldown (Cable)", "lat-pulldown", "0"),
        ("Face Pull", "face-pull", "0"),
        ("Lat Pulldown (Cable)", "lat-pulldown", None),
        ("Dead Hang", "dead-hang", None),
    ]
    bench = upper.exercises[0]
    assert bench.notes == "Arch!"
    assert [s.set_type for s in bench.sets] == [SetType.WARMUP, SetType.NORMAL, SetType.DROP]
    assert bench.sets[1].weight_kg == D("100.000") and bench.sets[1].rpe == D(8)
    assert upper.exercises[1].sets[0].weight_kg == D("65.500")
    assert upper.exercises[3].sets[0].set_type is SetType.FAILURE
    assert [s.duration_s for s in upper.exercises[4].sets] == [45]  # second hang had a bad set_type

    assert cardio.started_at == datetime(2026, 11, 22, 7, 0)
    row = cardio.exercises[0]
    rowing = (row.slug, row.sets[0].distance_m, row.sets[0].duration_s)
    assert rowing == ("rowing-machine", D("6500.000"), 2400)

    assert [(e.row, e.field) for e in result.errors] == [(9, "set_type")]
    assert result.unmatched_exercises == []


def test_hevy_imperial_columns() -> None:
    header = ",".join(HEVY_HEADER).replace("weight_kg", "weight_lbs").replace("distance_km", "distance_miles")
    row = 'Legs,"21 Nov 2026, 08:15","21 Nov 2026, 09:00",,Squat (Barbell),,,0,normal,225,5,,,'
    run = 'Legs,"21 Nov 2026, 08:15","21 Nov 2026, 09:00",,Running,,,0,normal,,,3.1,1800,'
    workout = parse_csv(f"{header}\n{row}\n{run}\n").workouts[0]
    squat, running = workout.exercises
    assert (squat.sets[0].weight_kg, squat.sets[0].weight_unit) == (D("102.058"), WeightUnit.LB)
    assert (running.sets[0].distance_m, running.sets[0].distance_unit) == (D("4988.966"), DistanceUnit.MI)


def test_default_timezone_is_attached() -> None:
    tz = timezone(timedelta(hours=1))
    workout = parse_csv(HEVY_SAMPLE, default_tz=tz).workouts[0]
    assert workout.started_at == datetime(2026, 11, 21, 8, 15, tzinfo=tz)


# --------------------------------------------------------------------------- errors & matching


def test_unknown_header_and_empty_file_are_errors_not_exceptions() -> None:
    result = parse_csv("foo,bar\n1,2\n")
    assert result.format is None and result.workouts == []
    assert result.errors[0].row == 1
    assert parse_csv("").errors[0].message == "file is empty"
    assert not parse_csv(HEVY_SAMPLE, expected_format=CsvFormat.STRONG).workouts


def test_non_utf8_and_oversized_files_are_reported() -> None:
    latin1_row = "2026-11-21 08:15:00,Día,1h,Squat,1,100,5,,,,,\n".encode("latin-1")
    broken = (",".join(STRONG_HEADER) + "\n").encode() + latin1_row
    result = parse_csv(broken)
    assert result.errors and "UTF-8" in result.errors[-1].message
    limited = parse_csv(STRONG_SAMPLE, weight_unit="lb", max_rows=3)
    assert limited.rows_read == 3
    assert "too many rows" in limited.errors[-1].message


def test_extra_fields_are_reported() -> None:
    text = ",".join(STRONG_HEADER) + "\n2026-11-21 08:15:00,Day,1h,Squat (Barbell),1,100,5,,,,,,extra\n"
    [error] = parse_csv(text).errors
    assert (error.row, error.field) == (2, None)


def test_custom_exercises_can_be_matched() -> None:
    index = ExerciseNameIndex(EXERCISES, extra={"Zercher Carry": "custom:7"})
    result = parse_csv(STRONG_SAMPLE, weight_unit="lb", name_index=index)
    assert result.workouts[0].exercises[2].slug == "custom:7"
    assert result.unmatched_exercises == []


def test_fingerprint_is_stable_and_sensitive() -> None:
    first = parse_csv(STRONG_SAMPLE, weight_unit="lb").workouts[0]
    again = parse_csv(STRONG_SAMPLE, weight_unit="kg").workouts[0]
    assert first.fingerprint == again.fingerprint  # units do not change identity
    assert first.fingerprint == workout_fingerprint(datetime(2026, 11, 21, 8, 15, 40), "push day", 8)
    assert first.fingerprint != workout_fingerprint(datetime(2026, 11, 21, 8, 15), "Push Day", 9)
    assert first.fingerprint != workout_fingerprint(datetime(2026, 11, 21, 8, 16), "Push Day", 8)
    utc = workout_fingerprint(datetime(2026, 11, 21, 7, 15, tzinfo=UTC), "Push Day", 8)
    cet_tz = timezone(timedelta(hours=1))
    cet = workout_fingerprint(datetime(2026, 11, 21, 8, 15, tzinfo=cet_tz), "Push Day", 8)
    assert utc == cet


# --------------------------------------------------------------------------- writers / round trips


def test_strong_round_trip_preserves_everything() -> None:
    original = parse_csv(STRONG_SAMPLE, weight_unit="lb")
    written = dumps_strong_csv(original.workouts)
    assert written.splitlines()[0] == ",".join(STRONG_HEADER)
    assert ",Bench Press (Barbell),1,225,5," in written  # pounds written back as entered
    again = parse_csv(written, weight_unit="lb")
    assert again.errors == []
    assert again.workouts == original.workouts


def test_hevy_round_trip_preserves_everything() -> None:
    original = parse_csv(HEVY_SAMPLE)
    written = dumps_hevy_csv(original.workouts)
    again = parse_csv(written)
    assert again.errors == []
    assert again.workouts == original.workouts
    assert dumps_hevy_csv(again.workouts) == written


def _numbers(s: ImportedSet) -> tuple[object, ...]:
    units = (s.weight_unit, s.distance_unit)
    return (s.set_type, s.weight_kg, s.reps, s.distance_m, s.duration_s, s.rpe, *units)


def test_imperial_hevy_round_trip() -> None:
    original = parse_csv(STRONG_SAMPLE, weight_unit="lb", distance_unit="mi")
    written = dumps_hevy_csv(original.workouts, weight_unit="lb", distance_unit="mi")
    assert "weight_lbs" in written.splitlines()[0]
    again = parse_csv(written)
    for before, after in zip(original.workouts, again.workouts, strict=True):
        assert before.fingerprint == after.fingerprint
        for ex_before, ex_after in zip(before.exercises, after.exercises, strict=True):
            assert [_numbers(s) for s in ex_before.sets] == [_numbers(s) for s in ex_after.sets]


def test_strong_to_hevy_to_strong_keeps_the_numbers() -> None:
    strong = parse_csv(STRONG_SAMPLE, weight_unit="kg")
    via_hevy = parse_csv(dumps_hevy_csv(strong.workouts))
    back = dumps_strong_csv(via_hevy.workouts)
    sets_before = [(s.set_type, s.weight_kg, s.reps) for s in strong.workouts[0].exercises[0].sets]
    sets_after = [(s.set_type, s.weight_kg, s.reps) for s in parse_csv(back).workouts[0].exercises[0].sets]
    assert sets_before == sets_after


def test_strong_writer_unit_override() -> None:
    workouts = parse_csv(STRONG_SAMPLE, weight_unit="lb").workouts
    buffer = io.StringIO(newline="")
    write_strong_csv(buffer, workouts, weight_unit="kg")
    assert ",Bench Press (Barbell),1,102.058,5," in buffer.getvalue()


def test_strong_semicolon_dialect_with_imperial_units_in_the_headers() -> None:
    text = "\n".join(
        [
            "Date;Workout Name;Duration (sec);Exercise Name;Set Order;Weight (lbs);Reps;Distance (miles);"
            "Seconds;Notes;Workout Notes;RPE",
            "2026-11-21 08:15:00;Push Day;3900;Bench Press (Barbell);1;225;5;0;0;;;8",
            "2026-11-21 08:15:00;Push Day;3900;Running;1;0;0;3,1;1500;;;",
        ]
    )
    result = parse_csv(text, weight_unit="kg")  # the header's unit wins
    assert result.errors == []
    bench, run = (e.sets[0] for e in result.workouts[0].exercises)
    assert bench.weight_kg == D("102.058") and bench.weight_unit is WeightUnit.LB
    assert run.distance_m == D("4988.966") and run.distance_unit is DistanceUnit.MI
    assert result.workouts[0].duration_s == 3900


def test_hevy_without_a_weight_column_is_refused_naming_the_columns() -> None:
    header = [c for c in HEVY_HEADER if c != "weight_kg"]
    result = parse_csv(",".join(header) + "\nx\n")
    assert result.format is None
    assert "no 'weight_kg' or 'weight_lbs' column" in result.errors[0].message
    assert "'exercise_title'" in result.errors[0].message
