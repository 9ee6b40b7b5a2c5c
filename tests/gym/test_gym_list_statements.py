"""The gym's hot lists are a page with its total in one statement after the guard's (the login sessions
list is the model): counted on the app's engine (SQLAlchemy's cursor events and the driver reads)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core_platform_helpers import StatementCounter

pytestmark = pytest.mark.usefixtures("gym_seeded")
API = "/api/v1/gym"


async def _get(
    client: Any, app: Any, headers: dict[str, str], path: str, **params: Any
) -> tuple[Any, list[str]]:
    with StatementCounter(app) as counter:
        resp = await client.get(path, params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json(), counter.statements


async def _lift(client: Any, headers: dict[str, str]) -> str:
    resp = await client.post(f"{API}/exercises", json={"name": "Press"}, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["id"])


async def _session(client: Any, headers: dict[str, str], day: int, sets: list[dict[str, Any]]) -> str:
    started = (datetime(2026, 5, 1, 6, tzinfo=UTC) + timedelta(days=day)).isoformat()
    resp = await client.post(f"{API}/sessions", json={"started_at": started}, headers=headers)
    assert resp.status_code == 201, resp.text
    session_id = str(resp.json()["data"]["id"])
    for body in sets:
        logged = await client.post(f"{API}/sessions/{session_id}/sets", json=body, headers=headers)
        assert logged.status_code == 201, logged.text
    return session_id


async def test_sessions_list_is_one_statement_for_a_page_with_its_total(app, client, user_factory) -> None:
    alice, bob = await user_factory(), await user_factory()
    press = await _lift(client, alice.headers)
    work = {"exercise_id": press, "reps": 5, "weight": 100}
    warmup = {"exercise_id": press, "reps": 10, "weight": 40, "set_type": "warmup"}
    days = [await _session(client, alice.headers, day, [work, warmup] * (day + 1)) for day in range(3)]
    empty = await _session(client, alice.headers, 3, [])
    theirs = await _session(
        client, bob.headers, 9, [{"exercise_id": await _lift(client, bob.headers), "reps": 1}]
    )

    body, statements = await _get(client, app, alice.headers, f"{API}/sessions", limit=3)
    assert len(statements) == 2, statements  # the guard's and the page's
    assert body["meta"]["total"] == 4
    assert [s["id"] for s in body["data"]] == [empty, days[2], days[1]]  # newest first
    assert [(s["set_count"], s["volume_kg"]) for s in body["data"]] == [
        (0, "0"),
        (6, "1500.000"),
        (4, "1000.000"),
    ]
    assert theirs not in {s["id"] for s in body["data"]}

    # a filter is the same one statement (prebuilt), and keeps to the caller's rows
    start = (datetime(2026, 5, 2, tzinfo=UTC)).isoformat()
    body, statements = await _get(
        client, app, alice.headers, f"{API}/sessions", exercise_id=press, **{"from": start}
    )
    assert len(statements) == 2, statements
    assert [s["id"] for s in body["data"]] == [days[2], days[1]] and body["meta"]["total"] == 2

    # past the last page the total is still right: one more statement, the COUNT
    body, statements = await _get(client, app, alice.headers, f"{API}/sessions", limit=3, offset=10)
    assert body["data"] == [] and body["meta"]["total"] == 4
    assert len(statements) == 3, statements
    body, _ = await _get(client, app, bob.headers, f"{API}/sessions")
    assert [s["id"] for s in body["data"]] == [theirs] and body["meta"]["total"] == 1


async def test_plans_list_is_a_page_with_its_total_and_one_statement_for_the_days(
    app, client, user_factory
) -> None:
    alice, bob = await user_factory(), await user_factory()
    press = await _lift(client, alice.headers)
    made = []
    for n in range(3):
        days = [
            {"name": "A", "exercises": [{"exercise_id": press, "sets": 3, "reps": 5, "weight": 100}]},
            {"name": "Rest", "exercises": []},
        ]
        resp = await client.post(
            f"{API}/workout-plans", json={"name": f"Plan {n}", "days": days}, headers=alice.headers
        )
        assert resp.status_code == 201, resp.text
        made.append(resp.json()["data"]["id"])
    theirs = await client.post(
        f"{API}/workout-plans", json={"name": "Bob's", "days": []}, headers=bob.headers
    )
    assert theirs.status_code == 201, theirs.text

    body, statements = await _get(client, app, alice.headers, f"{API}/workout-plans", scope="mine", limit=2)
    assert len(statements) == 3, statements  # the guard's, the page with its total, the page's days
    assert body["meta"]["total"] == 3
    assert [p["id"] for p in body["data"]] == [made[2], made[1]]  # newest first, none of Bob's
    for plan in body["data"]:
        assert [(d["name"], len(d["exercises"])) for d in plan["days"]] == [("A", 1), ("Rest", 0)]
        assert plan["exercises"][0]["exercise_id"] == press and plan["exercises"][0]["weight_kg"] == "100.000"
        assert plan["predefined"] is False

    # past the last page: the COUNT instead of the days
    body, statements = await _get(client, app, alice.headers, f"{API}/workout-plans", scope="mine", offset=5)
    assert body["data"] == [] and body["meta"]["total"] == 3
    assert len(statements) == 3, statements
    body, _ = await _get(client, app, bob.headers, f"{API}/workout-plans", scope="mine")
    assert [p["id"] for p in body["data"]] == [theirs.json()["data"]["id"]] and body["meta"]["total"] == 1


async def test_library_list_reads_the_callers_exercises_in_one_statement(app, client, user_factory) -> None:
    alice, bob = await user_factory(), await user_factory()
    for name in ("Zercher squat", "Arnold press"):
        resp = await client.post(
            f"{API}/exercises", json={"name": name, "aliases": ["x"]}, headers=alice.headers
        )
        assert resp.status_code == 201, resp.text
    resp = await client.post(f"{API}/exercises", json={"name": "Bob's curl"}, headers=bob.headers)
    assert resp.status_code == 201, resp.text

    body, statements = await _get(client, app, alice.headers, f"{API}/exercises", custom="true")
    assert len(statements) == 2, statements  # the guard's and the caller's exercises
    assert [(e["name"], e["custom"], e["aliases"]) for e in body["data"]] == [
        ("Arnold press", True, ["x"]),
        ("Zercher squat", True, ["x"]),
    ]
    assert body["meta"]["total"] == 2
