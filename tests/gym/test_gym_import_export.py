"""Strong/Hevy import (dry run, commit, duplicates, all-or-nothing), CSV and JSON export."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("gym_seeded")
API = "/api/v1/gym"

STRONG = "\n".join(
    [
        "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
        "Workout Notes,RPE",
        "2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),W,95,10,0,0,,,",
        "2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),1,225,5,0,0,,,8",
        "2026-10-01 08:00:00,Push Day,1h,Bench Press (Barbell),2,225,5,0,0,,,9",
        "2026-10-01 08:00:00,Push Day,1h,Zercher Carry Deluxe,1,135,8,0,0,,,",
        "2026-10-03 08:00:00,Legs,45m,Squat (Barbell),1,315,5,0,0,,,",
        "",
    ]
)
HEVY = "\n".join(
    [
        "title,start_time,end_time,description,exercise_title,superset_id,exercise_notes,set_index,set_type,"
        "weight_kg,reps,distance_km,duration_seconds,rpe",
        'Upper A,"05 Oct 2026, 08:15","05 Oct 2026, 09:20",,Bench Press (Barbell),,,0,warmup,60,8,,,',
        'Upper A,"05 Oct 2026, 08:15","05 Oct 2026, 09:20",,Bench Press (Barbell),,,1,normal,100,5,,,8',
        'Upper A,"05 Oct 2026, 08:15","05 Oct 2026, 09:20",,Lat Pulldown (Cable),,,0,normal,65.5,10,,,',
    ]
)


async def upload(client: Any, headers: dict[str, str], text: str, **params: Any) -> Any:
    return await client.post(
        f"{API}/import", params=params, content=text.encode(), headers={**headers, "Content-Type": "text/csv"}
    )


async def test_strong_import_dry_run_commit_and_duplicates(client, auth_headers) -> None:
    preview = await upload(client, auth_headers, STRONG, unit="lb")
    assert preview.status_code == 200, preview.text
    data = preview.json()["data"]
    assert data["format"] == "strong" and data["dry_run"] is True
    assert len(data["workouts"]) == 2 and data["sets"] == 5 and data["errors"] == []
    assert data["unmatched_exercises"] == ["Zercher Carry Deluxe"] and data["duplicates"] == 0
    # a dry run writes nothing
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 0

    commit = await upload(client, auth_headers, STRONG, unit="lb", dry_run="false")
    assert commit.status_code == 201, commit.text
    done = commit.json()["data"]
    assert done["imported_sessions"] == 2 and done["imported_sets"] == 5
    assert done["created_exercises"] == ["Zercher Carry Deluxe"]
    sessions = (await client.get(f"{API}/sessions", headers=auth_headers)).json()["data"]
    assert [s["name"] for s in sessions] == ["Legs", "Push Day"]
    custom = await client.get(f"{API}/exercises", params={"custom": "true"}, headers=auth_headers)
    assert [e["name"] for e in custom.json()["data"]] == ["Zercher Carry Deluxe"]
    bench = (
        await client.get(f"{API}/exercises", params={"q": "Barbell Bench Press"}, headers=auth_headers)
    ).json()["data"][0]["id"]
    records = (await client.get(f"{API}/exercises/{bench}/records", headers=auth_headers)).json()["data"]
    assert Decimal(str(records["heaviest_weight"]["value"])) == Decimal("102.058")  # 225 lb

    again = await upload(client, auth_headers, STRONG, unit="lb")
    assert again.json()["data"]["duplicates"] == 2
    assert all(w["duplicate"] for w in again.json()["data"]["workouts"])
    recommit = await upload(client, auth_headers, STRONG, unit="lb", dry_run="false")
    assert recommit.json()["data"]["imported_sessions"] == 0
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 2


async def test_hevy_import_and_multipart(client, auth_headers) -> None:
    files = {"file": ("hevy.csv", HEVY.encode(), "text/csv")}
    resp = await client.post(f"{API}/import", params={"dry_run": "false"}, files=files, headers=auth_headers)
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert data["format"] == "hevy" and data["imported_sessions"] == 1 and data["imported_sets"] == 3
    session = (await client.get(f"{API}/sessions", headers=auth_headers)).json()["data"][0]
    detail = (await client.get(f"{API}/sessions/{session['id']}", headers=auth_headers)).json()["data"]
    assert [s["set_type"] for s in detail["sets"]] == ["warmup", "normal", "normal"]
    assert detail["sets"][0]["exercise_name"] == "Barbell Bench Press"


async def test_import_is_all_or_nothing(client, auth_headers) -> None:
    bad = STRONG.replace("2026-10-03 08:00:00,Legs", "yesterday,Legs")
    preview = (await upload(client, auth_headers, bad)).json()["data"]
    assert preview["errors"] and preview["errors"][0]["row"] == 6
    resp = await upload(client, auth_headers, bad, dry_run="false")
    assert resp.status_code == 422
    assert resp.json()["error"]["details"]["errors"][0]["row"] == 6
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 0
    custom = await client.get(f"{API}/exercises", params={"custom": "true"}, headers=auth_headers)
    assert custom.json()["data"] == []
    resp = await client.post(
        f"{API}/import", content=b"{}", headers={**auth_headers, "Content-Type": "application/json"}
    )
    assert resp.status_code == 415


async def test_export_round_trip_and_json_has_only_own_data(client, user_factory) -> None:
    alice, bob = await user_factory(), await user_factory()
    assert (await upload(client, alice.headers, STRONG, unit="lb", dry_run="false")).status_code == 201
    await upload(client, bob.headers, HEVY, dry_run="false")
    await client.post(
        f"{API}/workout-plans",
        json={"name": "Bob plan", "exercises": [{"name": "Squat"}]},
        headers=bob.headers,
    )

    for fmt in ("strong", "hevy"):
        exported = await client.get(f"{API}/export", params={"format": fmt}, headers=alice.headers)
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
        assert "attachment" in exported.headers["content-disposition"]
        # re-importing one's own export finds every workout already there
        preview = (await upload(client, alice.headers, exported.text, unit="lb")).json()["data"]
        assert preview["errors"] == [] and preview["format"] == fmt
        assert preview["duplicates"] == 2 and preview["sets"] == 5
        assert "Upper A" not in exported.text  # bob's workout

    body = (await client.get(f"{API}/export/json", headers=alice.headers)).json()["data"]
    assert body["user_id"] == alice.id
    assert [e["name"] for e in body["exercises"]] == ["Zercher Carry Deluxe"]
    assert body["plans"] == []
    assert sorted(s["name"] for s in body["sessions"]) == ["Legs", "Push Day"]
    assert sum(len(s["sets"]) for s in body["sessions"]) == 5


async def test_wall_clock_times_follow_the_given_time_zone(client, auth_headers) -> None:
    """Strong writes local times without an offset: 08:00 in New York is 12:00 UTC (EDT), and an export in
    the same zone gives 08:00 back; an unknown zone is a field error, nothing imported."""
    bad = await upload(client, auth_headers, STRONG, unit="lb", dry_run="false", timezone="Mars/Olympus")
    assert bad.status_code == 400 and "timezone" in bad.json()["error"]["details"]
    assert (await client.get(f"{API}/sessions", headers=auth_headers)).json()["meta"]["total"] == 0

    done = await upload(client, auth_headers, STRONG, unit="lb", dry_run="false", timezone="America/New_York")
    assert done.status_code == 201, done.text
    sessions = (await client.get(f"{API}/sessions", headers=auth_headers)).json()["data"]
    push = next(s for s in sessions if s["name"] == "Push Day")
    assert push["started_at"].startswith("2026-10-01T12:00:00")

    local = await client.get(f"{API}/export", params={"timezone": "America/New_York"}, headers=auth_headers)
    utc = await client.get(f"{API}/export", headers=auth_headers)
    assert "2026-10-01 08:00:00,Push Day" in local.text
    assert "2026-10-01 12:00:00,Push Day" in utc.text
