"""The workspace's content list (`GET /segmint/content`), a hot read: one statement for a page.

The page's SELECT carries its total (a scalar COUNT), each row's tags (aggregated in SQL) and the
caller's membership of the workspace (an EXISTS on the seat's row), so a page that has rows costs one
statement after the guard's: no COUNT, no tag query, no seat query. Its columns are `plain` and its
JSON lists come back as text decoded by msgspec in C, so the rows go straight into `ContentRead` in one
`to_reads`. An empty page takes the seat as every segmint request does (404 for a workspace the caller
is not a member of, the personal workspace made on first use), then the COUNT past the last page.

The statements are built once per combination of filters and sort (bind parameters carry the values):
a handful in use, kept in a bounded cache; the default request's is built at import. The page runs on
the driver (`keel.core.driver_select`): its JSON text columns are decoded by their type's result
processor there too."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import Select, Table, Text, bindparam, exists, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import UserDefinedType

from keel.apps.segmint.models import Content, ContentTag, WorkspaceMember
from keel.apps.segmint.teams.seat import Who, seat_for
from keel.core.driver_select import DriverSelect
from keel.core.query import LIKE_ESCAPE, escape_like, page_with_total, parse_sort_keys, plain, total_column

DEFAULT_SORT = "-created_at"
# the public sort names (each a column of the content table)
SORTABLE = ("created_at", "updated_at", "title", "status", "tone", "published_at")

_content = cast(Table, Content.__table__)
_tag = cast(Table, ContentTag.__table__)
_member = cast(Table, WorkspaceMember.__table__)


class _JsonList(UserDefinedType[Any]):
    """A JSON array as text, decoded by `msgspec.json.decode` (C, no Python call per value; SQLAlchemy's
    JSON type decodes through two or three Python functions per value on either driver)."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "TEXT"

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return msgspec.json.decode


class _JsonText(FunctionElement[Any]):
    """A JSON column's text: SQLite stores it as text; PostgreSQL's json is cast (asyncpg would decode
    it through SQLAlchemy's Python codec)."""

    type = _JsonList()
    inherit_cache = True
    name = "json_text"


@compiles(_JsonText)
def _json_text(element: _JsonText, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


@compiles(_JsonText, "sqlite")
def _json_text_sqlite(element: _JsonText, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


_tag_rows = select(_tag.c.tag).where(_tag.c.content_id == _content.c.id).correlate(_content)
_TAGS = {
    # PostgreSQL: ordered inside the aggregate; json_agg of no rows is NULL
    "postgresql": select(
        func.coalesce(func.json_agg(aggregate_order_by(_tag.c.tag, _tag.c.tag)).cast(Text), "[]")
    )
    .where(_tag.c.content_id == _content.c.id)
    .scalar_subquery(),
    # SQLite (before 3.44) has no ORDER BY inside an aggregate: an ordered subquery feeds it in order (an
    # aggregate's ordered subquery is not flattened); json_group_array of no rows is '[]'
    "sqlite": select(func.json_group_array(literal_column("tag")))
    .select_from(_tag_rows.order_by(_tag.c.tag).subquery())
    .scalar_subquery(),
}


class _Tags(FunctionElement[Any]):
    """The row's tags, sorted, as a JSON array (`[]` for none): a correlated subquery on the
    (content_id, tag) unique index instead of a second statement for the page's tags."""

    type = _JsonList()
    inherit_cache = True
    name = "content_tags"


@compiles(_Tags)
def _tags(element: _Tags, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(_TAGS[compiler.dialect.name], **kw))


_COLUMNS = (
    plain(_content.c.id),
    _content.c.title,
    _content.c.text,
    _content.c.tone,
    _content.c.status,
    _JsonText(_content.c.platforms).label("platforms"),
    _Tags().label("tags"),
    _content.c.version,
    plain(_content.c.workflow_id),
    plain(_content.c.published_at),
    plain(_content.c.created_at),
    plain(_content.c.updated_at),
    plain(_content.c.owner_id),
)
# the workspace's rows, for a caller who is a member of it (the seat, checked in the same statement)
_IN_WORKSPACE = (
    _content.c.workspace_id == bindparam("workspace_id"),
    exists().where(
        _member.c.workspace_id == bindparam("workspace_id"), _member.c.user_id == bindparam("user_id")
    ),
)
_FILTERS = {
    "q": or_(
        _content.c.title.ilike(bindparam("q"), escape=LIKE_ESCAPE),
        _content.c.text.ilike(bindparam("q"), escape=LIKE_ESCAPE),
    ),
    "status": _content.c.status == bindparam("status"),
    "tone": _content.c.tone == bindparam("tone"),
    "tag": exists().where(_tag.c.content_id == _content.c.id, _tag.c.tag == bindparam("tag")),
}


@lru_cache(maxsize=64)
def statements(sort: str, filters: tuple[str, ...]) -> tuple[DriverSelect, Select[Any]]:
    """(page, count) for `sort` (as the query parameter has it) and the names of the filters given; an
    unknown or repeated sort field raises the 400 (not cached). The page is read on the driver."""
    keys = parse_sort_keys(sort, SORTABLE, default=DEFAULT_SORT)
    order = [_content.c[name].desc() if descending else _content.c[name].asc() for name, descending in keys]
    conditions = (*_IN_WORKSPACE, *(_FILTERS[name] for name in filters))
    count = select(func.count()).select_from(_content).where(*conditions)
    # the page's rows are chosen first, so the tags are aggregated for them alone, not for every match
    # before the sort (SQLite: 0.31 -> 0.14 ms for 20 of 100 with the total as a scalar count)
    page_ids = (
        select(_content.c.id)
        .where(*conditions)
        .order_by(*order, _content.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    page = (
        select(*_COLUMNS, total_column(count))
        .select_from(page_ids.join(_content, _content.c.id == page_ids.c.id))
        .order_by(*order, _content.c.id)
    )
    return DriverSelect(page), count


statements(DEFAULT_SORT, ())  # the default request's, built at import


async def list_content(
    db: AsyncSession | AsyncEngine,
    session: Callable[[], AsyncSession],
    principal: Who,
    workspace_id: UUID | None,
    *,
    limit: int,
    offset: int,
    q: str | None,
    status: str | None,
    tone: str | None,
    tag: str | None,
    sort: str,
) -> tuple[Any, int]:
    """(plain rows with `ContentRead`'s fields, total) of the workspace's content (`workspace_id`, None:
    the caller's personal workspace), read in `db` (the engine when the request has no session yet).
    `q` searches title and text literally, ignoring case. `session()` is the request's session, made
    only for an empty page's seat."""
    params: dict[str, Any] = {
        "workspace_id": workspace_id or principal.user_id,
        "user_id": principal.user_id,
        "limit": limit,
        "offset": offset,
    }
    needle = (q or "").strip()
    if needle:
        params["q"] = f"%{escape_like(needle)}%"
    if status:
        params["status"] = status
    if tone:
        params["tone"] = tone
    if tag:
        params["tag"] = tag.lower()
    page, count = statements(sort, tuple(name for name in _FILTERS if name in params))
    rows, total = await page_with_total(db, page, count, params, offset=offset)
    if not rows:  # nothing proved the membership: the seat answers (404, or the personal workspace made)
        await seat_for(session(), principal, workspace_id)
    return rows, total
