"""Webhooks signed per the Standard Webhooks specification (standardwebhooks.com), so receivers verify
them with its libraries: `webhook-id` (the delivery id, the same on every retry), `webhook-timestamp`
(unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.

The key is the secret's base64 part when it is a `whsec_` secret (what segmint generates); a secret
entered before that (any text) signs with its UTF-8 bytes, and a receiver verifies it with
`"whsec_" + base64(secret)`. The older `X-Segmint-Signature` headers are still sent (deprecated).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from keel.apps.segmint.networks.base import USER_AGENT, Published, body, clip, failure, unreachable

SIGNATURE_HEADER = "X-Segmint-Signature"  # deprecated: the Standard Webhooks headers replace it
TIMESTAMP_HEADER = "X-Segmint-Timestamp"
PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def valid_secret(secret: str) -> bool:
    """A `whsec_` secret must carry 24 to 64 bytes of base64 key; any other text is a legacy secret."""
    if not secret.startswith(PREFIX):
        return True
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


def signer(secret: str) -> Webhook:
    return Webhook(secret if secret.startswith(PREFIX) else secret.encode())


def legacy_signature(secret: str, timestamp: str, payload: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    )


def signed_headers(secret: str, message_id: str, payload: bytes) -> dict[str, str]:
    now = int(time.time())
    signature = signer(secret).sign(message_id, datetime.fromtimestamp(now, UTC), payload.decode())
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signature,
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: legacy_signature(secret, str(now), payload),
    }


async def send(
    client: httpx.AsyncClient, url: str, secret: str, message_id: str, event: dict[str, Any]
) -> httpx.Response:
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"User-Agent": USER_AGENT, "Idempotency-Key": message_id} | signed_headers(
        secret, message_id, payload
    )
    try:
        return await client.post(url, content=payload, headers=headers)
    except httpx.HTTPError as exc:
        raise unreachable("The webhook", exc) from exc


def _error(response: httpx.Response) -> Exception:
    answer = body(response)
    error = answer.get("error")
    code = str(error.get("code")) if isinstance(error, dict) and error.get("code") else None
    message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
    return failure(response, "The webhook", code, message)


async def publish(
    client: httpx.AsyncClient, url: str, secret: str, message_id: str, event: dict[str, Any]
) -> Published:
    response = await send(client, url, secret, message_id, event)
    if not response.is_success:
        raise _error(response)
    answer = body(response)
    external_id = str(answer.get("id") or message_id)[:200]
    part = {"id": external_id, "url": clip(answer.get("url")), "status": response.status_code}
    return Published(external_id, clip(answer.get("url")), response.status_code, [part])


async def ping(client: httpx.AsyncClient, url: str, secret: str) -> str:
    response = await send(client, url, secret, "ping_" + secrets.token_hex(8), {"event": "ping"})
    if not response.is_success:
        raise _error(response)
    return f"the webhook answered {response.status_code}"
