"""A medium's bytes leave storage when nothing needs them: removing the medium, deleting its content, its
workspace or its owner's account; only after the commit (a refused request deletes nothing), never for
someone else (404); the hourly sweep deletes objects no row points to."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from keel.apps.segmint import media_store
from keel.core.storage import Storage
from segmint.helpers import API, create_content
from segmint.test_segmint_media import attach, png


def _root(settings: Any) -> Path:
    return Path(urlsplit(settings.storage_url).path)


async def _files(settings: Any, *gone: str) -> set[str]:
    """What is in the segmint part of the real local storage, once the `gone` keys are deleted (the app
    deletes after its commit, on the server's loop: waited for, at most 10 s)."""
    base, deadline = _root(settings) / "segmint", time.monotonic() + 10
    while True:
        files = {str(p.relative_to(_root(settings))) for p in base.rglob("*") if p.is_file()}
        if not files & set(gone) or time.monotonic() > deadline:
            return files
        await asyncio.sleep(0.02)


async def _key(settings: Any, before: set[str]) -> str:
    new = await _files(settings) - before
    assert len(new) == 1, new
    return new.pop()


async def _with_image(client: Any, headers: dict[str, str], settings: Any, seed: int) -> tuple[str, str, str]:
    """A draft with one image: (content id, media id, the image's storage key)."""
    before = await _files(settings)
    cid = (await create_content(client, headers, text=f"Loaf number {seed}."))["id"]
    added = await attach(client, headers, cid, png(seed))
    assert added.status_code == 201, added.text
    return cid, added.json()["data"]["id"], await _key(settings, before)


async def test_media_bytes_leave_storage_with_the_medium_its_content_and_its_workspace(
    client: Any, user_factory: Any, settings: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    cid, first, first_key = await _with_image(client, owner.headers, settings, 1)
    before = await _files(settings)
    second = await attach(client, owner.headers, cid, png(2))
    second_key = await _key(settings, before)
    other_cid, _, other_key = await _with_image(client, owner.headers, settings, 3)

    # someone else can delete nothing: 404, and every byte stays
    gone = await client.delete(f"{API}/content/{cid}/media/{first}", headers=stranger.headers)
    assert gone.status_code == 404
    assert (await client.delete(f"{API}/content/{cid}", headers=stranger.headers)).status_code == 404
    assert {first_key, second_key, other_key} <= await _files(settings)

    # removing one medium removes its bytes only
    assert (
        await client.delete(f"{API}/content/{cid}/media/{first}", headers=owner.headers)
    ).status_code == 204
    files = await _files(settings, first_key)
    assert first_key not in files and {second_key, other_key} <= files
    listed = (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()
    assert [m["id"] for m in listed["data"]] == [second.json()["data"]["id"]]

    # deleting the content removes the bytes of the media it carried, not another content's
    assert (await client.delete(f"{API}/content/{cid}", headers=owner.headers)).status_code == 204
    files = await _files(settings, second_key)
    assert second_key not in files and other_key in files

    # a workspace: a refused deletion (an admin, not the owner) deletes nothing; the owner's deletes all
    ws = (await client.post(f"{API}/workspaces", headers=owner.headers, json={"name": "Bakery"})).json()
    team = {**owner.headers, "X-Workspace": ws["data"]["id"]}
    team_cid, team_media, team_key = await _with_image(client, team, settings, 4)
    # from another workspace (even the owner's own personal one) the team's medium is not there: 404
    elsewhere = await client.delete(f"{API}/content/{team_cid}/media/{team_media}", headers=owner.headers)
    assert elsewhere.status_code == 404
    assert (await client.delete(f"{API}/content/{other_cid}", headers=team)).status_code == 404
    foreign = {**stranger.headers, "X-Workspace": ws["data"]["id"]}
    assert (await client.delete(f"{API}/workspaces/current", headers=foreign)).status_code == 404
    assert team_key in await _files(settings)
    assert (await client.delete(f"{API}/workspaces/current", headers=team)).status_code == 204
    files = await _files(settings, team_key)
    assert team_key not in files and other_key in files
    assert (await client.get(f"{API}/content/{other_cid}/media", headers=owner.headers)).json()["meta"][
        "total"
    ] == 1


async def test_an_upload_refused_after_it_reached_storage_leaves_no_file(
    client: Any, user_factory: Any, settings: Any
) -> None:
    owner = await user_factory()
    cid = (await create_content(client, owner.headers, text="Broken clip."))["id"]
    before = await _files(settings)
    # it looks like an MP4, so it is stored; FFmpeg cannot read it, so the request fails (415)
    broken = await attach(client, owner.headers, cid, b"\x00\x00\x00\x18ftypisom" + b"\x00" * 500)
    assert broken.status_code == 415
    for _ in range(500):  # the delete runs after the rollback, on the server's loop: at most 10 s
        if not (await _files(settings)) - before:
            break
        await asyncio.sleep(0.02)
    assert await _files(settings) == before  # the rolled-back upload took its object with it
    assert (await client.get(f"{API}/content/{cid}/media", headers=owner.headers)).json()["meta"][
        "total"
    ] == 0


async def test_deleting_an_account_removes_its_media_bytes_and_no_one_elses(
    client: Any, user_factory: Any, settings: Any
) -> None:
    leaving, staying = await user_factory(), await user_factory()
    _, _, leaving_key = await _with_image(client, leaving.headers, settings, 5)
    staying_cid, _, staying_key = await _with_image(client, staying.headers, settings, 6)

    wrong = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": "not my password"}, headers=leaving.headers
    )
    assert wrong.status_code == 400  # refused: nothing deleted
    assert {leaving_key, staying_key} <= await _files(settings)

    done = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": leaving.password}, headers=leaving.headers
    )
    assert done.status_code == 200, done.text
    files = await _files(settings, leaving_key)
    assert leaving_key not in files and staying_key in files
    listed = (await client.get(f"{API}/content/{staying_cid}/media", headers=staying.headers)).json()
    assert listed["meta"]["total"] == 1


async def test_the_sweep_deletes_old_objects_no_row_points_to(
    client: Any, user_factory: Any, settings: Any
) -> None:
    owner = await user_factory()
    _, _, kept_key = await _with_image(client, owner.headers, settings, 7)
    storage = Storage(settings.storage_url, max_size=1024)

    async def one() -> Any:
        yield png(8)

    # what a crash between a commit and its storage deletes leaves behind, an hour ago and just now
    old, young = "segmint/lost/old-orphan", "segmint/lost/young-orphan"
    await storage.put_stream(old, one())
    await storage.put_stream(young, one())
    hour_ago = time.time() - 2 * media_store.SWEEP_GRACE_SECONDS
    os.utime(_root(settings) / old, (hour_ago, hour_ago))
    os.utime(_root(settings) / kept_key, (hour_ago, hour_ago))

    engine = create_async_engine(settings.database_url)  # this test's own loop, not the server's
    try:
        sessions = async_sessionmaker(engine)
        assert await media_store.orphans(sessions, storage) == [old]
        assert await media_store.sweep(sessions, storage) == [old]  # what the hourly job runs
    finally:
        await engine.dispose()
    files = await _files(settings)
    assert old not in files and {young, kept_key} <= files
