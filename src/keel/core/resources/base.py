"""The toolkit's small parts: the principal it needs, the context and hooks every action passes, and the
struct helpers (`partial_struct` for PATCH bodies, `struct_values`)."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union

import msgspec
from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from keel.core.resources.resource import Resource

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


def partial_struct(struct: type[msgspec.Struct], name: str | None = None) -> type[msgspec.Struct]:
    """A copy of `struct` with every field optional (default `msgspec.UNSET`), for PATCH bodies; named
    `name` (default `<struct>Patch`)."""
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
        name or f"{struct.__name__}Patch",
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        rename=rename or None,
        module=struct.__module__,
    )


def struct_values(data: msgspec.Struct) -> dict[str, Any]:
    """The fields of a body struct that were given (UNSET ones left out)."""
    return {f: value for f in data.__struct_fields__ if (value := getattr(data, f)) is not msgspec.UNSET}
