"""gym set-up for `make bench`: what a lifter with a long history has, for the bench user.

25 own plans (2 days x 3 exercises) through the API, one open session to log sets into, and 5,000
bench-press sets over 250 finished sessions inserted straight through the models' tables (the API would
take minutes to log them one by one; the rows are the same shape the API writes).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

API = "/api/v1/gym"
PLANS = 25
SESSIONS = 250
SETS_PER_SESSION = 20  # 250 x 20 = 5,000 sets of one exercise


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response


def _exercise_id(client: httpx.Client, name: str) -> str:
    resp = _check(client.get(f"{API}/exercises", params={"q": name, "limit": 100}))
    items = resp.json()["data"]
    exact = [i for i in items if i["name"].lower() == name.lower()]
    if not (exact or items):
        raise RuntimeError(f"exercise {name!r} not in the library (is gym seeded? `keel migrate` seeds it)")
    return (exact or items)[0]["id"]


async def _insert_history(database_url: str, owner: uuid.UUID, exercise: uuid.UUID) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from keel.apps.gym.models import WorkoutSession, WorkoutSet

    start = datetime.now(UTC) - timedelta(days=SESSIONS + 1)
    sessions: list[dict[str, Any]] = []
    sets: list[dict[str, Any]] = []
    for day in range(SESSIONS):
        session_id = uuid.uuid4()
        began = start + timedelta(days=day)
        sessions.append(
            {
                "id": session_id,
                "owner_id": owner,
                "name": f"Bench day {day + 1}",
                "started_at": began,
                "finished_at": began + timedelta(hours=1),
                "duration_s": 3600,
                "created_at": began,
                "updated_at": began,
            }
        )
        for i in range(SETS_PER_SESSION):
            sets.append(
                {
                    "id": uuid.uuid4(),
                    "owner_id": owner,
                    "session_id": session_id,
                    "exercise_id": exercise,
                    "position": i + 1,
                    "set_type": "normal",
                    "reps": 1 + (day + i) % 12,
                    "weight_kg": Decimal(40 + (day * 7 + i * 3) % 80),
                    "weight_unit": "kg",
                    "distance_unit": "km",
                    "performed_at": began + timedelta(minutes=2 * i),
                    "created_at": began,
                    "updated_at": began,
                }
            )
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(WorkoutSession.__table__.insert(), sessions)
            for chunk in range(0, len(sets), 1000):
                await conn.execute(WorkoutSet.__table__.insert(), sets[chunk : chunk + 1000])
        # fresh statistics, as autovacuum would give a real database within minutes: without them
        # PostgreSQL plans the history query for empty tables (140 ms instead of 0.5 ms)
        async with engine.connect() as conn:
            from sqlalchemy import text

            await conn.execute(text("ANALYZE"))
            await conn.commit()
    finally:
        await engine.dispose()


def setup(base: str, token: str, database_url: str) -> dict[str, str]:
    """Create the bench user's gym data; the values fill `{...}` in the gym scenarios' paths and bodies."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        bench = _exercise_id(client, "Barbell Bench Press")
        squat = _exercise_id(client, "Squat")
        library = client.get(f"{API}/exercises", params={"limit": 6})
        library.raise_for_status()
        six = [{"exercise_id": item["id"], "sets": 3, "reps": 8} for item in library.json()["data"]]
        for n in range(PLANS):
            body = {"name": f"Bench plan {n + 1}", "days": [
                {"name": "A", "exercises": six[:3]}, {"name": "B", "exercises": six[3:]},
            ]}  # fmt: skip
            _check(client.post(f"{API}/workout-plans", json=body))
        session = client.post(f"{API}/sessions", json={"name": "Bench session"})
        _check(session)
        me = _check(client.get("/api/v1/users/me"))
        owner = uuid.UUID(me.json()["data"]["id"])
    asyncio.run(_insert_history(database_url, owner, uuid.UUID(bench)))
    return {"exercise_id": bench, "log_exercise_id": squat, "session_id": session.json()["data"]["id"]}
