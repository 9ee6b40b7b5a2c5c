"""The resource toolkit: declare a model once, get typed list/get/create/update/delete routes.

    plans = Resource(
        model=WorkoutPlan, path="/workout-plans", tag="gym",
        read=PlanRead, create=PlanCreate, update=PlanUpdate,
        owner_field="owner_id",                       # rows belong to the caller (None: not owner-scoped)
        public_filter=WorkoutPlan.owner_id.is_(None),  # rows everyone may read (predefined plans)
        search_fields=("name",), sort_fields=("name", "created_at"), default_sort="-created_at",
        filter_fields={"kind": str},
        permissions={"update": "gym.plans.manage", "delete": "gym.plans.manage"},
        load=(selectinload(WorkoutPlan.days),),
        hooks=ResourceHooks(before_create=..., to_read=...),
    )
    spec = AppSpec(..., route_handlers=[*plans.handlers()])    # or plans.controller() / plans.router()

Routes (all need the caller: the app-wide `principal` dependency, else 401):

    GET    {path}            Page[Read]      ?limit=1..100 (20) &offset &sort=name,-created_at &q= &<filter>=
    POST   {path}            Envelope[Read]  201; sets owner_field to the caller
    GET    {path}/{item_id}  Envelope[Read]
    PUT    {path}/{item_id}  Envelope[Read]  the update struct, every field applied
    PATCH  {path}/{item_id}  Envelope[Read]  the same fields, each optional (msgspec.UNSET = unchanged)
    DELETE {path}/{item_id}  204

Visibility and permissions. With `owner_field`, a caller sees their own rows, rows matching `public_filter`,
and every row when they hold `permissions["read"]`; anything else answers 404 (never 403). Writes to a visible
row the caller does not own (a public row) need `permissions["update"|"delete"]` (403 without; not listed =
nobody). `permissions["create"]`, when set, is needed to create at all. Without `owner_field` every row is
visible and each action needs `permissions[action]` when one is named. Unique violations answer 409.
"""

from __future__ import annotations

from keel.core.resources.base import (
    ACTIONS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SECURITY,
    PrincipalLike,
    ResourceContext,
    ResourceHooks,
    partial_struct,
    struct_values,
)
from keel.core.resources.resource import Resource

__all__ = [
    "ACTIONS",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SECURITY",
    "PrincipalLike",
    "Resource",
    "ResourceContext",
    "ResourceHooks",
    "partial_struct",
    "struct_values",
]
