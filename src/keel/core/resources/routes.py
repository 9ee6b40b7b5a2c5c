"""The Litestar side of a Resource: typed handlers for each enabled action (built at run time with a
real signature, so Litestar validates and documents them), and the Router / Controller holding them."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, Router, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.core.envelope import MAX_OFFSET, Envelope, Page
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.core.resources.base import DEFAULT_LIMIT, MAX_LIMIT, SECURITY, ResourceContext, _of, _snake

if TYPE_CHECKING:
    from keel.core.resources.resource import Resource


def _handler(
    resource: Resource,
    action: str,
    impl: Callable[..., Awaitable[Any]],
    params: list[tuple[str, Any, Any]],
    returns: Any,
    *,
    bound: bool,
) -> Callable[..., Awaitable[Any]]:
    """A real function with the given typed signature, so Litestar validates and documents it."""

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
    snake = _snake(resource.name or "item")
    handler.__name__ = handler.__qualname__ = f"{action}_{snake}"
    handler.__module__ = resource.model.__module__
    return handler


def _query_params(resource: Resource) -> list[tuple[str, Any, Any]]:
    sortable = ", ".join(resource.sort_fields)
    params: list[tuple[str, Any, Any]] = [
        (
            "limit",
            Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Page size (1-100)")],
            DEFAULT_LIMIT,
        ),
        ("offset", Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="Items to skip")], 0),
    ]
    if resource.sort_fields:
        description = f"Sort by {sortable}; prefix - for descending, comma-separate several"
        if resource.default_sort:
            description += f" (default {resource.default_sort})"
        sort = Annotated[str | None, QueryParameter(max_length=200, description=description)]
        params.append(("sort", sort, None))
    if resource.search_fields:
        description = f"Case-insensitive search in {', '.join(resource.search_fields)}"
        params.append(
            (
                "q",
                Annotated[
                    str | None, QueryParameter(max_length=resource.max_search_length, description=description)
                ],
                None,
            )
        )
    for name, typ in resource.filter_fields.items():
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


def handlers(resource: Resource, *, bound: bool = False, prefix: bool = True) -> list[Any]:
    """Litestar route handlers for the enabled actions (paths include `path` unless prefix=False)."""
    read, name = resource.read, resource.name
    base = resource.path if prefix else "/"
    item = f"{resource.path if prefix else ''}/{{item_id:{resource._id_converter}}}"
    id_param = [("item_id", _of(FromPath, resource._id_type), inspect.Parameter.empty)]
    common: dict[str, Any] = {"tags": [resource.tag], "security": SECURITY}

    def guards(action: str) -> dict[str, Any]:
        return {"guards": list(resource.guards[action])} if resource.guards.get(action) else {}

    out: list[Any] = []
    if "list" in resource.actions:

        async def list_impl(ctx: ResourceContext, **kw: Any) -> Page[Any]:
            filters = {n: kw.pop(f"filter_{n}", None) for n in resource.filter_fields}
            return await resource.list_items(
                ctx,
                limit=kw["limit"],
                offset=kw["offset"],
                sort=kw.get("sort"),
                q=kw.get("q"),
                filters=filters,
            )

        fn = _handler(resource, "list", list_impl, _query_params(resource), _of(Page, read), bound=bound)
        out.append(
            get(
                base,
                summary=f"List {name} items",
                description=_list_description(resource),
                responses=error_responses(Unauthorized, ValidationFailed),
                **common,
                **guards("list"),
            )(fn)
        )
    if "create" in resource.actions and resource.create is not None:

        async def create_impl(ctx: ResourceContext, *, data: msgspec.Struct) -> Envelope[Any]:
            return await resource.create_item(ctx, data)

        body = [("data", _of(JSONBody, resource.create), inspect.Parameter.empty)]
        fn = _handler(resource, "create", create_impl, body, _of(Envelope, read), bound=bound)
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
    if "get" in resource.actions:

        async def get_impl(ctx: ResourceContext, *, item_id: Any) -> Envelope[Any]:
            return await resource.get_item(ctx, item_id)

        fn = _handler(resource, "get", get_impl, id_param, _of(Envelope, read), bound=bound)
        out.append(
            get(
                item,
                summary=f"One {name}",
                responses=error_responses(Unauthorized, NotFound),
                **common,
                **guards("get"),
            )(fn)
        )
    if "update" in resource.actions and resource.update is not None:

        async def update_impl(ctx: ResourceContext, *, item_id: Any, data: Any) -> Envelope[Any]:
            return await resource.update_item(ctx, item_id, data)

        errors = error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed, Conflict)
        body = [*id_param, ("data", _of(JSONBody, resource.update), inspect.Parameter.empty)]
        fn = _handler(resource, "replace", update_impl, body, _of(Envelope, read), bound=bound)
        out.append(put(item, summary=f"Replace a {name}", responses=errors, **common, **guards("update"))(fn))
        body = [*id_param, ("data", _of(JSONBody, resource.patch), inspect.Parameter.empty)]
        fn = _handler(resource, "update", update_impl, body, _of(Envelope, read), bound=bound)
        out.append(
            patch(
                item,
                summary=f"Change some fields of a {name}",
                responses=errors,
                **common,
                **guards("update"),
            )(fn)
        )
    if "delete" in resource.actions:

        async def delete_impl(ctx: ResourceContext, *, item_id: Any) -> None:
            await resource.delete_item(ctx, item_id)

        fn = _handler(resource, "delete", delete_impl, id_param, None, bound=bound)
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


def _list_description(resource: Resource) -> str:
    parts = ["Paginated with `limit`/`offset`; `meta.total` counts every match."]
    if resource.owner_field:
        parts.append("Only rows the caller may see (their own, public ones).")
    return " ".join(parts)


def router(resource: Resource) -> Router:
    """A Router at `path` holding the handlers."""
    return Router(path=resource.path, route_handlers=handlers(resource, prefix=False), tags=[resource.tag])


def controller(resource: Resource) -> type[Controller]:
    """A Litestar Controller subclass at `path` holding the handlers."""
    attrs: dict[str, Any] = {"path": resource.path, "tags": [resource.tag]}
    for handler in handlers(resource, bound=True, prefix=False):
        attrs[handler.fn.__name__] = handler
    return type(f"{resource.name}Controller", (Controller,), attrs)
