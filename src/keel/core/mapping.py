"""Row to schema: a `XRead` struct filled from an ORM row's attributes of the same names, instead of a
hand-written mapper per schema that has to be kept in step with both.

    return to_read(key, ApiKeyRead, scopes=list(key.scopes or []))
    return to_read(row, SessionRead, current=row.id == principal.session_id)

Fields the row lacks or that need computing (`current`, counts, a list for a nullable JSON column) are
passed as keywords and win over the row's attribute of the same name. The conversion validates like any
decode (types, constraints), so a row that does not fit its schema fails loudly, in tests.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


class _Overlay:
    """The row's attributes, with `values` in front (msgspec reads attributes with getattr)."""

    __slots__ = ("_row", "_values")

    def __init__(self, row: Any, values: dict[str, Any]) -> None:
        self._row = row
        self._values = values

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        return getattr(object.__getattribute__(self, "_row"), name)


def to_read(row: Any, schema: type[T], /, **values: Any) -> T:
    """`schema` from `row`'s attributes; `values` add or replace fields (computed ones)."""
    source = _Overlay(row, values) if values else row
    return msgspec.convert(source, schema, from_attributes=True)


def to_reads(rows: Any, schema: type[T], /) -> list[T]:
    """`to_read` for each row of a page (no per-row extras)."""
    return [msgspec.convert(row, schema, from_attributes=True) for row in rows]


__all__ = ["to_read", "to_reads"]
