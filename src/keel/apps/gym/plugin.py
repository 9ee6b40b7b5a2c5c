"""gym (Atomic Gym Tracker): exercise library, workout plans, sessions and sets, records, import/export."""

from __future__ import annotations

from keel.apps.gym.routes import route_handlers
from keel.apps.gym.seed import seed
from keel.apps.gym.services import MANAGE_LIBRARY, MANAGE_PLANS
from keel.core.components import AppSpec

spec = AppSpec(
    name="gym",
    description="Atomic Gym Tracker: exercises, plans, sessions and sets, records, progress, import/export",
    route_handlers=route_handlers,
    seed=seed,
    permissions={
        MANAGE_LIBRARY: "Change the shared exercise catalogue",
        MANAGE_PLANS: "Change predefined workout plans",
    },
)
