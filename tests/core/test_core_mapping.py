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
