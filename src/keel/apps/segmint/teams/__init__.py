"""segmint teams: workspaces, their members and roles, invitations by email, and the seat (workspace and
role) a request acts with."""

from __future__ import annotations

from keel.apps.segmint.teams import workspaces
from keel.apps.segmint.teams.roles import ensure_roles
from keel.apps.segmint.teams.seat import (
    HEADER,
    Seat,
    WorkspaceHeader,
    ensure_personal,
    personal_seat,
    provide_seat,
    seat_for,
)

__all__ = [
    "HEADER",
    "Seat",
    "WorkspaceHeader",
    "ensure_personal",
    "ensure_roles",
    "personal_seat",
    "provide_seat",
    "seat_for",
    "workspaces",
]
