"""What every segmint route shares: tag, bearer security, the documented errors, common parameters."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request
from litestar.di import Provide
from litestar.params import Parameter

from keel.apps.segmint.teams import provide_seat
from keel.core.envelope import MAX_OFFSET
from keel.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, error_responses
from keel.core.llm import ModelBadOutput, ModelUnavailable, TokenQuotaExceeded

SECURITY = [{"BearerToken": []}]
TAG = ["segmint"]
READ_ERRORS = error_responses(NotFound)
WRITE_ERRORS = error_responses(NotFound, Forbidden, Conflict, ValidationFailed)
WRITING_ERRORS = error_responses(ValidationFailed, TokenQuotaExceeded, ModelBadOutput, ModelUnavailable)
# a version number in a path: beyond a 32-bit integer PostgreSQL refuses the comparison (a 500)
VersionNumber = Annotated[int, Parameter(ge=1, le=MAX_OFFSET, description="Version number (1 is the first)")]


def app_settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


# the workspace a request acts in (`X-Workspace` header; default: the caller's personal workspace)
SEAT = {"seat": Provide(provide_seat)}
# what the seat dependency answers on every route that takes it: an unknown or foreign X-Workspace (404),
# a malformed one (400), a role without the permission (403)
SEAT_ERRORS = {"error_responses": error_responses(NotFound, ValidationFailed, Forbidden)}


class SegmintController(Controller):
    """What every segmint controller shares: the tag, bearer security, the X-Workspace seat and the errors
    it answers. Subclasses set `path`."""

    tags = TAG
    security = SECURITY
    dependencies = SEAT
    opt = SEAT_ERRORS
