"""segmint routes under /api/v1/segmint: content, workflow, integration, schedules, ideas, voice."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from keel.apps.segmint import evolution, networks, publishing, services, style, tasks, voice, writer
from keel.apps.segmint import ideas as ideas_service
from keel.apps.segmint.schemas import (
    CommentBody,
    ContentCreate,
    ContentRead,
    ContentStatus,
    ContentUpdate,
    DecisionBody,
    EventRead,
    FeatureDifference,
    GeneratedDraft,
    GenerateRequest,
    GenerateResult,
    IdeaRead,
    IdeaRequest,
    IntegrationCheck,
    IntegrationCreate,
    IntegrationRead,
    IntegrationUpdate,
    ReviewRead,
    RewriteRequest,
    RewriteResult,
    ScheduleCreate,
    ScheduleRead,
    ScoreRequest,
    ScoreResult,
    SubmitBody,
    Tone,
    VersionRead,
    VoicePeriod,
    VoiceProfile,
    VoiceStyle,
    WorkflowCreate,
    WorkflowRead,
    WorkflowUpdate,
)
from keel.core.envelope import Envelope, Page, ok, page
from keel.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    error_responses,
)
from keel.core.llm import LanguageModel, ModelBadOutput, ModelUnavailable, TokenQuotaExceeded
from keel.core.storage import binary_operation
from keel.identity.guards import Principal

SECURITY = [{"BearerToken": []}]
Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size (1-100)")]
Offset = Annotated[int, Parameter(ge=0, description="Items to skip")]
READ_ERRORS = error_responses(NotFound)
WRITE_ERRORS = error_responses(NotFound, Forbidden, Conflict, ValidationFailed)
CONTENT = {"tags": ["segmint"], "security": SECURITY}


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


# --------------------------------------------------------------------------- content


@post(
    "/content",
    status_code=201,
    summary="Create content (a draft, version 1)",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def create_content(
    db_session: AsyncSession, principal: Principal, data: ContentCreate
) -> Envelope[ContentRead]:
    return ok(services.content_read(await services.create_content(db_session, principal.user_id, data)))


@get(
    "/content",
    summary="Your content, paginated",
    description="Search `q` in title and text; filter by status, tone, tag; sort by created_at, updated_at, "
    "title, status, tone, published_at (prefix - for descending; default -created_at).",
    responses=error_responses(ValidationFailed),
    **CONTENT,
)
async def list_content(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    q: Annotated[str | None, Parameter(max_length=100)] = None,
    status: ContentStatus | None = None,
    tone: Tone | None = None,
    tag: Annotated[str | None, Parameter(max_length=50)] = None,
    sort: Annotated[str, Parameter(max_length=100)] = "-created_at",
) -> Page[ContentRead]:
    rows, total = await services.list_content(
        db_session,
        principal.user_id,
        limit=limit,
        offset=offset,
        q=q,
        status=status,
        tone=tone,
        tag=tag,
        sort=sort,
    )
    return page([services.content_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get(
    "/content/{content_id:uuid}",
    summary="One content (owner, or an approver of its workflow)",
    responses=READ_ERRORS,
    **CONTENT,
)
async def get_content(
    db_session: AsyncSession, principal: Principal, content_id: UUID
) -> Envelope[ContentRead]:
    return ok(
        services.content_read(
            await services.get_content(db_session, principal.user_id, content_id, write=False)
        )
    )


@patch(
    "/content/{content_id:uuid}",
    summary="Change content (drafts; rejected content becomes a draft again). Text changes make a version",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def update_content(
    db_session: AsyncSession, principal: Principal, content_id: UUID, data: ContentUpdate
) -> Envelope[ContentRead]:
    return ok(
        services.content_read(await services.update_content(db_session, principal.user_id, content_id, data))
    )


@delete(
    "/content/{content_id:uuid}", status_code=204, summary="Delete content", responses=WRITE_ERRORS, **CONTENT
)
async def delete_content(db_session: AsyncSession, principal: Principal, content_id: UUID) -> None:
    await services.delete_content(db_session, principal.user_id, content_id)


@get(
    "/content/{content_id:uuid}/versions", summary="Versions, newest first", responses=WRITE_ERRORS, **CONTENT
)
async def list_versions(
    db_session: AsyncSession, principal: Principal, content_id: UUID, limit: Limit = 20, offset: Offset = 0
) -> Page[VersionRead]:
    rows, total = await services.list_versions(
        db_session, principal.user_id, content_id, limit=limit, offset=offset
    )
    return page([services.version_read(r) for r in rows], total=total, limit=limit, offset=offset)


@post(
    "/content/{content_id:uuid}/versions/{number:int}/restore",
    status_code=200,
    summary="Restore an older version (as a new version)",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def restore_version(
    db_session: AsyncSession, principal: Principal, content_id: UUID, number: int
) -> Envelope[ContentRead]:
    return ok(
        services.content_read(
            await services.restore_version(db_session, principal.user_id, content_id, number)
        )
    )


@get(
    "/content/{content_id:uuid}/history",
    summary="Audit trail: every status change and review decision",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def content_history(
    db_session: AsyncSession, principal: Principal, content_id: UUID, limit: Limit = 20, offset: Offset = 0
) -> Page[EventRead]:
    rows, total = await services.history(
        db_session, principal.user_id, content_id, limit=limit, offset=offset
    )
    return page(rows, total=total, limit=limit, offset=offset)


@post(
    "/content/{content_id:uuid}/submit",
    status_code=200,
    summary="Submit a draft for approval with one of your workflows (draft → in_review)",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def submit_content(
    db_session: AsyncSession, principal: Principal, content_id: UUID, data: SubmitBody
) -> Envelope[ContentRead]:
    row = await services.submit(db_session, principal.user_id, content_id, data.workflow_id, data.comment)
    return ok(services.content_read(row))


@post(
    "/content/{content_id:uuid}/reopen",
    status_code=200,
    summary="Back to draft (withdraw from review, un-approve, or after a rejection)",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def reopen_content(
    db_session: AsyncSession, principal: Principal, content_id: UUID, data: CommentBody | None = None
) -> Envelope[ContentRead]:
    row = await services.reopen(db_session, principal.user_id, content_id, data.comment if data else None)
    return ok(services.content_read(row))


# --------------------------------------------------------------------------- scheduling


def _after_commit(request: Request[Any, Any, Any], action: str, schedule: Any) -> None:
    request.state.segmint_job = (action, schedule.id, schedule.publish_at, schedule.job_id)


async def _jobs_after_commit(request: Request[Any, Any, Any]) -> None:
    """after_response: defer (or cancel) the job once the schedule is committed, so the worker always finds
    it. If deferring fails the schedule keeps no job id and the start-up re-queue picks it up."""
    pending = getattr(request.state, "segmint_job", None)
    if pending is None:
        return
    action, schedule_id, publish_at, job_id = pending
    try:
        if action == "defer":
            await tasks.enqueue(schedule_id, publish_at)
        else:
            await tasks.cancel_job(job_id)
    except Exception:
        services.log.warning(
            "segmint_job_after_commit_failed", action=action, schedule_id=str(schedule_id), exc_info=True
        )


@post(
    "/content/{content_id:uuid}/schedules",
    status_code=201,
    summary="Schedule approved content to some of your integrations (approved → scheduled)",
    responses=WRITE_ERRORS,
    after_response=_jobs_after_commit,
    **CONTENT,
)
async def create_schedule(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    content_id: UUID,
    data: ScheduleCreate,
) -> Envelope[ScheduleRead]:
    row = await publishing.create_schedule(db_session, principal.user_id, content_id, data)
    _after_commit(request, "defer", row)
    return ok(publishing.schedule_read(row))


@get(
    "/schedules",
    summary="Your schedules with their delivery results, latest first",
    responses=error_responses(NotFound),
    **CONTENT,
)
async def list_schedules(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    content_id: UUID | None = None,
    status: Annotated[
        str | None, Parameter(pattern="^(scheduled|publishing|published|partial|failed|cancelled)$")
    ] = None,
) -> Page[ScheduleRead]:
    rows, total = await publishing.list_schedules(
        db_session, principal.user_id, content_id=content_id, status=status, limit=limit, offset=offset
    )
    return page([publishing.schedule_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get(
    "/schedules/{schedule_id:uuid}",
    summary="One schedule and its deliveries",
    responses=READ_ERRORS,
    **CONTENT,
)
async def get_schedule(
    db_session: AsyncSession, principal: Principal, schedule_id: UUID
) -> Envelope[ScheduleRead]:
    return ok(
        publishing.schedule_read(await publishing.get_schedule(db_session, principal.user_id, schedule_id))
    )


@post(
    "/schedules/{schedule_id:uuid}/cancel",
    status_code=200,
    summary="Cancel a schedule that has not started (scheduled → approved)",
    responses=WRITE_ERRORS,
    after_response=_jobs_after_commit,
    **CONTENT,
)
async def cancel_schedule(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, schedule_id: UUID
) -> Envelope[ScheduleRead]:
    row = await publishing.cancel_schedule(db_session, principal.user_id, schedule_id)
    _after_commit(request, "cancel", row)
    return ok(publishing.schedule_read(row))


# --------------------------------------------------------------------------- workflow


@post("/workflow", status_code=201, summary="Define an approval workflow", responses=WRITE_ERRORS, **CONTENT)
async def create_workflow(
    db_session: AsyncSession, principal: Principal, data: WorkflowCreate
) -> Envelope[WorkflowRead]:
    row = await services.create_workflow(db_session, principal.user_id, data)
    return ok(services.workflow_read(await services.get_workflow(db_session, principal.user_id, row.id)))


@get("/workflow", summary="Your workflows", **CONTENT)
async def list_workflows(
    db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
) -> Page[WorkflowRead]:
    rows, total = await services.list_workflows(db_session, principal.user_id, limit=limit, offset=offset)
    return page([services.workflow_read(r) for r in rows], total=total, limit=limit, offset=offset)


@get("/workflow/{workflow_id:uuid}", summary="One of your workflows", responses=READ_ERRORS, **CONTENT)
async def get_workflow(
    db_session: AsyncSession, principal: Principal, workflow_id: UUID
) -> Envelope[WorkflowRead]:
    return ok(services.workflow_read(await services.get_workflow(db_session, principal.user_id, workflow_id)))


@patch(
    "/workflow/{workflow_id:uuid}",
    summary="Rename a workflow, or change its approvers / approvals needed (not while content is in review)",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def update_workflow(
    db_session: AsyncSession, principal: Principal, workflow_id: UUID, data: WorkflowUpdate
) -> Envelope[WorkflowRead]:
    await services.update_workflow(db_session, principal.user_id, workflow_id, data)
    return ok(services.workflow_read(await services.get_workflow(db_session, principal.user_id, workflow_id)))


@delete(
    "/workflow/{workflow_id:uuid}",
    status_code=204,
    summary="Delete a workflow",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def delete_workflow(db_session: AsyncSession, principal: Principal, workflow_id: UUID) -> None:
    await services.delete_workflow(db_session, principal.user_id, workflow_id)


@get("/workflow/reviews", summary="Content awaiting your decision as an approver", **CONTENT)
async def pending_reviews(
    db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
) -> Page[ReviewRead]:
    rows, total = await services.pending_reviews(db_session, principal.user_id, limit=limit, offset=offset)
    return page(rows, total=total, limit=limit, offset=offset)


@get(
    "/workflow/reviews/{content_id:uuid}",
    summary="Content you review (read-only) with the approvals so far",
    responses=READ_ERRORS,
    **CONTENT,
)
async def get_review(
    db_session: AsyncSession, principal: Principal, content_id: UUID
) -> Envelope[ReviewRead]:
    return ok(await services.get_review(db_session, principal.user_id, content_id))


@post(
    "/workflow/reviews/{content_id:uuid}/decision",
    status_code=200,
    summary="Approve or reject (with a comment) content you review",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def decide(
    db_session: AsyncSession, principal: Principal, content_id: UUID, data: DecisionBody
) -> Envelope[ReviewRead]:
    return ok(
        await services.decide(
            db_session, principal.user_id, principal.email, content_id, data.decision, data.comment
        )
    )


# --------------------------------------------------------------------------- integrations


@post(
    "/integration", status_code=201, summary="Connect a publishing target", responses=WRITE_ERRORS, **CONTENT
)
async def create_integration(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, data: IntegrationCreate
) -> Envelope[IntegrationRead]:
    row, generated = await publishing.create_integration(
        db_session, _settings(request), principal.user_id, data
    )
    return ok(publishing.integration_read(row, signing_secret=generated))


@get("/integration", summary="Your integrations (credentials masked)", **CONTENT)
async def list_integrations(
    db_session: AsyncSession, principal: Principal, limit: Limit = 20, offset: Offset = 0
) -> Page[IntegrationRead]:
    rows, total = await publishing.list_integrations(
        db_session, principal.user_id, limit=limit, offset=offset
    )
    links = await publishing.connections_of(db_session, rows)
    items = [publishing.integration_read(r, links.get(r.id)) for r in rows]
    return page(items, total=total, limit=limit, offset=offset)


@get("/integration/{integration_id:uuid}", summary="One integration", responses=READ_ERRORS, **CONTENT)
async def get_integration(
    db_session: AsyncSession, principal: Principal, integration_id: UUID
) -> Envelope[IntegrationRead]:
    return ok(
        publishing.integration_read(
            await publishing.get_integration(db_session, principal.user_id, integration_id)
        )
    )


@patch(
    "/integration/{integration_id:uuid}",
    summary="Rename, move or re-key an integration",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def update_integration(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    principal: Principal,
    integration_id: UUID,
    data: IntegrationUpdate,
) -> Envelope[IntegrationRead]:
    row = await publishing.update_integration(
        db_session, _settings(request), principal.user_id, integration_id, data
    )
    return ok(publishing.integration_read(row))


@delete(
    "/integration/{integration_id:uuid}",
    status_code=204,
    summary="Disconnect an integration",
    responses=WRITE_ERRORS,
    **CONTENT,
)
async def delete_integration(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, integration_id: UUID
) -> None:
    await publishing.delete_integration(db_session, _settings(request), principal.user_id, integration_id)


@post(
    "/integration/{integration_id:uuid}/test",
    status_code=200,
    summary="Check an integration without publishing (signed ping / Mastodon verify_credentials)",
    responses=READ_ERRORS,
    opt={"rate_limit": "10/minute"},
    **CONTENT,
)
async def verify_integration(
    request: Request[Any, Any, Any], db_session: AsyncSession, principal: Principal, integration_id: UUID
) -> Envelope[IntegrationCheck]:
    settings = _settings(request)
    return ok(await publishing.check_integration(db_session, settings, principal.user_id, integration_id))


# --------------------------------------------------------------------------- ideas and voice


@post(
    "/ideas",
    status_code=201,
    opt={"rate_limit": "30/minute"},  # a remote engine costs money per call
    summary="Suggest ideas from your own content, phrased in a tone",
    responses=error_responses(ValidationFailed, ModelUnavailable, ModelBadOutput),
    **CONTENT,
)
async def suggest_ideas(
    db_session: AsyncSession, principal: Principal, data: IdeaRequest, llm: LanguageModel | None
) -> Envelope[list[IdeaRead]]:
    rows = await ideas_service.suggest(db_session, llm, principal.user_id, data)
    return ok([ideas_service.idea_read(r) for r in rows])


@get("/ideas", summary="Your ideas, newest first", **CONTENT)
async def list_ideas(
    db_session: AsyncSession,
    principal: Principal,
    limit: Limit = 20,
    offset: Offset = 0,
    status: Annotated[str | None, Parameter(pattern="^(new|accepted|dismissed)$")] = None,
) -> Page[IdeaRead]:
    rows, total = await ideas_service.list_ideas(
        db_session, principal.user_id, status=status, limit=limit, offset=offset
    )
    return page([ideas_service.idea_read(r) for r in rows], total=total, limit=limit, offset=offset)


@post(
    "/ideas/{idea_id:uuid}/accept",
    status_code=201,
    summary="Turn an idea into a draft",
    responses=error_responses(NotFound, Conflict),
    **CONTENT,
)
async def accept_idea(db_session: AsyncSession, principal: Principal, idea_id: UUID) -> Envelope[ContentRead]:
    return ok(services.content_read(await ideas_service.accept(db_session, principal.user_id, idea_id)))


@post(
    "/ideas/{idea_id:uuid}/dismiss",
    status_code=200,
    summary="Dismiss an idea",
    responses=error_responses(NotFound, Conflict),
    **CONTENT,
)
async def dismiss_idea(db_session: AsyncSession, principal: Principal, idea_id: UUID) -> Envelope[IdeaRead]:
    return ok(ideas_service.idea_read(await ideas_service.dismiss(db_session, principal.user_id, idea_id)))


@get(
    "/voice",
    summary="Your voice profile: tone mix, sentence length, vocabulary, top terms, by month",
    **CONTENT,
)
async def get_voice(db_session: AsyncSession, principal: Principal) -> Envelope[VoiceProfile]:
    profile = await voice.profile(db_session, principal.user_id)
    features = style.features(await writer.material_of(db_session, principal.user_id))
    fields = {k: v for k, v in features.__dict__.items() if k != "pieces"}
    described = VoiceStyle(**fields, card=style.style_card(features))
    return ok(msgspec.structs.replace(profile, style=described))


Period = Literal["month", "quarter"]
ChartFormat = Literal["svg", "png"]


@get(
    "/voice/evolution",
    summary="Your voice per month or quarter: features, distance from the period before, what changed",
    responses=error_responses(ValidationFailed),
    **CONTENT,
)
async def voice_evolution(
    db_session: AsyncSession, principal: Principal, period: Period = "month"
) -> Envelope[list[VoicePeriod]]:
    return ok(await evolution.evolution(db_session, principal.user_id, period))


@get(
    "/voice/evolution/chart",
    summary="Your voice's evolution as a chart (SVG, or PNG with format=png)",
    responses=error_responses(ValidationFailed),
    operation_class=binary_operation(*evolution.CONTENT_TYPES.values()),
    **CONTENT,
)
async def voice_evolution_chart(
    db_session: AsyncSession, principal: Principal, period: Period = "month", format: ChartFormat = "svg"
) -> Response[bytes]:
    periods = await evolution.evolution(db_session, principal.user_id, period)
    data = await evolution.render_async(periods, format)
    return Response(
        content=data, media_type=evolution.CONTENT_TYPES[format], headers={"Cache-Control": "no-store"}
    )


@post(
    "/voice/score",
    status_code=200,
    summary="How much a text sounds like you (0-100), with the features that differ",
    responses=error_responses(ValidationFailed),
    **CONTENT,
)
async def score_voice(
    db_session: AsyncSession, principal: Principal, data: ScoreRequest
) -> Envelope[ScoreResult]:
    value, differences, _ = await writer.score_text(db_session, principal.user_id, data.text)
    result = ScoreResult(score=value, differences=[FeatureDifference(**d.__dict__) for d in differences])
    if data.platform:
        result.length = networks.length(data.text, data.platform)
        result.limit = networks.LIMITS.get(data.platform)
        result.fits = networks.fits(data.text, data.platform)
    return ok(result)


# --------------------------------------------------------------------------- writing

WRITING_ERRORS = error_responses(ValidationFailed, TokenQuotaExceeded, ModelBadOutput, ModelUnavailable)


def _draft(row: Any, variant: writer.Variant, score: int) -> GeneratedDraft:
    return GeneratedDraft(
        platform=variant.platform,
        length=networks.length(variant.text, variant.platform),
        limit=networks.LIMITS.get(variant.platform),
        score=score,
        content=services.content_read(row),
    )


@post(
    "/content/generate",
    status_code=201,
    opt={"rate_limit": "30/minute"},  # a model costs money per call
    summary="Write drafts in your voice, one per platform, within each network's limit",
    description="Uses the language model when AI_BASE_URL is set, else the local engine (extractive and "
    "template composition from your own content); `engine` says which. Each draft is content version 1.",
    responses=WRITING_ERRORS,
    **CONTENT,
)
async def generate_content(
    db_session: AsyncSession, principal: Principal, data: GenerateRequest, llm: LanguageModel | None
) -> Envelope[GenerateResult]:
    result = await writer.generate(db_session, llm, principal.user_id, data)
    return ok(GenerateResult(engine=result.engine, drafts=[_draft(*d) for d in result.drafts]))


@post(
    "/content/{content_id:uuid}/rewrite",
    status_code=200,
    opt={"rate_limit": "30/minute"},
    summary="Rewrite a draft: shorter, longer, another tone, another platform, fix grammar (a new version)",
    responses={**WRITING_ERRORS, **WRITE_ERRORS},
    **CONTENT,
)
async def rewrite_content(
    db_session: AsyncSession,
    principal: Principal,
    content_id: UUID,
    data: RewriteRequest,
    llm: LanguageModel | None,
) -> Envelope[RewriteResult]:
    row, engine, score = await writer.rewrite(db_session, llm, principal.user_id, content_id, data)
    return ok(RewriteResult(engine=engine, score=score, content=services.content_read(row)))


route_handlers = [
    generate_content,
    rewrite_content,
    score_voice,
    voice_evolution,
    voice_evolution_chart,
    create_content,
    list_content,
    get_content,
    update_content,
    delete_content,
    list_versions,
    restore_version,
    content_history,
    submit_content,
    reopen_content,
    create_schedule,
    list_schedules,
    get_schedule,
    cancel_schedule,
    create_workflow,
    list_workflows,
    get_workflow,
    update_workflow,
    delete_workflow,
    pending_reviews,
    get_review,
    decide,
    create_integration,
    list_integrations,
    get_integration,
    update_integration,
    delete_integration,
    verify_integration,
    suggest_ideas,
    list_ideas,
    accept_idea,
    dismiss_idea,
    get_voice,
]
