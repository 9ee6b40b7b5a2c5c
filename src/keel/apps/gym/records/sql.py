"""The SQL records engine: personal records and the PR flags of a new set, computed by the database."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Numeric, String, and_, case, func, literal, or_, select, union_all

from keel.apps.gym.clock import aware
from keel.apps.gym.models import WorkoutSet
from keel.apps.gym.records.rules import (
    ExerciseRecords,
    PerformedSet,
    Record,
    RecordConfig,
    RecordKind,
    SetType,
    estimate_1rm,
)
from keel.apps.gym.units import db_decimal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


# --------------------------------------------------------------------------- records in SQL
#
# Records are computed by the database instead of replaying the history in Python. Every kind is "the
# best value, held by the earliest set reaching it (ties keep the first), with the best value before that
# set as `previous_value`": aggregates find the bests, ordered LIMIT 1 queries on
# ix_gym_set_owner_exercise_performed the first set reaching each, aggregates again the bests before it.
# e1RM's Decimal rounding is only exact in Python, so SQL returns the heaviest load per rep count (e1RM
# never falls as the load grows at a fixed rep count) and Python estimates from those few. Loads compare
# within half a gram (`_HALF_GRAM`) so SQLite's floats and PostgreSQL's numerics agree with the Decimals.
# `tests/gym/test_gym_records_sql.py` checks the result against `records.compute_records`.

ZERO = Decimal(0)
_CHRONO = (WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id)
_COUNTS = WorkoutSet.set_type != SetType.WARMUP.value
_LOADED = and_(_COUNTS, WorkoutSet.weight_kg > 0, WorkoutSet.reps > 0)
_HALF_GRAM = Decimal("0.0005")  # half the canonical step: equality on the 3-decimal grid, float-safe
_MILLI = Decimal("0.001")
_E1RM_LOAD = "e1rm_load_"
_BOUND = Numeric(14, 4)


def _mine(user_id: uuid.UUID, exercise_id: uuid.UUID) -> tuple[Any, Any]:
    return WorkoutSet.owner_id == user_id, WorkoutSet.exercise_id == exercise_id


def _grid_bound(weight: Decimal) -> Any:
    """A bound half a gram off the grid, bound with a 4th decimal (as the column's NUMERIC(10, 3) it would
    be rounded back onto the grid by PostgreSQL)."""
    return literal(weight, _BOUND)


def _same_weight(column: Any, weight: Decimal) -> Any:
    return column.between(_grid_bound(weight - _HALF_GRAM), _grid_bound(weight + _HALF_GRAM))


def _reps_key() -> Any:
    """The most-reps-at-weight bucket: the load, or 0 for unloaded sets (as `records._weight_key`)."""
    return case((WorkoutSet.weight_kg > 0, WorkoutSet.weight_kg), else_=0)


def _e1rm_top_reps(rep_cap: int, formula: str) -> int:
    return min(rep_cap, 36) if formula == "brzycki" else rep_cap  # Brzycki has no estimate from 37 reps


def _e1rm_columns(rep_cap: int, formula: str) -> list[Any]:
    """Heaviest counting load per rep count that can give an e1RM (1..cap, Brzycki below 37)."""
    return [
        func.max(case((and_(WorkoutSet.reps == r, _LOADED), WorkoutSet.weight_kg))).label(f"{_E1RM_LOAD}{r}")
        for r in range(1, _e1rm_top_reps(rep_cap, formula) + 1)
    ]


def _best_e1rm(row: Any, rep_cap: int, formula: str) -> tuple[Decimal | None, dict[int, Decimal]]:
    """(best e1RM, heaviest load per rep count) from a row of `_e1rm_columns`."""
    loads = {
        int(key.removeprefix(_E1RM_LOAD)): db_decimal(value)
        for key, value in row._mapping.items()
        if key.startswith(_E1RM_LOAD)
    }
    loads = {r: w for r, w in loads.items() if w is not None}
    estimates = [estimate_1rm(w, r, formula, rep_cap=rep_cap) for r, w in loads.items()]  # type: ignore[arg-type]
    return max((e for e in estimates if e is not None), default=None), loads


def _lightest_load_for(e1rm: Decimal, reps: int, heaviest: Decimal, rep_cap: int, formula: str) -> Decimal:
    """The lightest load on the 3-decimal grid whose e1RM at `reps` rounds to `e1rm` (binary search)."""
    low, high = 1, int(heaviest / _MILLI)  # e1rm(high) == e1rm, and e1RM never falls as the load grows
    while low < high:
        middle = (low + high) // 2
        estimate = estimate_1rm(Decimal(middle) * _MILLI, reps, formula, rep_cap=rep_cap)  # type: ignore[arg-type]
        if estimate is not None and estimate >= e1rm:
            high = middle
        else:
            low = middle + 1
    return Decimal(high) * _MILLI


def _before(row: Any) -> Any:
    """Sets logged before `row` in history order (performed_at, position, id)."""
    at, position, set_id = WorkoutSet.performed_at, WorkoutSet.position, WorkoutSet.id
    return or_(
        at < row.performed_at,
        and_(
            at == row.performed_at,
            or_(position < row.position, and_(position == row.position, set_id < row.id)),
        ),
    )


_RECORD_SET_COLUMNS = (
    WorkoutSet.id,
    WorkoutSet.session_id,
    WorkoutSet.performed_at,
    WorkoutSet.position,
    WorkoutSet.weight_kg,
    WorkoutSet.reps,
)
_VOLUME = WorkoutSet.weight_kg * WorkoutSet.reps


def _best_columns(config: RecordConfig, mine: tuple[Any, ...]) -> list[Any]:
    """Aggregates of one scan: the heaviest load per rep count (for e1RM) and every single-value best."""
    per_session = (
        select(func.sum(_VOLUME).label("total")).where(*mine, _LOADED).group_by(WorkoutSet.session_id)
    )
    return [
        *_e1rm_columns(config.rep_cap, config.formula),
        func.max(case((_LOADED, WorkoutSet.weight_kg))).label(RecordKind.HEAVIEST_WEIGHT.value),
        func.max(case((_LOADED, _VOLUME))).label(RecordKind.BEST_SET_VOLUME.value),
        select(func.max(per_session.subquery().c.total))
        .scalar_subquery()
        .label(RecordKind.BEST_SESSION_VOLUME.value),
        func.max(case((and_(_COUNTS, WorkoutSet.duration_s > 0), WorkoutSet.duration_s))).label(
            RecordKind.LONGEST_DURATION.value
        ),
        func.max(case((and_(_COUNTS, WorkoutSet.distance_m > 0), WorkoutSet.distance_m))).label(
            RecordKind.LONGEST_DISTANCE.value
        ),
    ]


def _first_set(kind: RecordKind, *where: Any) -> Any:
    """The earliest set (history order) matching `where`, labelled with the record it holds."""
    first = select(literal(kind.value, String).label("kind"), *_RECORD_SET_COLUMNS).where(*where)
    return select(first.order_by(*_CHRONO).limit(1).subquery())


def _first_to_session_best(mine: tuple[Any, ...], best: Decimal) -> Any:
    """The set that first took a session's volume to `best`: a running sum over the (usually one) sessions
    whose total reaches it."""
    at_best = _grid_bound(best - _HALF_GRAM)
    # MATERIALIZED: computed once, even when stale statistics (say, right after a bulk import) would make
    # PostgreSQL re-run the grouping for every set in a nested loop (seen: 13 s for 5,000 sets)
    sessions = select(WorkoutSet.session_id).where(*mine, _LOADED).group_by(WorkoutSet.session_id)
    sessions = sessions.having(func.sum(_VOLUME) >= at_best).cte("top_sessions").prefix_with("MATERIALIZED")
    running = select(
        *_RECORD_SET_COLUMNS,
        func.sum(_VOLUME)
        .over(partition_by=WorkoutSet.session_id, order_by=_CHRONO, rows=(None, 0))
        .label("so_far"),
    ).where(*mine, _LOADED, WorkoutSet.session_id.in_(select(sessions.c.session_id)))
    running = running.subquery()
    first = select(
        literal(RecordKind.BEST_SESSION_VOLUME.value, String).label("kind"),
        *(running.c[c.name] for c in _RECORD_SET_COLUMNS),
    ).where(running.c.so_far >= at_best)
    return select(
        first.order_by(running.c.performed_at, running.c.position, running.c.id).limit(1).subquery()
    )


def _record_value(kind: RecordKind, raw: Any) -> Decimal | None:
    """A value as `records.py` writes it: loads and volumes to 3 places, counts as integers."""
    if raw is None:
        return None
    if kind in (RecordKind.MOST_REPS_AT_WEIGHT, RecordKind.LONGEST_DURATION):
        return Decimal(int(raw))
    return db_decimal(raw)


_SINGLE_KINDS = (
    RecordKind.HEAVIEST_WEIGHT,
    RecordKind.BEST_SET_VOLUME,
    RecordKind.BEST_SESSION_VOLUME,
    RecordKind.LONGEST_DURATION,
    RecordKind.LONGEST_DISTANCE,
)


async def records_for(
    db: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID, config: RecordConfig
) -> tuple[ExerciseRecords, int]:
    """(current records, number of logged sets) in four statements, whatever the history's length.

    A record is the best value, held by the earliest set reaching it, with the best value before that set as
    `previous_value`: (1) the bests in one aggregate scan, (2) the first set reaching each (ordered LIMIT 1
    each, one UNION), (3) the bests before each of those sets (one aggregate scan), (4) most reps per load.
    """
    mine = _mine(user_id, exercise_id)
    formula, cap = config.formula, config.rep_cap
    bests = (
        await db.execute(select(func.count().label("set_count"), *_best_columns(config, mine)).where(*mine))
    ).one()
    values = {kind: _record_value(kind, bests._mapping[kind.value]) for kind in _SINGLE_KINDS}
    best_e1rm, loads = _best_e1rm(bests, cap, formula)
    firsts: list[Any] = []
    if best_e1rm is not None:
        reaching = [
            and_(
                WorkoutSet.reps == reps,
                WorkoutSet.weight_kg
                >= _grid_bound(_lightest_load_for(best_e1rm, reps, load, cap, formula) - _HALF_GRAM),
            )
            for reps, load in loads.items()
            if estimate_1rm(load, reps, formula, rep_cap=cap) == best_e1rm  # type: ignore[arg-type]
        ]
        firsts.append(_first_set(RecordKind.E1RM, *mine, _LOADED, or_(*reaching)))
    near = {kind: _grid_bound(value - _HALF_GRAM) for kind, value in values.items() if value is not None}
    if RecordKind.HEAVIEST_WEIGHT in near:
        firsts.append(
            _first_set(
                RecordKind.HEAVIEST_WEIGHT,
                *mine,
                _LOADED,
                WorkoutSet.weight_kg >= near[RecordKind.HEAVIEST_WEIGHT],
            )
        )
    if RecordKind.BEST_SET_VOLUME in near:
        firsts.append(
            _first_set(
                RecordKind.BEST_SET_VOLUME, *mine, _LOADED, _VOLUME >= near[RecordKind.BEST_SET_VOLUME]
            )
        )
    if RecordKind.BEST_SESSION_VOLUME in near:
        firsts.append(_first_to_session_best(mine, values[RecordKind.BEST_SESSION_VOLUME]))  # type: ignore[arg-type]
    if RecordKind.LONGEST_DURATION in near:
        firsts.append(
            _first_set(
                RecordKind.LONGEST_DURATION,
                *mine,
                _COUNTS,
                WorkoutSet.duration_s >= near[RecordKind.LONGEST_DURATION],
            )
        )
    if RecordKind.LONGEST_DISTANCE in near:
        firsts.append(
            _first_set(
                RecordKind.LONGEST_DISTANCE,
                *mine,
                _COUNTS,
                WorkoutSet.distance_m >= near[RecordKind.LONGEST_DISTANCE],
            )
        )
    holders = {RecordKind(row.kind): row for row in await db.execute(union_all(*firsts))} if firsts else {}
    previous = await _bests_before_each(db, mine, holders, config)

    found: list[Record] = []
    for kind, holder in holders.items():
        with_load = kind in (RecordKind.E1RM, RecordKind.HEAVIEST_WEIGHT, RecordKind.BEST_SET_VOLUME)
        found.append(
            Record(
                kind=kind,
                exercise_id=exercise_id,
                value=best_e1rm if kind is RecordKind.E1RM else values[kind],  # type: ignore[arg-type]
                achieved_at=aware(holder.performed_at),
                session_id=holder.session_id,
                set_id=None if kind is RecordKind.BEST_SESSION_VOLUME else holder.id,
                weight_kg=db_decimal(holder.weight_kg) if with_load else None,
                reps=holder.reps if with_load else None,
                previous_value=previous.get(kind),
            )
        )
    found += await _most_reps_records(db, mine, exercise_id)
    return ExerciseRecords(exercise_id).apply(found), bests.set_count


async def _bests_before_each(
    db: AsyncSession, mine: tuple[Any, ...], holders: dict[RecordKind, Any], config: RecordConfig
) -> dict[RecordKind, Decimal | None]:
    """Each record's `previous_value`: the best of its kind among the sets before the set holding it."""
    if not holders:
        return {}
    columns: list[Any] = []
    for kind, holder in holders.items():
        earlier = _before(holder)
        if kind is RecordKind.E1RM:
            columns += [
                func.max(case((and_(WorkoutSet.reps == r, _LOADED, earlier), WorkoutSet.weight_kg))).label(
                    f"{_E1RM_LOAD}{r}"
                )
                for r in range(1, _e1rm_top_reps(config.rep_cap, config.formula) + 1)
            ]
        elif kind is RecordKind.BEST_SESSION_VOLUME:
            so_far = select(func.sum(case((earlier, _VOLUME))).label("so_far")).where(*mine, _LOADED)
            so_far = so_far.group_by(WorkoutSet.session_id).subquery()
            columns.append(select(func.max(so_far.c.so_far)).scalar_subquery().label(kind.value))
        else:
            value, counted = {
                RecordKind.HEAVIEST_WEIGHT: (WorkoutSet.weight_kg, _LOADED),
                RecordKind.BEST_SET_VOLUME: (_VOLUME, _LOADED),
                RecordKind.LONGEST_DURATION: (
                    WorkoutSet.duration_s,
                    and_(_COUNTS, WorkoutSet.duration_s > 0),
                ),
                RecordKind.LONGEST_DISTANCE: (
                    WorkoutSet.distance_m,
                    and_(_COUNTS, WorkoutSet.distance_m > 0),
                ),
            }[kind]
            columns.append(func.max(case((and_(counted, earlier), value))).label(kind.value))
    row = (await db.execute(select(*columns).where(*mine))).one()
    previous: dict[RecordKind, Decimal | None] = {
        kind: _record_value(kind, row._mapping[kind.value]) for kind in holders if kind in _SINGLE_KINDS
    }
    if RecordKind.E1RM in holders:
        previous[RecordKind.E1RM] = _best_e1rm(row, config.rep_cap, config.formula)[0]
    return previous


async def _most_reps_records(db: AsyncSession, mine: tuple[Any, ...], exercise_id: uuid.UUID) -> list[Record]:
    """Most reps per load (0 for unloaded sets): the first set reaching each load's best is the one whose
    best-so-far at that load was lower (window functions, one statement)."""
    load = _reps_key()
    chrono = dict(partition_by=load, order_by=_CHRONO)
    per_load = select(
        *_RECORD_SET_COLUMNS,
        func.max(WorkoutSet.reps).over(partition_by=load).label("best"),
        func.max(WorkoutSet.reps).over(**chrono, rows=(None, -1)).label("before"),  # type: ignore[arg-type]
    ).where(*mine, _COUNTS, WorkoutSet.reps > 0)
    per_load = per_load.subquery()
    rows = await db.execute(
        select(per_load).where(
            per_load.c.reps == per_load.c.best,
            or_(per_load.c.before.is_(None), per_load.c.before < per_load.c.best),
        )
    )
    records = []
    for row in rows:
        weight = db_decimal(row.weight_kg)
        records.append(
            Record(
                kind=RecordKind.MOST_REPS_AT_WEIGHT,
                exercise_id=exercise_id,
                value=Decimal(row.reps),
                achieved_at=aware(row.performed_at),
                session_id=row.session_id,
                set_id=row.id,
                weight_kg=weight if weight is not None and weight > 0 else Decimal(0),
                reps=row.reps,
                previous_value=Decimal(row.before) if row.before is not None else None,
            )
        )
    return records


async def bests_before(
    db: AsyncSession, user_id: uuid.UUID, new_set: PerformedSet
) -> tuple[ExerciseRecords, Decimal]:
    """The exercise's current bests as of `new_set` (sets performed at or before it) and the volume already
    lifted in its session, in one aggregate statement: what `records_broken_by` needs, no history rows."""
    exercise_id, session_id = new_set.exercise_id, new_set.session_id
    mine = (*_mine(user_id, exercise_id), WorkoutSet.performed_at <= new_set.performed_at)  # type: ignore[arg-type]
    load = (
        new_set.weight_kg.quantize(_MILLI)
        if new_set.weight_kg is not None and new_set.weight_kg > 0
        else None
    )
    if load is None:  # the unloaded bucket, as `records._weight_key`
        same_load = or_(WorkoutSet.weight_kg.is_(None), WorkoutSet.weight_kg <= 0)
    else:
        same_load = _same_weight(WorkoutSet.weight_kg, load)
    config = RecordConfig()  # what a logged set is flagged against (the records endpoint's defaults)
    this_session = case((and_(_LOADED, WorkoutSet.session_id == session_id), _VOLUME))
    reps_at_load = case((and_(_COUNTS, WorkoutSet.reps > 0, same_load), WorkoutSet.reps))
    row = (
        await db.execute(
            select(
                *_best_columns(config, mine),
                func.sum(this_session).label("this_session"),
                func.max(reps_at_load).label(RecordKind.MOST_REPS_AT_WEIGHT.value),
            ).where(*mine)
        )
    ).one()

    def best(kind: RecordKind, value: Decimal | None) -> Record | None:
        if value is None:
            return None
        return Record(
            kind=kind,
            exercise_id=exercise_id,
            value=value,
            achieved_at=new_set.performed_at,
            session_id=session_id,
        )

    singles = {
        kind.value: best(kind, _record_value(kind, row._mapping[kind.value])) for kind in _SINGLE_KINDS
    }
    most_reps = best(
        RecordKind.MOST_REPS_AT_WEIGHT,
        _record_value(RecordKind.MOST_REPS_AT_WEIGHT, row._mapping[RecordKind.MOST_REPS_AT_WEIGHT.value]),
    )
    current = ExerciseRecords(
        exercise_id,
        e1rm=best(RecordKind.E1RM, _best_e1rm(row, config.rep_cap, config.formula)[0]),
        most_reps_at_weight={load or Decimal(0): most_reps} if most_reps else {},
        **singles,  # type: ignore[arg-type]
    )
    return current, db_decimal(row.this_session) or ZERO
