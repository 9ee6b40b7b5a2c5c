"""Core list plumbing: `parse_sort` (allowed fields, `-field` descending, a 400 naming the parameter) and
`contains` (a literal, case-insensitive search where `%`, `_` and `\\` match themselves), on the real
database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import get
from litestar.testing import AsyncTestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from keel.app import create_app
from keel.core.errors import ValidationFailed
from keel.core.query import contains, escape_like, parse_sort, parse_sort_keys
from keel.settings import Settings

lab = MetaData()
items = Table(
    "test_query_items",
    lab,
    Column("id", Integer, primary_key=True),
    Column("name", String(50)),
    Column("note", String(50)),
    Column("rank", Integer),
)
ROWS = [
    (1, "100% cotton", "", 3),
    (2, "100 cotton", "", 1),
    (3, "a_b", "", 2),
    (4, "axb", "", 5),
    (5, "back\\slash", "", 4),
    (6, "Plain", "has 100% in the note", 6),
]
SORTS = {"name": items.c.name, "rank": items.c.rank}


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.run_sync(lab.create_all)
        await conn.execute(
            insert(items), [dict(zip(("id", "name", "note", "rank"), r, strict=True)) for r in ROWS]
        )
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(lab.drop_all)
        await engine.dispose()


async def ids(engine: AsyncEngine, *where: Any, order: list[Any] | None = None) -> list[int]:
    async with engine.connect() as conn:
        stmt = select(items.c.id).where(*where).order_by(*(order or []), items.c.id)
        return list((await conn.scalars(stmt)).all())


async def test_contains_matches_wildcards_literally(engine: AsyncEngine) -> None:
    assert await ids(engine, contains(items.c.name, "100%")) == [1]  # not "100 cotton"
    assert await ids(engine, contains(items.c.name, "a_b")) == [3]  # not "axb"
    assert await ids(engine, contains(items.c.name, "k\\s")) == [5]
    assert await ids(engine, contains(items.c.name, "COTTON")) == [1, 2]  # case-insensitive
    assert await ids(engine, contains([items.c.name, items.c.note], "100%")) == [1, 6]  # any column
    assert await ids(engine, contains(items.c.name, "  ")) == [1, 2, 3, 4, 5, 6]  # no text: no filter
    assert await ids(engine, contains(items.c.name, "%")) == [1]


def test_escape_like() -> None:
    assert escape_like("50%_off\\") == "50\\%\\_off\\\\"


async def test_parse_sort_orders_rows(engine: AsyncEngine) -> None:
    assert await ids(engine, order=parse_sort("rank", SORTS)) == [2, 3, 1, 5, 4, 6]
    assert await ids(engine, order=parse_sort("-rank", SORTS)) == [6, 4, 5, 1, 3, 2]
    assert (await ids(engine, order=parse_sort(None, SORTS, default="-rank")))[0] == 6
    assert parse_sort_keys("name,-rank", SORTS) == [("name", False), ("rank", True)]
    assert parse_sort_keys("+name", SORTS) == [("name", False)]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("price", "'price'"), ("-secret", "'secret'"), ("name,", "an empty field"), ("name,-name", "twice")],
)
def test_parse_sort_refuses_and_names_the_parameter(value: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_sort(value, SORTS, parameter="order")
    message = caught.value.details["order"]
    assert fragment in message
    if "twice" not in fragment:
        assert "sortable: name, rank" in message


async def test_unknown_sort_is_a_400_in_the_envelope(settings: Settings) -> None:
    @get("/test/sorted", opt={"rate_limit": None})
    async def sorted_route(sort: str | None = None) -> list[str]:
        return [str(c) for c in parse_sort(sort, SORTS)]

    app = create_app(settings, extra_route_handlers=[sorted_route])
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        ok = await client.get("/test/sorted", params={"sort": "-rank"})
        bad = await client.get("/test/sorted", params={"sort": "nope"})
    assert ok.status_code == 200
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and "'nope'" in error["details"]["sort"]
