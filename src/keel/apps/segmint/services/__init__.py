"""segmint content and approval workflows: owner-scoped queries, the status machine, versions, audit trail.

Nothing here commits: the request's transaction does (tasks use their own sessions). The modules:
`states` (the status machine and audit trail), `content`, `workflows`, `reviews` (submit and decide).
"""

from __future__ import annotations

from keel.apps.segmint.services.content import (
    content_read,
    create_content,
    default_title,
    delete_content,
    draft_read,
    get_content,
    history,
    insert_draft,
    list_versions,
    reopen,
    restore_version,
    reviewer_of,
    update_content,
    version_read,
)
from keel.apps.segmint.services.content_list import SORTABLE, list_content
from keel.apps.segmint.services.reviews import decide, get_review, pending_reviews, submit
from keel.apps.segmint.services.states import EDITABLE, TRANSITIONS, log, move, record
from keel.apps.segmint.services.workflows import (
    create_workflow,
    delete_workflow,
    get_workflow,
    list_workflows,
    update_workflow,
    workflow_read,
)

__all__ = [
    "EDITABLE",
    "SORTABLE",
    "TRANSITIONS",
    "content_read",
    "create_content",
    "create_workflow",
    "decide",
    "default_title",
    "delete_content",
    "delete_workflow",
    "draft_read",
    "get_content",
    "get_review",
    "get_workflow",
    "history",
    "insert_draft",
    "list_content",
    "list_versions",
    "list_workflows",
    "log",
    "move",
    "pending_reviews",
    "record",
    "reopen",
    "restore_version",
    "reviewer_of",
    "submit",
    "update_content",
    "update_workflow",
    "version_read",
    "workflow_read",
]
