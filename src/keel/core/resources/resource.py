"""The Resource: a model declared once, its visibility and write rules, and the five actions (list, get,
create, update, delete) on advanced-alchemy's repository service. Handlers live in `routes`."""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.exceptions import wrap_sqlalchemy_exception
from advanced_alchemy.filters import CollectionFilter, LimitOffset, OrderBy, SearchFilter
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy import inspect as sa_inspect

from keel.core.envelope import Envelope, Page, ok, page
from keel.core.errors import Forbidden, NotFound, ValidationFailed
from keel.core.query import parse_sort_keys
from keel.core.resources import routes
from keel.core.resources.base import (
    _RESERVED,
    ACTIONS,
    PrincipalLike,
    ResourceContext,
    ResourceHooks,
    _call,
    partial_struct,
    struct_values,
)

if TYPE_CHECKING:
    from litestar import Controller, Router
    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(kw_only=True)
class Resource:
    model: type[Any]
    path: str
    tag: str
    read: type[msgspec.Struct]
    create: type[msgspec.Struct] | None = None
    update: type[msgspec.Struct] | None = None
    patch: type[msgspec.Struct] | None = None  # default: `update` with every field optional
    owner_field: str | None = None
    public_filter: ColumnElement[bool] | Callable[[], ColumnElement[bool]] | None = None
    search_fields: Sequence[str] = ()
    sort_fields: Sequence[str] = ()
    default_sort: str | None = None
    filter_fields: Mapping[str, type[Any]] = field(default_factory=dict)
    permissions: Mapping[str, str | None] = field(default_factory=dict)
    load: Sequence[Any] = ()
    hooks: ResourceHooks = field(default_factory=ResourceHooks)
    service_class: type[SQLAlchemyAsyncRepositoryService[Any]] | None = None
    actions: Sequence[str] = ACTIONS
    guards: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # extra Litestar guards per action
    name: str | None = None  # for summaries; default: the model's class name
    max_search_length: int = 100

    def __post_init__(self) -> None:
        model_name = self.model.__name__
        self.name = self.name or model_name
        columns = set(sa_inspect(self.model).columns.keys())

        def need(names: Sequence[str], what: str) -> None:
            missing = [n for n in names if n not in columns]
            if missing:
                raise ValueError(f"Resource {model_name}: {what} {missing} are not columns of the model")

        need(list(self.search_fields), "search_fields")
        need(list(self.sort_fields), "sort_fields")
        need(list(self.filter_fields), "filter_fields")
        if self.owner_field:
            need([self.owner_field], "owner_field")
        clashes = set(self.filter_fields) & _RESERVED
        if clashes:
            raise ValueError(f"Resource {model_name}: filter_fields {sorted(clashes)} clash with parameters")
        unknown = set(self.actions) - set(ACTIONS)
        unknown |= (set(self.permissions) - {*ACTIONS, "read"}) | (set(self.guards) - set(ACTIONS))
        if unknown:
            raise ValueError(f"Resource {model_name}: unknown actions {sorted(unknown)}")
        if self.default_sort:
            self.parse_sort(self.default_sort, strict=True)
        pk = sa_inspect(self.model).primary_key
        if len(pk) != 1:
            raise ValueError(f"Resource {model_name}: needs a single-column primary key")
        self._pk = pk[0].key
        py_type = pk[0].type.python_type
        self._id_type: type[Any] = py_type
        self._id_converter = {uuid.UUID: "uuid", int: "int"}.get(py_type, "str")
        if self.patch is None and self.update is not None:
            self.patch = partial_struct(self.update)
        if self.service_class is None:
            model = self.model

            repo = types.new_class(
                f"{model_name}Repository",
                (SQLAlchemyAsyncRepository[model],),  # type: ignore[valid-type]
                exec_body=lambda ns: ns.update(model_type=model),
            )
            self.service_class = types.new_class(
                f"{model_name}Service",
                (SQLAlchemyAsyncRepositoryService[model],),  # type: ignore[valid-type]
                exec_body=lambda ns: ns.update(repository_type=repo),
            )

    # --- query building ---

    def parse_sort(self, sort: str, *, strict: bool = False) -> list[OrderBy]:
        try:
            keys = parse_sort_keys(sort, self.sort_fields)
        except ValidationFailed as exc:
            if strict:  # a bad default_sort is the route author's mistake, found at import time
                raise ValueError(f"Resource {self.name}: {(exc.details or {}).get('sort')}") from exc
            raise
        return [OrderBy(field_name=key, sort_order="desc" if desc else "asc") for key, desc in keys]

    def _public(self) -> ColumnElement[bool] | None:
        public = self.public_filter
        return public() if callable(public) and not isinstance(public, ColumnElement) else public

    def visibility(self, principal: PrincipalLike) -> ColumnElement[bool] | None:
        """The rows the caller may read; None when every row is visible."""
        if self.owner_field is None or self._has(principal, "read"):
            return None
        own = getattr(self.model, self.owner_field) == principal.user_id
        public = self._public()
        return own if public is None else or_(own, public)

    def _has(self, principal: PrincipalLike, action: str) -> bool:
        needed = self.permissions.get(action)
        return needed is not None and needed in principal.permissions

    def owns(self, principal: PrincipalLike, row: Any) -> bool:
        return self.owner_field is not None and getattr(row, self.owner_field) == principal.user_id

    def check_write(self, principal: PrincipalLike, row: Any, action: str) -> None:
        """403 unless the caller owns the row or holds the action's permission (see the module docs)."""
        if self.owns(principal, row):
            return
        needed = self.permissions.get(action)
        if self.owner_field is None:
            if needed is None or needed in principal.permissions:
                return
        elif needed is not None and needed in principal.permissions:
            return
        raise Forbidden()

    def service(self, db_session: AsyncSession) -> SQLAlchemyAsyncRepositoryService[Any]:
        assert self.service_class is not None
        return self.service_class(session=db_session)

    def _statement(self, ctx: ResourceContext) -> Select[Any]:
        statement = select(self.model)
        visible = self.visibility(ctx.principal)
        if visible is not None:
            statement = statement.where(visible)
        return statement

    async def _scoped(self, ctx: ResourceContext) -> Select[Any]:
        statement = self._statement(ctx)
        if self.hooks.query is not None:
            statement = await _call(self.hooks.query, ctx, statement)
        return statement

    async def fetch(self, ctx: ResourceContext, item_id: Any, *, refresh: bool = False) -> Any:
        """The row when the caller may see it, else NotFound."""
        statement = (await self._scoped(ctx)).where(getattr(self.model, self._pk) == item_id)
        options = {"populate_existing": True} if refresh else None
        row = await self.service(ctx.db_session).get_one_or_none(
            statement=statement, load=list(self.load) or None, execution_options=options
        )
        if row is None:
            raise NotFound(f"{self.name} not found")
        return row

    async def to_read(self, ctx: ResourceContext, row: Any) -> Any:
        if self.hooks.to_read is not None:
            return await _call(self.hooks.to_read, ctx, row)
        return msgspec.convert(row, self.read, from_attributes=True)

    async def _flush(self, db_session: AsyncSession) -> None:
        dialect = db_session.bind.dialect.name if db_session.bind else None
        with wrap_sqlalchemy_exception(dialect_name=dialect):
            await db_session.flush()

    # --- actions ---

    async def list_items(
        self,
        ctx: ResourceContext,
        *,
        limit: int,
        offset: int,
        sort: str | None,
        q: str | None,
        filters: Mapping[str, Any],
    ) -> Page[Any]:
        sort = sort or self.default_sort
        orders = self.parse_sort(sort) if sort else []
        criteria: list[Any] = [*orders, OrderBy(field_name=self._pk, sort_order="asc")]
        if q and self.search_fields:
            fields = set(self.search_fields)
            criteria.append(SearchFilter(field_name=fields, value=q, ignore_case=True, escape_wildcards=True))
        for name, value in filters.items():
            if value is not None:
                criteria.append(CollectionFilter(field_name=name, values=[value]))
        criteria.append(LimitOffset(limit=limit, offset=offset))
        rows, total = await self.service(ctx.db_session).get_many_and_count(
            *criteria,
            statement=await self._scoped(ctx),
            load=list(self.load) or None,
            count_with_window_function=False,  # a correct total even past the last page
        )
        items = [await self.to_read(ctx, row) for row in rows]
        return page(items, total=total, limit=limit, offset=offset)

    async def get_item(self, ctx: ResourceContext, item_id: Any) -> Envelope[Any]:
        return ok(await self.to_read(ctx, await self.fetch(ctx, item_id)))

    async def create_item(self, ctx: ResourceContext, data: msgspec.Struct) -> Envelope[Any]:
        needed = self.permissions.get("create")
        if needed is not None and needed not in ctx.principal.permissions:
            raise Forbidden()
        values = struct_values(data)
        if self.owner_field:
            values[self.owner_field] = ctx.principal.user_id
        changed = await _call(self.hooks.before_create, ctx, values)
        if changed is not None:
            values = changed
        row = self.model(**values)
        ctx.db_session.add(row)
        await self._flush(ctx.db_session)
        await _call(self.hooks.after_create, ctx, row)
        if self.load or self.hooks.after_create is not None:
            await self._flush(ctx.db_session)
            row = await self.fetch(ctx, getattr(row, self._pk), refresh=True)
        return ok(await self.to_read(ctx, row))

    async def update_item(self, ctx: ResourceContext, item_id: Any, data: msgspec.Struct) -> Envelope[Any]:
        row = await self.fetch(ctx, item_id)
        self.check_write(ctx.principal, row, "update")
        values = struct_values(data)
        changed = await _call(self.hooks.before_update, ctx, row, values)
        if changed is not None:
            values = changed
        for key, value in values.items():
            setattr(row, key, value)
        await self._flush(ctx.db_session)
        await _call(self.hooks.after_update, ctx, row)
        if self.load or self.hooks.after_update is not None:
            await self._flush(ctx.db_session)
            row = await self.fetch(ctx, item_id, refresh=True)
        return ok(await self.to_read(ctx, row))

    async def delete_item(self, ctx: ResourceContext, item_id: Any) -> None:
        row = await self.fetch(ctx, item_id)
        self.check_write(ctx.principal, row, "delete")
        await _call(self.hooks.before_delete, ctx, row)
        await ctx.db_session.delete(row)
        await self._flush(ctx.db_session)

    # --- Litestar handlers (keel.core.resources.routes) ---

    def handlers(self, *, bound: bool = False, prefix: bool = True) -> list[Any]:
        """Litestar route handlers for the enabled actions (paths include `path` unless prefix=False)."""
        return routes.handlers(self, bound=bound, prefix=prefix)

    def router(self) -> Router:
        """A Router at `path` holding the handlers."""
        return routes.router(self)

    def controller(self) -> type[Controller]:
        """A Litestar Controller subclass at `path` holding the handlers."""
        return routes.controller(self)
