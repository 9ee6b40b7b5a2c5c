"""No gym read issues a query per row: the statements a request runs do not grow with the data behind it.

Each endpoint is counted (SQLAlchemy `before_cursor_execute` on the app's engine) over a small history,
then again after the same lifter's history has grown a hundredfold (50 -> 5,000 sets, 5 -> 250 sessions,
3 -> 25 plans); the count must stay the same.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from core_platform_helpers import StatementCounter

pytestmark = pytest.mark.usefixtures("gym_seeded")
API = "/api/v1/gym"


async def count_queries(client: Any, app: Any, headers: dict[str, str], path: str, **params: Any) -> int:
    with StatementCounter(app) as counter:
        resp = await client.get(path, params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    # the guard refreshes the session's last-seen time at most once a minute: time-driven bookkeeping that
    # lands on whichever request comes after a slow set-up, not work of the read being measured
    return sum(1 for s in counter.statements if not s.lstrip().upper().startswith("UPDATE IDENTITY_SESSION"))


async def add_history(
    settings: Any, owner: str, exercise: str, *, sessions: int, sets_per_session: int, start_day: int
) -> list[str]:
    """Finished sessions of one exercise, inserted through the tables (the API would be far too slow)."""
    from keel.apps.gym.models import WorkoutSession, WorkoutSet

    base = datetime.now(UTC) - timedelta(days=1000)
    session_rows: list[dict[str, Any]] = []
    set_rows: list[dict[str, Any]] = []
    for day in range(start_day, start_day + sessions):
        session_id = uuid.uuid4()
        began = base + timedelta(days=day)
        session_rows.append(
            {
                "id": session_id,
                "owner_id": uuid.UUID(owner),
                "name": f"Day {day}",
                "started_at": began,
                "finished_at": began + timedelta(hours=1),
                "created_at": began,
                "updated_at": began,
            }
        )
        set_rows += [
            {
                "id": uuid.uuid4(),
                "owner_id": uuid.UUID(owner),
                "session_id": session_id,
                "exercise_id": uuid.UUID(exercise),
                "position": i + 1,
                "set_type": "normal",
                "reps": 1 + (day + i) % 12,
                "weight_kg": Decimal(40 + (day + i) % 80),
                "weight_unit": "kg",
                "distance_unit": "km",
                "performed_at": began + timedelta(minutes=2 * i),
                "created_at": began,
                "updated_at": began,
            }
            for i in range(sets_per_session)
        ]
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(WorkoutSession.__table__.insert(), session_rows)
            for chunk in range(0, len(set_rows), 1000):
                await conn.execute(WorkoutSet.__table__.insert(), set_rows[chunk : chunk + 1000])
    finally:
        await engine.dispose()
    return [str(row["id"]) for row in session_rows]


async def add_plans(client: Any, headers: dict[str, str], exercises: list[str], count: int) -> None:
    for n in range(count):
        body = {
            "name": f"Plan {n}",
            "days": [
                {"name": "A", "exercises": [{"exercise_id": e} for e in exercises[:3]]},
                {"name": "B", "exercises": [{"exercise_id": e} for e in exercises[3:]]},
            ],
        }
        resp = await client.post(f"{API}/workout-plans", json=body, headers=headers)
        assert resp.status_code == 201, resp.text


async def test_gym_reads_run_the_same_queries_for_50_and_5000_sets(
    client, app, settings, user_factory
) -> None:
    lifter = await user_factory()
    headers = lifter.headers
    library = (await client.get(f"{API}/exercises", params={"limit": 6}, headers=headers)).json()["data"]
    exercises = [item["id"] for item in library]
    bench = exercises[0]

    async def counts(session_id: str) -> dict[str, int]:
        exercise = f"{API}/exercises/{bench}"
        return {
            "records": await count_queries(client, app, headers, f"{exercise}/records"),
            "history": await count_queries(client, app, headers, f"{exercise}/history", limit=20),
            "progress": await count_queries(client, app, headers, f"{exercise}/progress"),
            "plans": await count_queries(client, app, headers, f"{API}/workout-plans", scope="mine"),
            "sessions": await count_queries(client, app, headers, f"{API}/sessions", limit=20),
            "session": await count_queries(client, app, headers, f"{API}/sessions/{session_id}"),
        }

    # small: 3 plans, 5 sessions of 10 sets (50 sets)
    await add_plans(client, headers, exercises, 3)
    small = await add_history(settings, lifter.id, bench, sessions=5, sets_per_session=10, start_day=0)
    before = await counts(small[-1])

    # large: 25 plans, 250 sessions, 5,000 sets; the session read holds 200 sets instead of 10
    await add_plans(client, headers, exercises, 22)
    await add_history(settings, lifter.id, bench, sessions=244, sets_per_session=20, start_day=5)
    big = await add_history(settings, lifter.id, bench, sessions=1, sets_per_session=200, start_day=300)
    after = await counts(big[0])

    # the reads really saw the larger history (a filter bug could make both counts trivially equal)
    records = (await client.get(f"{API}/exercises/{bench}/records", headers=headers)).json()["data"]
    assert records["set_count"] == 50 + 244 * 20 + 200
    history = (await client.get(f"{API}/exercises/{bench}/history", headers=headers)).json()
    assert history["meta"]["total"] == 250
    plans = (await client.get(f"{API}/workout-plans", params={"scope": "mine"}, headers=headers)).json()
    assert plans["meta"]["total"] == 25 and len(plans["data"]) == 20
    assert all(len(p["days"]) == 2 for p in plans["data"])
    session = (await client.get(f"{API}/sessions/{big[0]}", headers=headers)).json()["data"]
    assert len(session["sets"]) == 200

    assert after == before, {"50 sets": before, "5,000 sets": after}
    assert max(after.values()) <= 8, after  # auth + a handful of set-based queries, never one per row
