"""Unknown query parameters are refused, not ignored.

A typo such as `?limt=5` or `?sort_by=name` silently returning the default page is the kind of bug a
client never notices. Every API operation's accepted query names are read once from Litestar's own
kwargs models (the handler's parameters and its dependencies'), so the check per request is one set
difference.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from keel.core.errors import ValidationFailed

API_PREFIX = "/api/"
_STATE_KEY = "known_query_names"


def _known_query_names(app: Litestar) -> dict[int, frozenset[str]]:
    names: dict[int, frozenset[str]] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith(API_PREFIX):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            names[id(handler)] = frozenset(p.field_alias for p in kwargs_model.expected_query_params)
    return names


def refuse_unknown_query_params(request: Request[Any, Any, Any]) -> None:
    """Raise a 400 naming every query parameter the operation does not take."""
    if not request.scope.get("query_string"):
        return
    handler = request.scope.get("route_handler")
    known = request.app.state.get(_STATE_KEY)
    if known is None:
        known = request.app.state[_STATE_KEY] = _known_query_names(request.app)
    accepted = known.get(id(handler))
    if accepted is None:
        return  # not an API operation (docs, assets)
    unknown = sorted(set(request.query_params) - accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "no query parameters"
        raise ValidationFailed(
            f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            details={name: f"not a parameter of this operation (it takes: {takes})" for name in unknown},
        )
