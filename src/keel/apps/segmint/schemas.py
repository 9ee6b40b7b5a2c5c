"""segmint request and response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from keel.core.examples import example

Tone = Literal[
    "friendly", "professional", "witty", "casual", "formal", "inspirational", "informative", "playful"
]
Platform = Literal[
    "twitter", "linkedin", "instagram", "facebook", "mastodon", "bluesky", "blog", "newsletter", "tiktok"
]
ContentStatus = Literal["draft", "in_review", "approved", "scheduled", "published", "rejected"]
Provider = Literal["webhook", "mastodon", "x", "linkedin", "bluesky"]  # x/linkedin/bluesky: /connections

Title = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(min_length=1, max_length=20_000)]
Tag = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$", description="lower-case, digits, - and _")]
Tags = Annotated[list[Tag], Meta(max_length=20)]
Platforms = Annotated[list[Platform], Meta(max_length=len(Platform.__args__))]  # type: ignore[attr-defined]
Comment = Annotated[str, Meta(max_length=2000)]
Name = Annotated[str, Meta(min_length=1, max_length=100)]
Email = Annotated[str, Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
HttpUrl = Annotated[str, Meta(min_length=8, max_length=500, pattern=r"^https?://[^\s/?#]+[^\s]*$")]


# --------------------------------------------------------------------------- content


@example(
    {
        "text": "Our sourdough starter turned five today. Here is what five years of feeding it taught us.",
        "tone": "friendly",
        "title": "Five years of sourdough",
        "platforms": ["mastodon", "linkedin"],
        "tags": ["sourdough", "bakery"],
    }
)
class ContentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Text
    tone: Tone
    title: Title | None = None  # None: the first words of the text
    platforms: Platforms = []
    tags: Tags = []


class ContentUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Every field optional; a change of title, text or tone makes a new version."""

    text: Text | msgspec.UnsetType = msgspec.UNSET
    tone: Tone | msgspec.UnsetType = msgspec.UNSET
    title: Title | msgspec.UnsetType = msgspec.UNSET
    platforms: Platforms | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET


class ContentRead(msgspec.Struct, kw_only=True):
    id: UUID
    title: str
    text: str
    tone: str
    status: ContentStatus
    platforms: list[str]
    tags: list[str]
    version: int
    workflow_id: UUID | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    owner_id: UUID


class VersionRead(msgspec.Struct, kw_only=True):
    number: int
    title: str
    text: str
    tone: str
    author_id: UUID | None
    created_at: datetime


class EventRead(msgspec.Struct, kw_only=True):
    action: str
    from_status: str | None
    to_status: str | None
    actor_id: UUID | None
    actor_email: str | None
    review_round: int
    comment: str | None
    created_at: datetime


class SubmitBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    workflow_id: UUID
    comment: Comment | None = None


class CommentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    comment: Comment | None = None


# --------------------------------------------------------------------------- workflows


class WorkflowCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    approver_emails: Annotated[list[Email], Meta(min_length=1, max_length=20)]
    required_approvals: Annotated[int, Meta(ge=1, le=20)] = 1


class WorkflowUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    approver_emails: Annotated[list[Email], Meta(min_length=1, max_length=20)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    required_approvals: Annotated[int, Meta(ge=1, le=20)] | msgspec.UnsetType = msgspec.UNSET


class ApproverRead(msgspec.Struct, kw_only=True):
    user_id: UUID
    email: str


class WorkflowRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    required_approvals: int
    approvers: list[ApproverRead]
    created_at: datetime


class DecisionBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    decision: Literal["approve", "reject"]
    comment: Comment | None = None


class ReviewRead(msgspec.Struct, kw_only=True):
    """What an approver sees: the content (read-only), its workflow and the decisions so far."""

    content: ContentRead
    workflow_id: UUID
    workflow_name: str
    required_approvals: int
    approvals: int
    review_round: int
    my_decision: str | None


# --------------------------------------------------------------------------- integrations


class IntegrationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    provider: Provider
    url: HttpUrl  # webhook: the URL to POST to; mastodon: the instance, e.g. https://mastodon.social
    # webhook signing secret (omitted: a `whsec_` secret is generated and returned once) / Mastodon token
    secret: Annotated[str, Meta(min_length=8, max_length=500)] | None = None


class IntegrationUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    url: HttpUrl | msgspec.UnsetType = msgspec.UNSET
    secret: Annotated[str, Meta(min_length=8, max_length=500)] | msgspec.UnsetType = msgspec.UNSET


class IntegrationRead(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    provider: Provider
    url: str
    secret_hint: str  # the credential itself is never returned
    created_at: datetime
    account: str | None = None  # the connected account (@handle, name), for OAuth/app-password integrations
    signing_secret: str | None = None  # only in the answer that generated it (a webhook without a secret)


class IntegrationCheck(msgspec.Struct, kw_only=True):
    ok: bool
    detail: str  # who we are signed in as, or why it failed


# --------------------------------------------------------------------------- scheduling


class ScheduleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    publish_at: datetime  # with a time zone; must be in the future
    integration_ids: Annotated[list[UUID], Meta(min_length=1, max_length=20)]
    thread: bool = False  # text over a network's limit becomes a reply chain (X, Mastodon, Bluesky)


class DeliveryPart(msgspec.Struct, kw_only=True):
    id: str
    url: str | None = None
    status: int | None = None


class DeliveryRead(msgspec.Struct, kw_only=True):
    integration_id: UUID | None
    integration_name: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    external_id: str | None
    external_url: str | None
    error: str | None
    delivered_at: datetime | None
    # what the network answered: HTTP status, its error code, each post of a thread; when it may be retried
    response_status: int | None = None
    error_code: str | None = None
    parts: list[DeliveryPart] = []
    retry_at: datetime | None = None


class ScheduleRead(msgspec.Struct, kw_only=True):
    id: UUID
    content_id: UUID
    publish_at: datetime
    status: Literal["scheduled", "publishing", "published", "partial", "failed", "cancelled"]
    attempts: int
    finished_at: datetime | None
    deliveries: list[DeliveryRead]
    thread: bool = False
    created_at: datetime


# --------------------------------------------------------------------------- ideas and voice


class IdeaRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tone: Tone | None = None  # None: your own usual tone (what you write and publish most), else friendly
    count: Annotated[int, Meta(ge=1, le=10)] = 3
    topic: Annotated[str, Meta(min_length=1, max_length=200)] | None = None  # steer towards a subject


class IdeaRead(msgspec.Struct, kw_only=True):
    id: UUID
    title: str
    text: str
    tone: str
    topics: list[str]
    engine: str
    status: Literal["new", "accepted", "dismissed"]
    content_id: UUID | None
    created_at: datetime


class TermCount(msgspec.Struct, kw_only=True):
    term: str
    count: int


class VoiceStats(msgspec.Struct, kw_only=True):
    pieces: int
    words: int
    tone_mix: dict[str, float]  # tone -> share of pieces (0..1)
    average_sentence_length: float  # words per sentence
    vocabulary_richness: float  # distinct words / words (0..1)
    top_terms: list[TermCount]


class VoiceMonth(VoiceStats, kw_only=True):
    month: str  # YYYY-MM


class VoiceStyle(msgspec.Struct, kw_only=True):
    """The voice as a person would describe it (keel.apps.segmint.style)."""

    words_per_post: float
    sentence_length: float  # words per sentence
    vocabulary_richness: float  # mean distinct/total words per piece (0..1)
    formality: float  # 0 casual .. 1 formal
    emoji_per_post: float
    hashtags_per_post: float
    question_share: float  # share of sentences that are questions
    exclamation_share: float
    point_of_view: str  # "i", "we", "you", "mixed" or "neutral"
    recurring_phrases: list[str]
    topics: list[str]
    hashtags: list[str]
    emojis: list[str]
    sign_offs: list[str]
    card: str  # the style card given to the writer


class VoiceProfile(VoiceStats, kw_only=True):
    dominant_tone: str | None
    months: list[VoiceMonth]
    style: VoiceStyle | None = None


class VoicePeriod(msgspec.Struct, kw_only=True):
    period: str  # YYYY-MM or YYYY-Qn
    pieces: int
    sentence_length: float
    formality: float
    question_share: float
    emoji_per_post: float
    hashtags_per_post: float
    vocabulary_richness: float
    point_of_view: str
    topics: list[str]
    distance: float | None  # from the period before: 0 the same voice .. 1 nothing alike; None for the first
    changes: list[str]  # what changed, e.g. "sentences got shorter", "new topic: sourdough"


# --------------------------------------------------------------------------- writing

Brief = Annotated[str, Meta(min_length=3, max_length=2000)]
LengthChoice = Literal["short", "medium", "long"]
RewriteOperation = Literal["shorter", "longer", "tone", "platform", "fix_grammar"]


@example(
    {
        "brief": "Announce our new rye loaf, out on Saturday",
        "platforms": ["twitter", "mastodon"],
        "tone": "friendly",
        "length": "short",
    }
)
class GenerateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    brief: Brief  # what the post is about
    platforms: Annotated[list[Platform], Meta(min_length=1, max_length=9)]  # one draft per platform
    tone: Tone | None = None  # None: your usual tone
    length: LengthChoice = "medium"
    source_text: Annotated[str, Meta(max_length=20_000)] | None = None  # an article or notes pasted in


class GeneratedDraft(msgspec.Struct, kw_only=True):
    platform: str
    length: int  # as the network counts it
    limit: int | None  # the network's limit (None: none)
    score: int  # 0-100, how much it sounds like you
    content: ContentRead  # the stored draft (version 1)


class GenerateResult(msgspec.Struct, kw_only=True):
    engine: str  # "local" or the language model's name
    drafts: list[GeneratedDraft]


class RewriteRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    operation: RewriteOperation
    tone: Tone | None = None  # for operation "tone"
    platform: Platform | None = None  # for operation "platform"


class RewriteResult(msgspec.Struct, kw_only=True):
    engine: str
    score: int
    content: ContentRead  # the draft with the rewrite as its new version


class ScoreRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    text: Text
    platform: Platform | None = None


class FeatureDifference(msgspec.Struct, kw_only=True):
    feature: str
    yours: float | str
    text: float | str
    note: str


class ScoreResult(msgspec.Struct, kw_only=True):
    score: int  # 0-100
    differences: list[FeatureDifference]  # the features that differ most, worst first
    length: int | None = None  # with a platform: the length as that network counts it
    limit: int | None = None
    fits: bool | None = None
