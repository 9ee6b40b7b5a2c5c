"""The records endpoint and the PR flags on a logged set are computed by SQL aggregates; they must say
exactly what the reference engine (`keel.apps.gym.records.compute_records` / `records_broken_by`) says
when it replays the whole history.

A seeded random lifter logs sets through the API: warm-ups, drop and failure sets, kg and lb, RPE or RIR,
reps above the e1RM cap, bodyweight sets, timed and distance sets, repeated loads (ties), several sets at
the same instant and back-dated sets. Every logged set's flags and, at the end, the records under several
formulas and caps are compared with the reference, field by field (values as the API writes them).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from keel.apps.gym.records import (
    ExerciseRecords,
    PerformedSet,
    Record,
    RecordConfig,
    SetType,
    compute_records,
    records_broken_by,
    set_volume,
)

pytestmark = pytest.mark.usefixtures("gym_seeded")
API = "/api/v1/gym"
LOADS = [("kg", 60), ("kg", 80), ("kg", 100), ("kg", 102.5), ("lb", 225), ("lb", 135), ("kg", 100.001)]


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    value = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return value.quantize(Decimal("0.001"))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _history(engine: Any, owner: uuid.UUID, exercise: uuid.UUID, up_to: datetime | None) -> list[Any]:
    """The exercise's sets in history order, as the reference engine takes them."""
    from keel.apps.gym.models import WorkoutSet as S

    query = select(
        S.id, S.session_id, S.exercise_id, S.performed_at, S.set_type, S.reps, S.weight_kg, S.duration_s,
        S.distance_m, S.rpe,
    ).where(S.owner_id == owner, S.exercise_id == exercise)  # fmt: skip
    if up_to is not None:
        query = query.where(S.performed_at <= up_to)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(S.performed_at, S.position, S.id))).all()
    return [
        PerformedSet(
            set_id=r.id,
            session_id=r.session_id,
            exercise_id=r.exercise_id,
            performed_at=_aware(r.performed_at),
            set_type=SetType(r.set_type),
            reps=r.reps,
            weight_kg=_dec(r.weight_kg),
            duration_s=r.duration_s,
            distance_m=_dec(r.distance_m),
            rpe=_dec(r.rpe),
        )
        for r in rows
    ]


def _expected(record: Record | None) -> dict[str, Any] | None:
    """A reference record as the API writes it (Decimals as their exact string, ids as strings)."""
    if record is None:
        return None

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "kind": record.kind.value,
        "value": text(record.value),
        "achieved_at": record.achieved_at,
        "session_id": str(record.session_id),
        "set_id": None if record.set_id is None else str(record.set_id),
        "weight_kg": text(record.weight_kg),
        "reps": record.reps,
        "previous_value": text(record.previous_value),
    }


def _actual(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        **{k: record[k] for k in ("kind", "session_id", "set_id", "reps")},
        "achieved_at": datetime.fromisoformat(record["achieved_at"]),
        **{
            k: None if record[k] is None else str(record[k]) for k in ("value", "weight_kg", "previous_value")
        },
    }


def _random_set(rng: random.Random, exercise: str, performed_at: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exercise_id": exercise,
        "set_type": rng.choices(["normal", "warmup", "drop", "failure"], [6, 2, 1, 1])[0],
        "reps": rng.choice([1, 1, 2, 3, 5, 5, 8, 10, 12, 13, 15, 20]),
        "performed_at": performed_at.isoformat(),
    }
    kind = rng.random()
    if kind < 0.08:
        pass  # bodyweight: reps only
    elif kind < 0.14:
        body["duration_s"] = rng.choice([30, 45, 60, 60, 90])
    elif kind < 0.2:
        body.update(distance=rng.choice([0.4, 1, 1.5]), distance_unit=rng.choice(["km", "mi"]))
    else:
        unit, weight = rng.choice(LOADS)
        body.update(unit=unit, weight=weight)
    if rng.random() < 0.3:
        body["rpe"] = rng.choice([7, 8, 9.5, 10])
    elif rng.random() < 0.2:
        body["rir"] = rng.choice([0, 1, 3])
    return body


async def test_sql_records_and_pr_flags_match_the_reference_engine(client, settings, user_factory) -> None:
    rng = random.Random(20261121)  # noqa: S311 - seeded test data, not security
    lifter, other = await user_factory(), await user_factory()
    library = (await client.get(f"{API}/exercises", params={"q": "bench"}, headers=lifter.headers)).json()
    bench = library["data"][0]["id"]
    squat = (await client.get(f"{API}/exercises", params={"q": "squat"}, headers=lifter.headers)).json()
    squat = squat["data"][0]["id"]
    engine = create_async_engine(settings.database_url)
    start = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    flagged = 0
    try:
        for day in range(7):
            session = await client.post(
                f"{API}/sessions", json={"name": f"Day {day}"}, headers=lifter.headers
            )
            session_id = session.json()["data"]["id"]
            clock = start + timedelta(days=2 * day)
            for _ in range(rng.randint(12, 22)):
                if rng.random() > 0.15:  # otherwise the same instant as the previous set: position decides
                    clock += timedelta(minutes=rng.randint(1, 4))
                # now and then a set back-dated into an earlier session's day
                at = clock - timedelta(days=2 * rng.randint(1, day)) if day and rng.random() < 0.08 else clock
                body = _random_set(rng, bench, at)
                history = await _history(engine, uuid.UUID(lifter.id), uuid.UUID(bench), at)
                resp = await client.post(
                    f"{API}/sessions/{session_id}/sets", json=body, headers=lifter.headers
                )
                assert resp.status_code == 201, resp.text
                logged = resp.json()["data"]
                [new_set] = [
                    s for s in await _history(engine, uuid.UUID(lifter.id), uuid.UUID(bench), at)
                    if str(s.set_id) == logged["set"]["id"]
                ]  # fmt: skip
                current = compute_records(history).get(new_set.exercise_id)
                same_session = [s for s in history if str(s.session_id) == session_id and s.counts]
                before = sum((set_volume(s.weight_kg, s.reps) for s in same_session), Decimal(0))
                expected = [
                    _expected(r) for r in records_broken_by(current, new_set, session_volume_before=before)
                ]
                assert [_actual(r) for r in logged["records"]] == expected, (body, expected)
                flagged += bool(expected)
            # noise the records must ignore: another exercise, another lifter
            for headers, exercise in ((lifter.headers, squat), (other.headers, bench)):
                noise = await client.post(f"{API}/sessions", json={"name": "noise"}, headers=headers)
                resp = await client.post(
                    f"{API}/sessions/{noise.json()['data']['id']}/sets",
                    json={
                        "exercise_id": exercise,
                        "reps": 3,
                        "weight": 300,
                        "performed_at": clock.isoformat(),
                    },
                    headers=headers,
                )
                assert resp.status_code == 201, resp.text

        history = await _history(engine, uuid.UUID(lifter.id), uuid.UUID(bench), None)
    finally:
        await engine.dispose()
    assert flagged >= 10 and any(s.set_type is SetType.WARMUP for s in history)
    assert any((s.reps or 0) > 12 for s in history) and any(s.duration_s for s in history)

    for formula, cap in (("epley", 12), ("brzycki", 12), ("epley", 5), ("brzycki", 30), ("epley", 1)):
        resp = await client.get(
            f"{API}/exercises/{bench}/records",
            params={"formula": formula, "rep_cap": cap},
            headers=lifter.headers,
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        config = RecordConfig(formula=formula, rep_cap=cap)  # type: ignore[arg-type]
        reference = compute_records(history, config=config).get(uuid.UUID(bench)) or ExerciseRecords(bench)
        assert data["set_count"] == len(history)
        for kind in (
            "e1rm", "heaviest_weight", "best_set_volume", "best_session_volume", "longest_duration",
            "longest_distance",
        ):  # fmt: skip
            assert _actual(data[kind]) == _expected(getattr(reference, kind)), (formula, cap, kind)
        by_weight = [
            _expected(reference.most_reps_at_weight[w]) for w in sorted(reference.most_reps_at_weight)
        ]
        assert [_actual(r) for r in data["most_reps_at_weight"]] == by_weight, (formula, cap)
        assert len(by_weight) >= 5 and data["e1rm"] is not None
