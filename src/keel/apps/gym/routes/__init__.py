"""gym routes under /api/v1/gym: exercise library, workout plans, sessions and sets, records, import/export.

Envelope: every JSON answer is `{"status": "success", "data": <object>}` (lists: `data` is the list plus
`meta`); a workout plan answers `data` = the plan itself (not `data.workoutPlan`). Everything owned is
owner-scoped: another user's plan, session, set or custom exercise answers 404. One Controller per concept
states its path, tag and bearer security once.
"""

from __future__ import annotations

from typing import Any

from keel.apps.gym.routes.exercises import ExerciseController, exercises
from keel.apps.gym.routes.plans import PlanController
from keel.apps.gym.routes.sessions import SessionController
from keel.apps.gym.routes.stats import StatsController
from keel.apps.gym.routes.transfer import TransferController

route_handlers: list[Any] = [
    ExerciseController,
    *exercises.handlers(),
    PlanController,
    SessionController,
    StatsController,
    TransferController,
]
