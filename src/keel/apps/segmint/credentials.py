"""Credentials encrypted at rest (Fernet, rotating keys) and where targets may live (no internal network)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from keel.apps.segmint.networks.base import PublishFailed

if TYPE_CHECKING:
    from keel.settings import Settings


# --------------------------------------------------------------------------- encryption at rest


def cipher(settings: Settings) -> MultiFernet:
    """SEGMINT_ENCRYPTION_KEY (several keys: the first encrypts, all decrypt, for rotation). Without one
    (development and tests only; production refuses to start) a key derived from JWT_SECRET."""
    keys = [k.strip() for k in settings.segmint_encryption_key.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"keel-segmint-credentials:" + settings.jwt_secret.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(settings: Settings, secret: str) -> str:
    return cipher(settings).encrypt(secret.encode()).decode()


def decrypt(settings: Settings, token: str) -> str:
    try:
        return cipher(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # the key changed without keeping the old one for rotation
        raise PublishFailed(
            "The stored credential cannot be decrypted; enter it again", transient=False
        ) from exc


def hint(secret: str) -> str:
    return "••••" + (secret[-4:] if len(secret) >= 16 else "")


# --------------------------------------------------------------------------- where targets may live


async def target_problem(settings: Settings, url: str) -> tuple[str, bool] | None:
    """Why this URL may not be posted to, and whether that may pass (a DNS hiccup), or None when fine.

    Integrations are user-supplied URLs the server will POST to: unless SEGMINT_ALLOW_PRIVATE_TARGETS,
    every address the host resolves to must be public, so nobody can aim the publisher at the internal
    network (SSRF). Checked when the integration is saved and again before each delivery."""
    if settings.segmint_allow_private_targets:
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unbalanced "[" ("Invalid IPv6 URL")
        return "This is not a valid URL", False
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except UnicodeError:  # a host name IDNA cannot encode
        return "This is not a valid host name", False
    except OSError:
        return f"The host {host!r} cannot be resolved", True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return (
                f"{host!r} resolves to a private or local address ({address}); targets must be public",
                False,
            )
    return None
