"""segmint lists cost a bounded number of queries whatever the number of rows (no query per row), and the
demo seed is idempotent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from core_platform_helpers import StatementCounter
from segmint.helpers import API, create_content


async def test_lists_use_a_bounded_number_of_queries(client: Any, app: Any, user_factory: Any) -> None:
    owner, approver = await user_factory(), await user_factory()
    workflow = (
        await client.post(
            f"{API}/workflow", headers=owner.headers, json={"name": "w", "approver_emails": [approver.email]}
        )
    ).json()["data"]
    for n in range(25):
        cid = (
            await create_content(client, owner.headers, text=f"Post number {n}.", tags=["a", "b", f"t{n}"])
        )["id"]
        await client.post(
            f"{API}/content/{cid}/submit", headers=owner.headers, json={"workflow_id": workflow["id"]}
        )

    for path, headers in (
        ("/content?limit=100", owner.headers),
        ("/workflow/reviews?limit=100", approver.headers),
        ("/voice", owner.headers),
    ):
        with StatementCounter(app) as counter:
            resp = await client.get(f"{API}{path}", headers=headers)
        assert resp.status_code == 200, resp.text
        assert counter.count <= 6, (path, counter.count)  # auth, count, rows, tags, workflow, approvals
    reviews = (await client.get(f"{API}/workflow/reviews?limit=100", headers=approver.headers)).json()
    assert reviews["meta"]["total"] == 25 and all(len(r["content"]["tags"]) == 3 for r in reviews["data"])


async def test_demo_seed_is_idempotent(settings: Any) -> None:
    from keel.apps.segmint.models import Content
    from keel.apps.segmint.seed import DEMO_CONTENT, seed
    from keel.identity.models import User

    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    for _ in range(2):
        async with sessions() as db, db.begin():
            await seed(db, settings)
    async with sessions() as db:
        users = await db.scalar(select(func.count()).select_from(User))
        pieces = await db.scalar(select(func.count()).select_from(Content))
    await engine.dispose()
    assert users == 1 and pieces == len(DEMO_CONTENT)


async def test_no_demo_data_where_segmint_is_off_or_in_production(make_settings: Any) -> None:
    from keel.apps.segmint.seed import seed
    from keel.identity.models import User

    settings = make_settings(keel_apps="gym,scribe")
    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    for variant in (settings, make_settings(keel_env="production")):
        async with sessions() as db, db.begin():
            await seed(db, variant)
    async with sessions() as db:
        users = await db.scalar(select(func.count()).select_from(User))
    await engine.dispose()
    assert users == 0


async def test_out_of_range_numbers_are_a_400_not_a_500(client: Any, user_factory: Any) -> None:
    owner = await user_factory()
    item = await create_content(client, owner.headers, text="Sourdough starter, day three.")
    for path in (
        "/content?offset=99999999999999999999",
        "/content?offset=2147483648",
        "/workflow?offset=99999999999999999999",
        "/ideas?offset=99999999999999999999",
        "/schedules?offset=99999999999999999999",
        f"/content/{item['id']}/versions?offset=99999999999999999999",
    ):
        resp = await client.get(f"{API}{path}", headers=owner.headers)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    for number in (2**31, 2**63, 99999999999999999999, 0):
        resp = await client.post(
            f"{API}/content/{item['id']}/versions/{number}/restore", headers=owner.headers
        )
        assert resp.status_code in (400, 404), (number, resp.text)
        assert resp.json()["status"] == "error"
    assert (await client.get(f"{API}/content?offset=2147483647", headers=owner.headers)).json()["data"] == []


async def test_search_is_literal_and_sort_refuses_unknown_or_repeated_fields(
    client: Any, user_factory: Any
) -> None:
    owner = await user_factory()
    await create_content(client, owner.headers, text="Rye is 100% flour_and_water here.", title="Rye")
    await create_content(client, owner.headers, text="Spelt is mostly flour.", title="Spelt")
    found = await client.get(f"{API}/content", headers=owner.headers, params={"q": "%"})
    assert [c["title"] for c in found.json()["data"]] == ["Rye"]
    found = await client.get(f"{API}/content", headers=owner.headers, params={"q": "_"})
    assert [c["title"] for c in found.json()["data"]] == ["Rye"]
    found = await client.get(f"{API}/content", headers=owner.headers, params={"q": "FLOUR", "sort": "title"})
    assert [c["title"] for c in found.json()["data"]] == ["Rye", "Spelt"]
    for sort in ("colour", "title,-title"):
        resp = await client.get(f"{API}/content", headers=owner.headers, params={"sort": sort})
        assert resp.status_code == 400 and "sort" in resp.json()["error"]["details"], resp.text
