"""What every gym route shares: tags, bearer security, the documented errors, common parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from keel.apps.gym.schemas import SetCreate
from keel.core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed, error_responses
from keel.core.resources import partial_struct

SECURITY = [{"BearerToken": []}]
TAG = ["gym"]
Formula = Literal["epley", "brzycki"]
TimeZone = Annotated[
    str,
    Parameter(max_length=64, description="IANA time zone of the CSV's wall-clock times, e.g. Europe/Berlin"),
]
RepCap = Annotated[int, Parameter(ge=1, le=30, description="Sets above this many reps give no e1RM")]
READ_ERRORS = error_responses(Unauthorized, NotFound)
WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, ValidationFailed, Conflict)
SetUpdate = partial_struct(SetCreate, "SetUpdate")


def app_settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


class GymController(Controller):
    """Every gym Controller: the gym tag and bearer security, stated once."""

    tags = TAG
    security = SECURITY


def list_route(summary: str, **kwargs: Any) -> HTTPRouteHandler:
    """`GET` on the Controller's path: a paginated list (401 without a caller, 400 for bad parameters)."""
    return get(responses=error_responses(Unauthorized), summary=summary, **kwargs)
