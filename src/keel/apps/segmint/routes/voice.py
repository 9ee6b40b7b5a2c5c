"""Voice routes: the voice profile, its evolution (data and chart), and scoring a text against it."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import drafting, evolution, networks, style, voice
from keel.apps.segmint.routes.common import SegmintController
from keel.apps.segmint.schemas import (
    FeatureDifference,
    ScoreRequest,
    ScoreResult,
    VoicePeriod,
    VoiceProfile,
    VoiceStyle,
)
from keel.apps.segmint.teams import Seat
from keel.core.envelope import Envelope, ok
from keel.core.errors import ValidationFailed, error_responses
from keel.core.storage import binary_operation

Period = Literal["month", "quarter"]
ChartFormat = Literal["svg", "png"]


class VoiceController(SegmintController):
    path = "/voice"

    @get(summary="Your voice profile: tone mix, sentence length, vocabulary, top terms, by month")
    async def get_voice(self, db_session: AsyncSession, seat: Seat) -> Envelope[VoiceProfile]:
        profile = await voice.profile(db_session, seat.workspace_id)
        features = style.features(await drafting.material_of(db_session, seat.workspace_id))
        fields = {k: v for k, v in features.__dict__.items() if k != "pieces"}
        described = VoiceStyle(**fields, card=style.style_card(features))
        return ok(msgspec.structs.replace(profile, style=described))

    @get(
        "/evolution",
        summary="Your voice per month or quarter: features, distance from the period before, what changed",
        responses=error_responses(ValidationFailed),
    )
    async def voice_evolution(
        self, db_session: AsyncSession, seat: Seat, period: Period = "month"
    ) -> Envelope[list[VoicePeriod]]:
        return ok(await evolution.evolution(db_session, seat.workspace_id, period))

    @get(
        "/evolution/chart",
        summary="Your voice's evolution as a chart (SVG, or PNG with format=png)",
        responses=error_responses(ValidationFailed),
        operation_class=binary_operation(*evolution.CONTENT_TYPES.values()),
    )
    async def voice_evolution_chart(
        self,
        db_session: AsyncSession,
        seat: Seat,
        period: Period = "month",
        format: ChartFormat = "svg",
    ) -> Response[bytes]:
        periods = await evolution.evolution(db_session, seat.workspace_id, period)
        data = await evolution.render_async(periods, format)
        return Response(
            content=data, media_type=evolution.CONTENT_TYPES[format], headers={"Cache-Control": "no-store"}
        )

    @post(
        "/score",
        status_code=200,
        summary="How much a text sounds like you (0-100), with the features that differ",
        responses=error_responses(ValidationFailed),
    )
    async def score_voice(
        self, db_session: AsyncSession, seat: Seat, data: ScoreRequest
    ) -> Envelope[ScoreResult]:
        value, differences, _ = await drafting.score_text(db_session, seat.workspace_id, data.text)
        result = ScoreResult(score=value, differences=[FeatureDifference(**d.__dict__) for d in differences])
        if data.platform:
            result.length = networks.length(data.text, data.platform)
            result.limit = networks.LIMITS.get(data.platform)
            result.fits = networks.fits(data.text, data.platform)
        return ok(result)
