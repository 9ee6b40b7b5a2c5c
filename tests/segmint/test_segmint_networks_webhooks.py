"""Webhooks signed per Standard Webhooks: a delivered webhook verifies with the standardwebhooks library's
Webhook.verify, with the `whsec_` secret segmint generated and returned once."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from keel.app import create_app
from segmint.helpers import API, FakeServer
from segmint.test_segmint_publishing import WEBHOOK_SECRET, approved_content, soon, wait_schedule


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


async def test_a_delivered_webhook_verifies_with_the_standard_webhooks_library(
    client: Any, user_factory: Any, fake_server: FakeServer
) -> None:
    owner = await user_factory()
    made = await client.post(
        f"{API}/integration",
        headers=owner.headers,
        json={"name": "hook", "provider": "webhook", "url": f"{fake_server.url}/hook"},
    )
    assert made.status_code == 201, made.text
    secret = made.json()["data"]["signing_secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    shown = await client.get(f"{API}/integration/{made.json()['data']['id']}", headers=owner.headers)
    assert shown.json()["data"]["signing_secret"] is None and secret not in shown.text  # shown once

    cid = await approved_content(client, user_factory, owner, text="The oven is hot.")
    sid = (
        await client.post(
            f"{API}/content/{cid}/schedules",
            headers=owner.headers,
            json={"publish_at": soon(0.3), "integration_ids": [made.json()["data"]["id"]]},
        )
    ).json()["data"]["id"]
    assert (await wait_schedule(client, owner.headers, sid))["status"] == "published"
    hook = fake_server.ok_posts("/hook")[0]
    payload = Webhook(secret).verify(hook["body"], hook["headers"])
    assert payload["type"] == "content.published" and payload["text"] == "The oven is hot."
    assert hook["headers"]["webhook-id"] == payload["delivery_id"]  # stable across retries
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another key of thirty-two bytes!").decode()).verify(
            hook["body"], hook["headers"]
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(hook["body"].replace(b"hot", b"cold"), hook["headers"])


async def test_a_secret_set_before_whsec_verifies_as_its_base64(
    client: Any, user_factory: Any, fake_server: FakeServer
) -> None:
    owner = await user_factory()
    made = await client.post(
        f"{API}/integration",
        headers=owner.headers,
        json={
            "name": "old",
            "provider": "webhook",
            "url": f"{fake_server.url}/hook",
            "secret": WEBHOOK_SECRET,
        },
    )
    check = await client.post(f"{API}/integration/{made.json()['data']['id']}/test", headers=owner.headers)
    assert check.json()["data"]["ok"] is True
    ping = fake_server.ok_posts("/hook")[0]
    receiver = Webhook("whsec_" + base64.b64encode(WEBHOOK_SECRET.encode()).decode())
    assert receiver.verify(ping["body"], ping["headers"]) == {"event": "ping"}
    bad = await client.post(
        f"{API}/integration",
        headers=owner.headers,
        json={
            "name": "bad",
            "provider": "webhook",
            "url": f"{fake_server.url}/h",
            "secret": "whsec_tooshort",
        },
    )
    assert bad.status_code == 400 and "secret" in bad.json()["error"]["details"]
