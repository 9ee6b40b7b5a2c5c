"""The bytes behind `segmint_media`: they leave storage when nothing needs them any more.

- Removing one medium, deleting a content, deleting a workspace and deleting an account (identity's
  `on_account_deletion` hook) collect the storage keys of the rows that go, and the objects are deleted
  only after the transaction commits: a request that fails leaves every row and every byte in place, and
  no committed row ever points at deleted bytes.
- An upload whose request then fails (rolled back) takes its object with it.
- A process that dies between the commit and the deletes leaves orphans: `sweep` (the hourly
  `segmint:sweep_media` job) lists the objects under `segmint/` that no row points to and that are older
  than an hour (younger ones may belong to an upload whose row is not committed yet), and deletes them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from sqlalchemy import event, or_, select

from keel.apps.segmint.models import Content
from keel.apps.segmint.network_models import Media

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from keel.core.storage import Storage

log = structlog.get_logger("keel.segmint.media")
PREFIX = "segmint/"
SWEEP_GRACE_SECONDS = 3600  # an upload's object exists before its row commits
_STATE = "segmint_media_discard"
_tasks: set[asyncio.Task[None]] = set()  # deletes in flight after a commit or rollback


def _state(db: AsyncSession, storage: Storage) -> dict[str, Any]:
    state = db.info.get(_STATE)
    if state is None:
        state = db.info[_STATE] = {"storage": storage, "commit": [], "rollback": []}
        sync = db.sync_session
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
    return state


def discard_after_commit(db: AsyncSession, storage: Storage, keys: Iterable[str]) -> None:
    """Delete these objects once `db` commits (nothing happens if it rolls back)."""
    keys = [k for k in keys if k]
    if keys:
        _state(db, storage)["commit"].extend(keys)


def discard_on_rollback(db: AsyncSession, storage: Storage, key: str) -> None:
    """An object just written for a row of this transaction: deleted if the transaction rolls back."""
    _state(db, storage)["rollback"].append(key)


def _run(storage: Storage, keys: list[str], reason: str) -> None:
    if not keys:
        return
    task = asyncio.get_running_loop().create_task(remove(storage, keys, reason))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _after_commit(session: Any) -> None:
    state = session.info.get(_STATE)
    if state is None:
        return
    keys, state["commit"], state["rollback"] = state["commit"], [], []
    _run(state["storage"], keys, "deleted")


def _after_rollback(session: Any) -> None:
    state = session.info.get(_STATE)
    if state is None:
        return
    keys, state["commit"], state["rollback"] = state["rollback"], [], []
    _run(state["storage"], keys, "rolled back")


async def remove(storage: Storage, keys: list[str], reason: str) -> None:
    """Delete each object; one that fails is logged and left to the sweep."""
    for key in keys:
        try:
            await storage.delete(key)
        except Exception:
            log.warning("segmint_media_delete_failed", key=key, reason=reason, exc_info=True)


async def settled() -> None:
    """Wait for the deletes that commits and rollbacks started on this event loop (shutdown)."""
    loop = asyncio.get_running_loop()
    while mine := [t for t in _tasks if t.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)


async def keys_of_content(db: AsyncSession, content_id: UUID) -> list[str]:
    return list((await db.scalars(select(Media.storage_key).where(Media.content_id == content_id))).all())


async def keys_of_workspace(db: AsyncSession, workspace_id: UUID) -> list[str]:
    return list((await db.scalars(select(Media.storage_key).where(Media.workspace_id == workspace_id))).all())


async def keys_of_user(db: AsyncSession, user_id: UUID) -> list[str]:
    """What the account's deletion cascades away: media the user uploaded and media on content the user
    owns (content goes with its owner)."""
    owned = select(Content.id).where(Content.owner_id == user_id)
    query = select(Media.storage_key).where(or_(Media.owner_id == user_id, Media.content_id.in_(owned)))
    return list((await db.scalars(query)).all())


def account_deletion_hook(storage: Storage) -> Any:
    """identity's `on_account_deletion` hook for this app's storage."""

    async def forget_user(db: AsyncSession, user_id: UUID) -> None:
        discard_after_commit(db, storage, await keys_of_user(db, user_id))

    forget_user.__qualname__ = "segmint.forget_user"
    return forget_user


async def orphans(
    sessions: async_sessionmaker[Any], storage: Storage, *, older_than: float = SWEEP_GRACE_SECONDS
) -> list[str]:
    """Objects under `segmint/` that no media row points to, last written more than `older_than` s ago."""
    cutoff = time.time() - older_than
    found: list[str] = []
    batch: list[str] = []

    async def check() -> None:
        async with sessions() as db:
            known = set(
                (await db.scalars(select(Media.storage_key).where(Media.storage_key.in_(batch)))).all()
            )
        found.extend(k for k in batch if k not in known)
        batch.clear()

    async for item in storage.listing(PREFIX):
        if item.modified <= cutoff:
            batch.append(item.key)
        if len(batch) >= 200:
            await check()
    if batch:
        await check()
    return found


async def sweep(
    sessions: async_sessionmaker[Any], storage: Storage, *, older_than: float = SWEEP_GRACE_SECONDS
) -> list[str]:
    """Delete the orphans (logged one by one) and return their keys."""
    keys = await orphans(sessions, storage, older_than=older_than)
    for key in keys:
        log.info("segmint_media_orphan_deleted", key=key)
    await remove(storage, keys, "orphan")
    return keys
