"""Statistics routes: weekly sets and volume per muscle."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.gym import services
from keel.apps.gym.routes.common import GymController
from keel.apps.gym.schemas import MuscleWeekRead
from keel.core.envelope import Envelope, ok
from keel.core.errors import Unauthorized, error_responses
from keel.identity import Principal


class StatsController(GymController):
    path = "/stats"

    @get(
        "/muscles",
        responses=error_responses(Unauthorized),
        summary="Sets and volume per muscle per ISO week (secondary muscles count half)",
    )
    async def muscle_stats(
        self,
        db_session: AsyncSession,
        principal: Principal,
        weeks: Annotated[int, Parameter(ge=1, le=104, description="This week and the ones before")] = 4,
    ) -> Envelope[list[MuscleWeekRead]]:
        return ok(await services.muscle_stats(db_session, principal, weeks=weeks))
