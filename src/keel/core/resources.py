"""The resource toolkit: declare a model once, get typed list/get/create/update/delete routes.

    plans = Resource(
        model=WorkoutPlan, path="/workout-plans", tag="gym",
        read=PlanRead, create=PlanCreate, update=PlanUpdate,
        owner_field="owner_id",                       # rows belong to the caller (None: not owner-scoped)
        public_filter=WorkoutPlan.owner_id.is_(None),  # rows everyone may read (predefined plans)
        search_fields=("name",), sort_fields=("name", "created_at"), default_sort="-created_at",
        filter_fields={"kind": str},
        permissions={"update": "gym.plans.manage", "delete": "gym.plans.manage"},
        load=(selectinload(WorkoutPlan.days),),
        hooks=ResourceHooks(before_create=..., to_read=...),
    )
    spec = AppSpec(..., route_handlers=[*plans.handlers()])    # or plans.controller() / plans.router()

Routes (all need the caller: the app-wide `principal` dependency, else 401):

    GET    {path}            Page[Read]      ?limit=1..100 (20) &offset &sort=name,-created_at &q= &<filter>=
    POST   {path}            Envelope[Read]  201; sets owner_field to the caller
    GET    {path}/{item_id}  Envelope[Read]
    PUT    {path}/{item_id}  Envelope[Read]  the update struct, every field applied
    PATCH  {path}/{item_id}  Envelope[Read]  the same fields, each optional (msgspec.UNSET = unchanged)
    DELETE {path}/{item_id}  204

Visibility and permissions. With `owner_field`, a caller sees their own rows, rows matching `public_filter`,
and every row when they hold `permissions["read"]`; anything else answers 404 (never 403). Writes to a visible
row the caller does not own (a public row) need `permissions["update"|"delete"]` (403 without; not listed =
nobody). `permissions["create"]`, when set, is needed to create at all. Without `owner_field` every row is
visible and each action needs `permissions[action]` when one is named. Unique violations answer 409.
"""

from __future__ import annotations

import inspect
import re
import types
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Union

import msgspec
from advanced_alchemy.exceptions import wrap_sqlalchemy_exception
from advanced_alchemy.filters import CollectionFilter, LimitOffset, OrderBy, SearchFilter
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar import Controller, Request, Router, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import MAX_OFFSET, Envelope, Page, ok, page
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.core.query import parse_sort_keys

if TYPE_CHECKING:
    from sqlalchemy import Select

ACTIONS = ("list", "get", "create", "update", "delete")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]


def _of(alias: Any, argument: Any) -> Any:
    """`alias[argument]` for annotations built at run time (the routes' types come from the Resource)."""
    return alias[argument]


_RESERVED = frozenset(
    {"limit", "offset", "sort", "q", "data", "principal", "db_session", "request", "item_id"}
)


class PrincipalLike(Protocol):
    """What the toolkit needs of the principal the identity component provides."""

    user_id: uuid.UUID
    permissions: frozenset[str]


@dataclass
class ResourceContext:
    """Passed to every hook: who is calling, on which resource and action, with the request's session."""

    resource: Resource
    action: str
    principal: PrincipalLike
    db_session: AsyncSession
    request: Request[Any, Any, Any]


Hook = Callable[..., Any]  # sync or async; see ResourceHooks for each signature


@dataclass
class ResourceHooks:
    """Customise a resource without forking it. Every hook may be sync or async.

    query(ctx, statement) -> statement        extra scoping/joins for list, get, update and delete
    before_create(ctx, values) -> dict|None   change the column values (owner already set) before insert
    after_create(ctx, row)                    e.g. create children, publish an event
    before_update(ctx, row, values) -> dict|None
    after_update(ctx, row)
    before_delete(ctx, row)                   raise a KeelError to refuse
    to_read(ctx, row) -> Read                 build the response item (default: from the row's attributes)
    """

    query: Hook | None = None
    before_create: Hook | None = None
    after_create: Hook | None = None
    before_update: Hook | None = None
    after_update: Hook | None = None
    before_delete: Hook | None = None
    to_read: Hook | None = None


async def _call(hook: Hook | None, *args: Any) -> Any:
    if hook is None:
        return None
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def partial_struct(struct: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """A copy of `struct` with every field optional (default `msgspec.UNSET`), for PATCH bodies."""
    config = struct.__struct_config__
    fields: list[tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for info in msgspec.structs.fields(struct):
        annotation = info.type
        args = getattr(annotation, "__args__", ())
        if msgspec.UnsetType not in args:
            annotation = Union[annotation, msgspec.UnsetType]  # noqa: UP007 - built at runtime
        fields.append((info.name, annotation, msgspec.UNSET))
        if info.encode_name != info.name:
            rename[info.name] = info.encode_name
    return msgspec.defstruct(
        f"{struct.__name__}Patch",
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        rename=rename or None,
        module=struct.__module__,
    )


def struct_values(data: msgspec.Struct) -> dict[str, Any]:
    """The fields of a body struct that were given (UNSET ones left out)."""
    return {f: value for f in data.__struct_fields__ if (value := getattr(data, f)) is not msgspec.UNSET}


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

    # --- Litestar handlers ---

    def _handler(
        self,
        action: str,
        impl: Callable[..., Awaitable[Any]],
        params: list[tuple[str, Any, Any]],
        returns: Any,
        *,
        bound: bool,
    ) -> Callable[..., Awaitable[Any]]:
        """A real function with the given typed signature, so Litestar validates and documents it."""
        resource = self

        async def handler(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop("request")
            principal = kwargs.pop("principal")
            if principal is None:  # pragma: no cover - the dependency raises first
                raise Unauthorized()
            ctx = ResourceContext(resource, action, principal, kwargs.pop("db_session"), request)
            return await impl(ctx, **kwargs)

        base = [
            ("request", Request, inspect.Parameter.empty),
            ("db_session", _of(NamedDependency, AsyncSession), inspect.Parameter.empty),
            ("principal", _of(NamedDependency, Any), inspect.Parameter.empty),
        ]
        parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] if bound else []
        annotations: dict[str, Any] = {}
        for name, annotation, default in [*base, *params]:
            kind = inspect.Parameter.KEYWORD_ONLY
            parameters.append(inspect.Parameter(name, kind, default=default, annotation=annotation))
            annotations[name] = annotation
        annotations["return"] = returns
        handler.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
        handler.__annotations__ = annotations
        snake = _snake(self.name or "item")
        handler.__name__ = handler.__qualname__ = f"{action}_{snake}"
        handler.__module__ = self.model.__module__
        return handler

    def _query_params(self) -> list[tuple[str, Any, Any]]:
        sortable = ", ".join(self.sort_fields)
        params: list[tuple[str, Any, Any]] = [
            (
                "limit",
                Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (1-100)")],
                DEFAULT_LIMIT,
            ),
            ("offset", Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="Items to skip")], 0),
        ]
        if self.sort_fields:
            description = f"Sort by {sortable}; prefix - for descending, comma-separate several"
            if self.default_sort:
                description += f" (default {self.default_sort})"
            sort = Annotated[str | None, QueryParameter(max_length=200, description=description)]
            params.append(("sort", sort, None))
        if self.search_fields:
            description = f"Case-insensitive search in {', '.join(self.search_fields)}"
            params.append(
                (
                    "q",
                    Annotated[
                        str | None, QueryParameter(max_length=self.max_search_length, description=description)
                    ],
                    None,
                )
            )
        for name, typ in self.filter_fields.items():
            params.append(
                (
                    f"filter_{name}",
                    Annotated[
                        typ | None,
                        QueryParameter(name=name, description=f"Only items whose {name} equals this"),
                    ],
                    None,
                )
            )
        return params

    def handlers(self, *, bound: bool = False, prefix: bool = True) -> list[Any]:
        """Litestar route handlers for the enabled actions (paths include `path` unless prefix=False)."""
        read, name = self.read, self.name
        base = self.path if prefix else "/"
        item = f"{self.path if prefix else ''}/{{item_id:{self._id_converter}}}"
        id_param = [("item_id", _of(FromPath, self._id_type), inspect.Parameter.empty)]
        common: dict[str, Any] = {"tags": [self.tag], "security": SECURITY}

        def guards(action: str) -> dict[str, Any]:
            return {"guards": list(self.guards[action])} if self.guards.get(action) else {}

        out: list[Any] = []
        if "list" in self.actions:

            async def list_impl(ctx: ResourceContext, **kw: Any) -> Page[Any]:
                filters = {n: kw.pop(f"filter_{n}", None) for n in self.filter_fields}
                return await self.list_items(
                    ctx,
                    limit=kw["limit"],
                    offset=kw["offset"],
                    sort=kw.get("sort"),
                    q=kw.get("q"),
                    filters=filters,
                )

            fn = self._handler("list", list_impl, self._query_params(), _of(Page, read), bound=bound)
            out.append(
                get(
                    base,
                    summary=f"List {name} items",
                    description=self._list_description(),
                    responses=error_responses(Unauthorized, ValidationFailed),
                    **common,
                    **guards("list"),
                )(fn)
            )
        if "create" in self.actions and self.create is not None:

            async def create_impl(ctx: ResourceContext, *, data: msgspec.Struct) -> Envelope[Any]:
                return await self.create_item(ctx, data)

            body = [("data", _of(JSONBody, self.create), inspect.Parameter.empty)]
            fn = self._handler("create", create_impl, body, _of(Envelope, read), bound=bound)
            out.append(
                post(
                    base,
                    status_code=201,
                    summary=f"Create a {name}",
                    responses=error_responses(Unauthorized, Forbidden, ValidationFailed, Conflict),
                    **common,
                    **guards("create"),
                )(fn)
            )
        if "get" in self.actions:

            async def get_impl(ctx: ResourceContext, *, item_id: Any) -> Envelope[Any]:
                return await self.get_item(ctx, item_id)

            fn = self._handler("get", get_impl, id_param, _of(Envelope, read), bound=bound)
            out.append(
                get(
                    item,
                    summary=f"One {name}",
                    responses=error_responses(Unauthorized, NotFound),
                    **common,
                    **guards("get"),
                )(fn)
            )
        if "update" in self.actions and self.update is not None:

            async def update_impl(ctx: ResourceContext, *, item_id: Any, data: Any) -> Envelope[Any]:
                return await self.update_item(ctx, item_id, data)

            errors = error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed, Conflict)
            body = [*id_param, ("data", _of(JSONBody, self.update), inspect.Parameter.empty)]
            fn = self._handler("replace", update_impl, body, _of(Envelope, read), bound=bound)
            out.append(
                put(item, summary=f"Replace a {name}", responses=errors, **common, **guards("update"))(fn)
            )
            body = [*id_param, ("data", _of(JSONBody, self.patch), inspect.Parameter.empty)]
            fn = self._handler("update", update_impl, body, _of(Envelope, read), bound=bound)
            out.append(
                patch(
                    item,
                    summary=f"Change some fields of a {name}",
                    responses=errors,
                    **common,
                    **guards("update"),
                )(fn)
            )
        if "delete" in self.actions:

            async def delete_impl(ctx: ResourceContext, *, item_id: Any) -> None:
                await self.delete_item(ctx, item_id)

            fn = self._handler("delete", delete_impl, id_param, None, bound=bound)
            errors = error_responses(Unauthorized, Forbidden, NotFound, Conflict)
            out.append(
                delete(
                    item,
                    status_code=204,
                    summary=f"Delete a {name}",
                    responses=errors,
                    **common,
                    **guards("delete"),
                )(fn)
            )
        return out

    def _list_description(self) -> str:
        parts = ["Paginated with `limit`/`offset`; `meta.total` counts every match."]
        if self.owner_field:
            parts.append("Only rows the caller may see (their own, public ones).")
        return " ".join(parts)

    def router(self) -> Router:
        """A Router at `path` holding the handlers."""
        return Router(path=self.path, route_handlers=self.handlers(prefix=False), tags=[self.tag])

    def controller(self) -> type[Controller]:
        """A Litestar Controller subclass at `path` holding the handlers."""
        attrs: dict[str, Any] = {"path": self.path, "tags": [self.tag]}
        for handler in self.handlers(bound=True, prefix=False):
            attrs[handler.fn.__name__] = handler
        return type(f"{self.name}Controller", (Controller,), attrs)


__all__ = [
    "ACTIONS",
    "PrincipalLike",
    "Resource",
    "ResourceContext",
    "ResourceHooks",
    "partial_struct",
    "struct_values",
]
