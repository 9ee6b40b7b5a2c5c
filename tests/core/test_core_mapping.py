"""core.mapping: a read schema filled from a row's attributes, computed fields passed alongside."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
import pytest

from keel.core.mapping import to_read, to_reads


class ThingRead(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    tags: list[str]
    created_at: datetime
    mine: bool = False


@dataclass
class ThingRow:  # stands for an ORM row: plain attributes, some the schema does not show
    id: uuid.UUID
    name: str
    tags: list[str] | None
    created_at: datetime
    password_hash: str = "$argon2id$..."  # noqa: S105 - test data


def row(**changes: object) -> ThingRow:
    base = ThingRow(id=uuid.uuid4(), name="Anvil", tags=["iron"], created_at=datetime(2026, 1, 2, tzinfo=UTC))
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_fields_come_from_the_row_and_nothing_else_leaks() -> None:
    source = row()
    read = to_read(source, ThingRead)
    assert read == ThingRead(id=source.id, name="Anvil", tags=["iron"], created_at=source.created_at)
    assert "password_hash" not in msgspec.to_builtins(read)


def test_keywords_add_computed_fields_and_win_over_the_row() -> None:
    source = row(tags=None)
    read = to_read(source, ThingRead, tags=[], mine=True)
    assert read.tags == [] and read.mine is True and read.name == "Anvil"


def test_a_row_that_does_not_fit_the_schema_fails_loudly() -> None:
    with pytest.raises(msgspec.ValidationError, match="tags"):
        to_read(row(tags=None), ThingRead)


def test_a_page_of_rows() -> None:
    rows = [row(name="A"), row(name="B")]
    assert [r.name for r in to_reads(rows, ThingRead)] == ["A", "B"]


def test_a_page_of_database_rows_with_a_computed_column_converts_at_once() -> None:
    """Plain SQLAlchemy rows (a Core select, the flag computed by the database) fill the schema; SQLite's
    0/1 for the comparison comes back as a bool, its naive datetimes as UTC."""
    import sqlalchemy as sa
    from advanced_alchemy.types import GUID, DateTimeUTC

    from keel.core.query import plain

    things = sa.Table(
        "thing",
        sa.MetaData(),
        sa.Column("id", GUID, primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("tags", sa.JSON),
        sa.Column("created_at", DateTimeUTC),
    )
    ids = [uuid.uuid4(), uuid.uuid4()]
    when = datetime(2026, 1, 2, tzinfo=UTC)
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        things.create(conn)
        values = [dict(id=i, name=n, tags=[n], created_at=when) for i, n in zip(ids, ("A", "B"), strict=True)]
        conn.execute(things.insert(), values)
        stmt = sa.select(
            plain(things.c.id),
            things.c.name,
            things.c.tags,
            plain(things.c.created_at),
            (things.c.id == sa.bindparam("mine")).label("mine"),
        ).order_by(things.c.name)
        rows = conn.execute(stmt, {"mine": ids[1]}).all()
    reads = to_reads(rows, ThingRead)
    assert reads == [
        ThingRead(id=ids[0], name="A", tags=["A"], created_at=when, mine=False),
        ThingRead(id=ids[1], name="B", tags=["B"], created_at=when, mine=True),
    ]
    with pytest.raises(msgspec.ValidationError, match="tags"):
        to_reads([row(tags=None)], ThingRead)
