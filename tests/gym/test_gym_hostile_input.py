"""Issue 13 for gym: Strong's unit dialect, backdated sets, hostile CSV and text, formula-safe exports, and a
large import that does not lock another user out (items 8, 10, 11, 12, 15 and the CSV-formula note)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("gym_seeded")
API = "/api/v1/gym"

STRONG_UNITS_HEADER = (
    "Date;Workout Name;Duration (sec);Exercise Name;Set Order;Weight (kg);Reps;Distance (meters);Seconds;"
    "Notes;Workout Notes;RPE"
)
STRONG_UNITS = "\n".join(
    [
        STRONG_UNITS_HEADER,
        "2026-10-01 08:00:00;Push Day;3600;Bench Press (Barbell);1;100;5;0;0;;;8",
        "2026-10-01 08:00:00;Push Day;3600;Bench Press (Barbell);2;102.5;4;0;0;;;9",
        "2026-10-01 08:00:00;Push Day;3600;Running;1;0;0;5000;1500;;;",
        "",
    ]
)


async def upload(client: Any, headers: dict[str, str], text: str | bytes, **params: Any) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return await client.post(
        f"{API}/import", params=params, content=body, headers={**headers, "Content-Type": "text/csv"}
    )


async def test_strong_semicolon_dialect_reads_units_from_the_headers(client, auth_headers) -> None:
    resp = await upload(client, auth_headers, STRONG_UNITS, dry_run="false", unit="lb")  # header wins
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["errors"] == []
    session = (await client.get(f"{API}/sessions", headers=auth_headers)).json()["data"][0]
    assert session["duration_s"] == 3600
    detail = (await client.get(f"{API}/sessions/{session['id']}", headers=auth_headers)).json()["data"]
    weights = [s["weight_kg"] for s in detail["sets"] if s["weight_kg"] is not None]
    assert [Decimal(str(w)) for w in weights] == [Decimal(100), Decimal("102.5")]
    run = next(s for s in detail["sets"] if s["distance_m"] is not None)
    assert Decimal(str(run["distance_m"])) == Decimal(5000) and run["duration_s"] == 1500

    pounds = STRONG_UNITS.replace("Weight (kg)", "Weight (lbs)").replace(
        "Distance (meters)", "Distance (miles)"
    )
    preview = (await upload(client, auth_headers, pounds.replace("2026-10-01", "2026-10-02"))).json()["data"]
    assert preview["errors"] == [] and preview["sets"] == 3


@pytest.mark.parametrize(
    "header",
    [
        STRONG_UNITS_HEADER.replace("Weight (kg)", "Weight (stone)"),
        STRONG_UNITS_HEADER.replace("Weight (kg)", "Gewicht"),
        STRONG_UNITS_HEADER.replace("Distance (meters)", "Distanz"),
    ],
)
async def test_unmappable_value_columns_refuse_the_file_naming_the_columns(
    client, auth_headers, header
) -> None:
    text = STRONG_UNITS.replace(STRONG_UNITS_HEADER, header)
    for dry_run in ("true", "false"):
        resp = await upload(client, auth_headers, text, dry_run=dry_run)
        assert resp.status_code == 422, resp.text
        message = resp.json()["error"]["details"]["errors"][0]["message"]
        assert "cannot map the value columns" in message
        assert "'Exercise Name'" in message  # the columns found are listed
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 0


async def test_a_set_in_a_backdated_session_takes_the_sessions_time(
    client, auth_headers, gym_helpers
) -> None:
    bench = await gym_helpers.exercise_id(client, auth_headers, "Barbell Bench Press")
    started = "2025-01-01T10:00:00+00:00"
    session = await client.post(
        f"{API}/sessions", json={"name": "New year", "started_at": started}, headers=auth_headers
    )
    assert session.status_code == 201, session.text
    sid = session.json()["data"]["id"]
    logged = await client.post(
        f"{API}/sessions/{sid}/sets",
        json={"exercise_id": bench, "weight": 100, "reps": 5},
        headers=auth_headers,
    )
    assert logged.status_code == 201, logged.text
    performed = datetime.fromisoformat(logged.json()["data"]["set"]["performed_at"].replace("Z", "+00:00"))
    assert performed.astimezone(UTC) == datetime(2025, 1, 1, 10, tzinfo=UTC)
    # so this week's muscle statistics do not count it
    stats = (await client.get(f"{API}/stats/muscles", params={"weeks": 1}, headers=auth_headers)).json()
    assert stats["data"] == []

    live = (await client.post(f"{API}/sessions", json={"name": "Now"}, headers=auth_headers)).json()["data"]
    now_set = await client.post(
        f"{API}/sessions/{live['id']}/sets",
        json={"exercise_id": bench, "weight": 60, "reps": 5},
        headers=auth_headers,
    )
    stamp = datetime.fromisoformat(now_set.json()["data"]["set"]["performed_at"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stamp.astimezone(UTC)).total_seconds()) < 60


GOOD = "2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),1,100,5,0,0,,,8"
HEADER = (
    "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE"
)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ("2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),2,100", None, "expected 12 fields"),
        ("2026-10-01 08:00:00,Push Day,1h,Bench\x00 Press,2,100,5,0,0,,,8", "Exercise Name", "NUL"),
        ("2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),2,1e400,5,0,0,,,8", "Weight", "out of range"),
        (
            f"2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),2,100,{10**30},0,0,,,8",
            "Reps",
            "out of range",
        ),
        (
            "2026-10-01 08:00:00,Push Day,99999999999999999999,Bench Press (Barbell),2,100,5,0,0,,,",
            "Duration",
            "",
        ),
        (
            "2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),2,100,5,1e9,0,,,8",
            "Distance",
            "out of range",
        ),
    ],
)
async def test_hostile_rows_are_row_errors_never_a_500(client, auth_headers, row, field, words) -> None:
    text = "\n".join([HEADER, GOOD, row, ""]) if field != "Duration" else "\n".join([HEADER, row, ""])
    preview = await upload(client, auth_headers, text)
    assert preview.status_code == 200, preview.text
    errors = preview.json()["data"]["errors"]
    row_number = 3 if field != "Duration" else 2
    assert [(e["row"], e["field"]) for e in errors] == [(row_number, field)], errors
    assert words in errors[0]["message"]
    committed = await upload(client, auth_headers, text, dry_run="false")
    assert committed.status_code == 422
    assert committed.json()["error"]["details"]["errors"][0]["row"] == row_number
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 0


async def test_nul_in_text_fields_and_search_is_a_field_error(client, auth_headers) -> None:
    created = await client.post(
        f"{API}/exercises", json={"name": "Zercher\u0000 Squat"}, headers=auth_headers
    )
    assert created.status_code == 400, created.text
    assert "name" in str(created.json()["error"]["details"])
    search = await client.get(f"{API}/exercises", params={"q": "squat\u0000"}, headers=auth_headers)
    assert search.status_code == 400, search.text
    assert "q" in str(search.json()["error"]["details"])
    session = await client.post(
        f"{API}/sessions", json={"name": "Legs", "notes": "a\u0000b"}, headers=auth_headers
    )
    assert session.status_code == 400 and "notes" in str(session.json()["error"]["details"])
    plan = await client.post(
        f"{API}/workout-plans",
        json={"name": "P\u0000", "exercises": [{"name": "Squat"}]},
        headers=auth_headers,
    )
    assert plan.status_code == 400
    # a name without NUL is still fine, and the refused ones left nothing behind
    ok = await client.post(f"{API}/exercises", json={"name": "Zercher Squat"}, headers=auth_headers)
    assert ok.status_code == 201, ok.text


async def test_csv_export_neutralises_formula_cells(client, auth_headers) -> None:
    text = "\n".join(
        [
            HEADER,
            '2026-10-01 08:00:00,=HYPERLINK("http://evil/"),1h,@SUM(A1),1,-20,5,0,0,+cmd,-note,',
            "",
        ]
    )
    assert (await upload(client, auth_headers, text, dry_run="false")).status_code == 201
    for fmt in ("strong", "hevy"):
        exported = await client.get(f"{API}/export", params={"format": fmt}, headers=auth_headers)
        rows = list(csv.reader(io.StringIO(exported.text)))
        cells = {cell for row in rows[1:] for cell in row}
        assert '\'=HYPERLINK("http://evil/")' in cells and "'@SUM(A1)" in cells
        assert not any(c and c[0] in "=+@" for c in cells), cells
        if fmt == "strong":
            assert "'+cmd" in cells and "'-note" in cells
            assert "-20" in cells  # a number stays a number (an assisted, negative weight)


def big_strong_file(sets: int) -> str:
    lines = [HEADER]
    for i in range(sets):
        day = i // 20  # 20 sets a workout, 1,000 workouts
        lines.append(
            f"2020-{1 + day // 28 % 12:02d}-{1 + day % 28:02d} {day // 336 % 24:02d}:00:00,W{day},1h,"
            f"Bench Press (Barbell),{i % 20 + 1},{60 + i % 40},5,0,0,,,"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(240)
async def test_a_large_import_does_not_lock_out_another_users_writes(client, user_factory, settings) -> None:
    importer, other = await user_factory(), await user_factory()
    text = big_strong_file(20_000)
    results: list[int] = []
    waits: list[float] = []
    finished = asyncio.Event()

    async def keep_writing() -> None:
        while not finished.is_set() or not results:
            began = time.monotonic()
            resp = await client.post(f"{API}/sessions", json={"name": "Meanwhile"}, headers=other.headers)
            results.append(resp.status_code)
            waits.append(time.monotonic() - began)
            await asyncio.sleep(0.05)

    async def run_import() -> Any:
        try:
            return await upload(client, importer.headers, text, dry_run="false")
        finally:
            finished.set()

    writer = asyncio.create_task(keep_writing())
    imported = await run_import()
    await writer
    assert imported.status_code == 201, imported.text[:500]
    assert imported.json()["data"]["imported_sets"] == 20_000
    assert results and set(results) == {201}, results
    # none waited out SQLite's 10 s busy timeout behind the import's write lock (the old import held it ~29 s)
    assert max(waits) < 10, waits
    total = (await client.get(f"{API}/sessions", headers=other.headers)).json()["meta"]["total"]
    assert total == len(results)
