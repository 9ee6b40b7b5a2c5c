"""segmint integrations and scheduled publishing: credentials encrypted at rest and never returned, the
`segmint:publish` job posting to real local HTTP servers exactly once (with a retry after a transient
failure), cancellation, permanent failures, lost jobs re-queued."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import Request, post
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from keel.app import create_app
from keel.settings import SettingsError, load_settings
from segmint.helpers import API, FakeServer, create_content

MASTODON_TOKEN = "mastodon-access-token-0123456789"  # noqa: S105 - test data
WEBHOOK_SECRET = "webhook-signing-secret-abcdef"  # noqa: S105 - test data


@post("/_test/segmint/requeue", status_code=200)
async def _requeue(request: Request[Any, Any, Any]) -> dict[str, int]:
    """What AppSpec.startup runs when the server starts again (inside the app's own event loop)."""
    from keel.apps.segmint import tasks

    return {"requeued": await tasks.requeue_lost(request.app)}


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings, extra_route_handlers=[_requeue])


async def approved_content(client: Any, user_factory: Any, owner: Any, text: str = "Big news today!") -> str:
    approver = await user_factory()
    workflow = await client.post(
        f"{API}/workflow",
        headers=owner.headers,
        json={"name": f"wf-{uuid.uuid4().hex[:6]}", "approver_emails": [approver.email]},
    )
    cid = (await create_content(client, owner.headers, text=text, tags=["news"], platforms=["mastodon"]))[
        "id"
    ]
    await client.post(
        f"{API}/content/{cid}/submit",
        headers=owner.headers,
        json={"workflow_id": workflow.json()["data"]["id"]},
    )
    decided = await client.post(
        f"{API}/workflow/reviews/{cid}/decision", headers=approver.headers, json={"decision": "approve"}
    )
    assert decided.json()["data"]["content"]["status"] == "approved", decided.text
    return cid


async def connect(client: Any, headers: dict[str, str], server: FakeServer) -> tuple[str, str]:
    hook = await client.post(
        f"{API}/integration",
        headers=headers,
        json={
            "name": "my hook",
            "provider": "webhook",
            "url": f"{server.url}/hook",
            "secret": WEBHOOK_SECRET,
        },
    )
    toot = await client.post(
        f"{API}/integration",
        headers=headers,
        json={
            "name": "my mastodon",
            "provider": "mastodon",
            "url": f"{server.url}/",
            "secret": MASTODON_TOKEN,
        },
    )
    assert hook.status_code == 201 and toot.status_code == 201, (hook.text, toot.text)
    return hook.json()["data"]["id"], toot.json()["data"]["id"]


async def wait_schedule(
    client: Any, headers: dict[str, str], sid: str, limit: float = 45.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + limit
    while True:
        data = (await client.get(f"{API}/schedules/{sid}", headers=headers)).json()["data"]
        if data["status"] not in ("scheduled", "publishing"):
            return data
        assert asyncio.get_running_loop().time() < deadline, f"still {data['status']} after {limit}s: {data}"
        await asyncio.sleep(0.2)


def soon(seconds: float = 1.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_credentials_are_encrypted_at_rest_and_never_returned(
    client: Any, user_factory: Any, settings: Any
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    server_url = "http://127.0.0.1:9"
    resp = await client.post(
        f"{API}/integration",
        headers=owner.headers,
        json={"name": "toot", "provider": "mastodon", "url": server_url, "secret": MASTODON_TOKEN},
    )
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert data["secret_hint"] == "••••" + MASTODON_TOKEN[-4:] and MASTODON_TOKEN not in resp.text
    listed = await client.get(f"{API}/integration", headers=owner.headers)
    assert MASTODON_TOKEN not in listed.text and listed.json()["meta"]["total"] == 1

    engine = create_async_engine(settings.database_url)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT secret_encrypted, secret_hint FROM segmint_integration"))
        ).one()
    await engine.dispose()
    assert MASTODON_TOKEN not in stored[0] and MASTODON_TOKEN[:12] not in stored[0]
    from keel.apps.segmint.publishing import decrypt

    assert decrypt(settings, stored[0]) == MASTODON_TOKEN  # the stored value is a Fernet token of it

    # re-keying changes the ciphertext and the hint; other users see nothing
    rekey = await client.patch(
        f"{API}/integration/{data['id']}", headers=owner.headers, json={"secret": "short-ok"}
    )
    assert rekey.json()["data"]["secret_hint"] == "••••"  # noqa: S105 - a short secret shows nothing
    for method in ("GET", "PATCH", "DELETE"):
        body = {"name": "x"} if method == "PATCH" else None
        resp = await client.request(
            method, f"{API}/integration/{data['id']}", headers=stranger.headers, json=body
        )
        assert resp.status_code == 404
    bad = await client.post(
        f"{API}/integration",
        headers=owner.headers,
        json={"name": "x", "provider": "myspace", "url": "ftp://x", "secret": "1"},
    )
    assert bad.status_code == 400
    assert {"provider", "url", "secret"} & set(str(bad.json()["error"]["details"]).replace("'", " ").split())


def test_production_refuses_to_start_without_an_encryption_key() -> None:
    base = {
        "keel_env": "production",
        "jwt_secret": "x" * 40,
        "keel_apps": "gym,scribe,segmint",
        "database_url": "sqlite+aiosqlite:///./var/never-opened.db",
        "smtp_host": "mail.example",  # production sends the verification mails
    }
    with pytest.raises(SettingsError, match="SEGMINT_ENCRYPTION_KEY"):
        load_settings(None, **base)
    with pytest.raises(SettingsError, match="SEGMINT_ENCRYPTION_KEY"):
        load_settings(None, **base, segmint_encryption_key="not-a-fernet-key")
    from cryptography.fernet import Fernet

    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    assert load_settings(None, **base, segmint_encryption_key=keys).segmint_encryption_key == keys


async def test_scheduled_publish_delivers_once_per_target_with_a_retry(
    client: Any, user_factory: Any, settings: Any, fake_server: FakeServer
) -> None:
    owner = await user_factory()
    h = owner.headers
    cid = await approved_content(client, user_factory, owner)
    hook_id, toot_id = await connect(client, h, fake_server)
    fake_server.reply = lambda n: {"id": f"ext-{n}", "url": f"{fake_server.url}/@me/ext-{n}"}
    fake_server.statuses = [503]  # the first request (the webhook, connected first) fails transiently

    for bad, field in (
        (
            {
                "publish_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "integration_ids": [hook_id],
            },
            "publish_at",
        ),
        ({"publish_at": "2099-01-01T09:00:00", "integration_ids": [hook_id]}, "publish_at"),
        ({"publish_at": soon(60), "integration_ids": []}, "integration_ids"),
    ):
        resp = await client.post(f"{API}/content/{cid}/schedules", headers=h, json=bad)
        assert resp.status_code == 400 and field in str(resp.json()["error"]["details"]), resp.text
    stranger_hook = await client.post(
        f"{API}/integration",
        headers=(await user_factory()).headers,
        json={
            "name": "theirs",
            "provider": "webhook",
            "url": f"{fake_server.url}/x",
            "secret": WEBHOOK_SECRET,
        },
    )
    resp = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=h,
        json={"publish_at": soon(60), "integration_ids": [stranger_hook.json()["data"]["id"]]},
    )
    assert resp.status_code == 404

    resp = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=h,
        json={"publish_at": soon(1.0), "integration_ids": [hook_id, toot_id]},
    )
    assert resp.status_code == 201, resp.text
    schedule = resp.json()["data"]
    assert schedule["status"] == "scheduled" and [d["status"] for d in schedule["deliveries"]] == [
        "pending",
        "pending",
    ]
    assert (await client.get(f"{API}/content/{cid}", headers=h)).json()["data"]["status"] == "scheduled"
    assert fake_server.requests == []  # nothing before its time

    done = await wait_schedule(client, h, schedule["id"])
    assert done["status"] == "published", done
    deliveries = {d["integration_name"]: d for d in done["deliveries"]}
    assert deliveries["my hook"]["status"] == "delivered" and deliveries["my hook"]["attempts"] == 2
    assert deliveries["my mastodon"]["status"] == "delivered" and deliveries["my mastodon"]["attempts"] == 1
    assert deliveries["my mastodon"]["external_id"].startswith("ext-")
    assert deliveries["my mastodon"]["external_url"].startswith(fake_server.url)

    hooks = [r for r in fake_server.requests if r["path"] == "/hook"]
    toots = [r for r in fake_server.requests if r["path"] == "/api/v1/statuses"]
    assert [r["status"] for r in hooks] == [503, 200] and len(toots) == 1  # exactly once each
    toot = toots[0]
    assert toot["headers"]["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert json.loads(toot["body"]) == {"status": "Big news today!", "visibility": "public"}
    hook = hooks[1]
    signature = hmac.new(
        WEBHOOK_SECRET.encode(),
        hook["headers"]["X-Segmint-Timestamp"].encode() + b"." + hook["body"],
        hashlib.sha256,
    ).hexdigest()
    assert hook["headers"]["X-Segmint-Signature"] == f"sha256={signature}"
    payload = json.loads(hook["body"])
    assert (
        payload["content_id"] == cid and payload["text"] == "Big news today!" and payload["tags"] == ["news"]
    )
    # the retry carried the same idempotency key as the failed attempt
    assert hooks[0]["headers"]["Idempotency-Key"] == hooks[1]["headers"]["Idempotency-Key"]

    content = (await client.get(f"{API}/content/{cid}", headers=h)).json()["data"]
    assert content["status"] == "published" and content["published_at"] is not None
    trail = [
        e["action"] for e in (await client.get(f"{API}/content/{cid}/history", headers=h)).json()["data"]
    ]
    assert trail[-2:] == ["scheduled", "published"]

    # a duplicate run of the job (or a re-queue after a crash) posts nothing more
    from keel.apps.segmint.publishing import run_publish

    engine = create_async_engine(settings.database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    assert (
        await run_publish(sessions, settings, uuid.UUID(schedule["id"]), final_attempt=False) == "published"
    )
    await engine.dispose()
    assert len(fake_server.requests) == 3
    # published content is final
    resp = await client.post(f"{API}/content/{cid}/reopen", headers=h, json={})
    assert resp.status_code == 409 and "final" in resp.json()["error"]["message"]


async def test_cancel_and_lost_job_requeue(
    client: Any, user_factory: Any, settings: Any, fake_server: FakeServer
) -> None:
    owner = await user_factory()
    h = owner.headers
    hook_id, _ = await connect(client, h, fake_server)
    cid = await approved_content(client, user_factory, owner)
    later = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=h,
            json={"publish_at": soon(3600), "integration_ids": [hook_id]},
        )
    ).json()["data"]
    assert (await client.delete(f"{API}/content/{cid}", headers=h)).status_code == 409
    assert (await client.delete(f"{API}/integration/{hook_id}", headers=h)).status_code == 409
    stranger = (await user_factory()).headers
    assert (await client.post(f"{API}/schedules/{later['id']}/cancel", headers=stranger)).status_code == 404
    assert (await client.get(f"{API}/schedules", headers=stranger)).json()["meta"]["total"] == 0
    cancelled = await client.post(f"{API}/schedules/{later['id']}/cancel", headers=h)
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "cancelled"
    assert (await client.post(f"{API}/schedules/{later['id']}/cancel", headers=h)).status_code == 409
    assert (await client.get(f"{API}/content/{cid}", headers=h)).json()["data"]["status"] == "approved"

    # schedule again, then pretend the process died: the row's job is unknown to the queue
    again = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=h,
            json={"publish_at": soon(1.5), "integration_ids": [hook_id]},
        )
    ).json()["data"]
    from keel.apps.segmint.models import Schedule

    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            update(Schedule).where(Schedule.id == uuid.UUID(again["id"])).values(job_id=987654321)
        )
    assert (await client.post("/_test/segmint/requeue")).json() == {"requeued": 1}
    done = await wait_schedule(client, h, again["id"])
    assert done["status"] == "published"
    await asyncio.sleep(1.0)  # the original job ran (or runs) too: it must find nothing left to do
    assert len(fake_server.ok_posts("/hook")) == 1
    async with engine.connect() as conn:
        statuses = (await conn.execute(select(Schedule.status).order_by(Schedule.created_at))).scalars().all()
    await engine.dispose()
    assert statuses == ["cancelled", "published"]
    listed = (await client.get(f"{API}/schedules?content_id={cid}", headers=h)).json()
    assert (
        listed["meta"]["total"] == 2
        and (await client.get(f"{API}/schedules?status=published", headers=h)).json()["meta"]["total"] == 1
    )


async def test_refused_credential_fails_without_retry_and_content_returns_to_approved(
    client: Any, user_factory: Any, fake_server: FakeServer
) -> None:
    owner = await user_factory()
    h = owner.headers
    _, toot_id = await connect(client, h, fake_server)
    cid = await approved_content(client, user_factory, owner)
    fake_server.statuses = [401]
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=h,
            json={"publish_at": soon(0.5), "integration_ids": [toot_id]},
        )
    ).json()["data"]["id"]
    done = await wait_schedule(client, h, sid)
    assert done["status"] == "failed"
    delivery = done["deliveries"][0]
    assert delivery["status"] == "failed" and delivery["attempts"] == 1 and "credential" in delivery["error"]
    assert len(fake_server.requests) == 1  # a refused token is not retried
    content = (await client.get(f"{API}/content/{cid}", headers=h)).json()["data"]
    assert content["status"] == "approved" and content["published_at"] is None


async def test_private_targets_are_refused_unless_allowed(
    make_settings: Any, fake_server: FakeServer
) -> None:
    """The default settings: integrations cannot aim at loopback/private addresses (SSRF). Its own app."""
    from fixtures.identity import DEFAULT_PASSWORD

    settings = make_settings(keel_apps="gym,scribe,segmint")
    assert settings.segmint_allow_private_targets is False
    async with AsyncTestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        reg = await client.post(
            "/api/v1/auth/register",
            json={"email": "ssrf@example.com", "password": DEFAULT_PASSWORD, "name": "S"},
        )
        h = {"Authorization": f"Bearer {reg.json()['data']['access_token']}"}
        for url in (
            f"{fake_server.url}/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
        ):
            resp = await client.post(
                f"{API}/integration",
                headers=h,
                json={"name": "internal", "provider": "webhook", "url": url, "secret": WEBHOOK_SECRET},
            )
            assert resp.status_code == 400, (url, resp.text)
            assert "private or local address" in resp.json()["error"]["details"]["url"]
        broken = await client.post(  # an unbalanced IPv6 bracket (found by the OpenAPI fuzz: was a 500)
            f"{API}/integration",
            headers=h,
            json={"name": "broken", "provider": "webhook", "url": "http://[::1/x", "secret": WEBHOOK_SECRET},
        )
        assert broken.status_code == 400
        assert broken.json()["error"]["details"]["url"] == "This is not a valid URL"
        odd_host = await client.post(  # a host IDNA cannot encode (also found by the fuzz)
            f"{API}/integration",
            headers=h,
            json={
                "name": "odd",
                "provider": "webhook",
                "url": "http://a\x8f.example/x",
                "secret": WEBHOOK_SECRET,
            },
        )
        assert odd_host.status_code == 400, odd_host.text
        assert (await client.get(f"{API}/integration", headers=h)).json()["meta"]["total"] == 0
    assert fake_server.requests == []


async def test_the_owner_hears_when_a_publication_ends(make_settings: Any, fake_server: FakeServer) -> None:
    """`user:<id>:segmint` over SSE gets the outcome, on a real server (its own app)."""
    import httpx

    from core_platform_helpers import serve
    from fixtures.identity import DEFAULT_PASSWORD

    settings = make_settings(
        keel_apps="gym,scribe,segmint", jobs_poll_interval=0.2, segmint_allow_private_targets=True
    )
    async with serve(create_app(settings)) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        tokens = []
        for name in ("owner", "approver"):
            reg = await http.post(
                "/api/v1/auth/register",
                json={"email": f"{name}-rt@example.com", "password": DEFAULT_PASSWORD, "name": name},
            )
            tokens.append({"Authorization": f"Bearer {reg.json()['data']['access_token']}"})
        owner, approver = tokens
        workflow = await http.post(
            f"{API}/workflow",
            headers=owner,
            json={"name": "w", "approver_emails": ["approver-rt@example.com"]},
        )
        cid = (await create_content(http, owner))["id"]
        await http.post(
            f"{API}/content/{cid}/submit", headers=owner, json={"workflow_id": workflow.json()["data"]["id"]}
        )
        await http.post(
            f"{API}/workflow/reviews/{cid}/decision", headers=approver, json={"decision": "approve"}
        )
        hook = await http.post(
            f"{API}/integration",
            headers=owner,
            json={
                "name": "hook",
                "provider": "webhook",
                "url": f"{fake_server.url}/hook",
                "secret": WEBHOOK_SECRET,
            },
        )
        async with http.stream("GET", "/api/v1/events?topics=segmint", headers=owner) as stream:
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith(": connected")
            schedule = await http.post(
                f"{API}/content/{cid}/schedules",
                headers=owner,
                json={"publish_at": soon(0.5), "integration_ids": [hook.json()["data"]["id"]]},
            )
            assert schedule.status_code == 201, schedule.text
            heard: dict[str, dict[str, Any]] = {}  # the outcome and the "published" notification
            while len(heard) < 2:
                line = await asyncio.wait_for(anext(lines), 20)
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    assert message["channel"].endswith(":segmint")
                    heard[message["event"]["type"]] = message["event"]
    assert heard["segmint.notification"]["kind"] == "published"
    assert heard["segmint.notification"]["content_id"] == cid
    event = heard["segmint.schedule"]
    assert (
        event["type"] == "segmint.schedule" and event["status"] == "published" and event["content_id"] == cid
    )
    assert event["delivered"] == 1 and event["targets"] == 1 and "owner_id" not in event
    assert len(fake_server.ok_posts("/hook")) == 1


async def test_checking_an_integration_publishes_nothing(
    client: Any, user_factory: Any, fake_server: FakeServer
) -> None:
    owner, stranger = await user_factory(), await user_factory()
    hook_id, toot_id = await connect(client, owner.headers, fake_server)
    fake_server.reply = {"acct": "me@example.social"}
    hook = await client.post(f"{API}/integration/{hook_id}/test", headers=owner.headers)
    assert hook.status_code == 200 and hook.json()["data"] == {
        "ok": True,
        "detail": "the webhook answered 200",
    }
    ping = fake_server.requests[-1]
    assert json.loads(ping["body"]) == {"event": "ping"} and ping["headers"][
        "X-Segmint-Signature"
    ].startswith("sha256=")
    toot = (await client.post(f"{API}/integration/{toot_id}/test", headers=owner.headers)).json()["data"]
    assert toot == {"ok": True, "detail": "signed in as @me@example.social"}
    check = fake_server.requests[-1]
    assert check["method"] == "GET" and check["path"] == "/api/v1/accounts/verify_credentials"
    assert check["headers"]["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    fake_server.statuses = [401]
    refused = (await client.post(f"{API}/integration/{toot_id}/test", headers=owner.headers)).json()["data"]
    assert refused["ok"] is False and "credential" in refused["detail"]
    assert (
        await client.post(f"{API}/integration/{toot_id}/test", headers=stranger.headers)
    ).status_code == 404
    assert not [r for r in fake_server.requests if r["path"] == "/api/v1/statuses"]


async def test_a_run_after_a_crash_posts_only_to_targets_not_yet_delivered(
    client: Any, user_factory: Any, settings: Any, fake_server: FakeServer
) -> None:
    """The worker died after the webhook succeeded and before Mastodon: the re-run posts to Mastodon only."""
    from keel.apps.segmint.models import Content, Delivery, Schedule
    from keel.apps.segmint.publishing import run_publish

    owner = await user_factory()
    hook_id, toot_id = await connect(client, owner.headers, fake_server)
    cid = await approved_content(client, user_factory, owner)
    fake_server.reply = {"id": "42"}
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [hook_id, toot_id]},
        )
    ).json()["data"]["id"]
    assert (await wait_schedule(client, owner.headers, sid))["status"] == "published"
    assert len(fake_server.requests) == 2

    # rewind Mastodon's delivery (and the rows) to the state a crash would leave
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:
        schedule_id = uuid.UUID(sid)
        await conn.execute(update(Schedule).where(Schedule.id == schedule_id).values(status="publishing"))
        await conn.execute(
            update(Delivery)
            .where(Delivery.schedule_id == schedule_id, Delivery.integration_id == uuid.UUID(toot_id))
            .values(status="pending", external_id=None, delivered_at=None, parts=[])  # nothing recorded
        )
        await conn.execute(update(Content).where(Content.id == uuid.UUID(cid)).values(status="scheduled"))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    assert await run_publish(sessions, settings, schedule_id, final_attempt=False) == "published"
    await engine.dispose()
    paths = [r["path"] for r in fake_server.requests]
    assert paths.count("/hook") == 1 and paths.count("/api/v1/statuses") == 2  # Mastodon again, the hook not
    done = (await client.get(f"{API}/schedules/{sid}", headers=owner.headers)).json()["data"]
    assert {d["integration_name"]: d["attempts"] for d in done["deliveries"]} == {
        "my hook": 1,
        "my mastodon": 2,
    }
    assert (await client.get(f"{API}/content/{cid}", headers=owner.headers)).json()["data"][
        "status"
    ] == "published"


def test_encryption_keys_rotate(make_settings: Any) -> None:
    from cryptography.fernet import Fernet

    from keel.apps.segmint.publishing import PublishFailed, decrypt, encrypt

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = encrypt(make_settings(segmint_encryption_key=old), MASTODON_TOKEN)
    rotated = make_settings(segmint_encryption_key=f"{new},{old}")
    assert decrypt(rotated, stored) == MASTODON_TOKEN  # old rows still readable
    assert (
        Fernet(new.encode()).decrypt(encrypt(rotated, "fresh").encode()) == b"fresh"
    )  # new rows use the new key
    with pytest.raises(PublishFailed, match="enter it again"):
        decrypt(make_settings(segmint_encryption_key=new), stored)  # the old key dropped too early
