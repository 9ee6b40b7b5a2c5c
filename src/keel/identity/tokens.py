"""Access tokens (JWT, pinned algorithm), opaque refresh tokens and signed email-link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from keel.settings import Settings

REFRESH_TOKEN_BYTES = 32  # 256 random bits
ACCESS_TYP = "access"


class InvalidToken(Exception):
    pass


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


API_KEY_PREFIX = "keel_"  # tells a personal API key from a JWT at a glance (and to secret scanners)
API_KEY_BYTES = 32


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_BYTES)


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    sid: str
    jti: str
    exp: int
    iat: int
    roles: tuple[str, ...]


class TokenKeys:
    """Signing and verification material for the configured algorithm, and the JWKS to publish."""

    # verified access tokens kept (per process, per key set): a client sends the same token on every
    # request until it expires, and its signature and claims verify the same way each time
    VERIFIED_MAX = 4096

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._verified: dict[str, AccessClaims] = {}
        self.algorithm = settings.jwt_algorithm
        self.kid: str | None = None
        self.jwks: dict[str, Any] | None = None
        if self.algorithm == "HS256":
            self.signing_key: Any = settings.jwt_secret
            self.verify_key: Any = settings.jwt_secret
        else:
            from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

            if not settings.jwt_private_key_file or not settings.jwt_public_key_file:
                raise RuntimeError(
                    "JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE are required for " + self.algorithm
                )
            private_pem = Path(settings.jwt_private_key_file).read_bytes()
            public_pem = Path(settings.jwt_public_key_file).read_bytes()
            self.signing_key = load_pem_private_key(private_pem, password=None)
            self.verify_key = load_pem_public_key(public_pem)
            self.kid = hashlib.sha256(public_pem).hexdigest()[:16]
            algo = RSAAlgorithm if self.algorithm == "RS256" else OKPAlgorithm
            jwk = algo.to_jwk(self.verify_key, as_dict=True)
            jwk.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
            self.jwks = {"keys": [jwk]}

    def issue_access(self, *, user_id: uuid.UUID, session_id: uuid.UUID, roles: list[str]) -> tuple[str, int]:
        now = int(time.time())
        exp = now + self.settings.jwt_expires_in
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "jti": uuid.uuid4().hex,
            "typ": ACCESS_TYP,
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "roles": sorted(roles),
        }
        headers = {"kid": self.kid} if self.kid else None
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm, headers=headers), exp

    def decode_access(self, token: str) -> AccessClaims:
        """Verify signature (pinned algorithm), iss, aud, exp, nbf, iat and typ; raise InvalidToken.

        A token that verified before is answered from memory while it has not expired: what made it
        valid (signature, issuer, audience, type, not-before) cannot change for the same string and the
        same keys, and only its lifetime runs out. Whether its session is still live is the database's
        answer on every request (the guard), never this cache's."""
        known = self._verified.get(token)
        if known is not None:
            if known.exp > time.time():
                return known
            del self._verified[token]
        claims = self._decode_access(token)
        if len(self._verified) >= self.VERIFIED_MAX:
            del self._verified[next(iter(self._verified))]  # the oldest entry first
        self._verified[token] = claims
        return claims

    def _decode_access(self, token: str) -> AccessClaims:
        try:
            data = jwt.decode(
                token,
                self.verify_key,
                algorithms=[self.algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "iat", "sub", "sid", "jti", "typ", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if data.get("typ") != ACCESS_TYP:
            raise InvalidToken("not an access token")
        try:
            uuid.UUID(str(data["sub"]))
            uuid.UUID(str(data["sid"]))
        except ValueError as exc:
            raise InvalidToken("malformed subject") from exc
        roles = data.get("roles") or []
        return AccessClaims(
            sub=str(data["sub"]),
            sid=str(data["sid"]),
            jti=str(data["jti"]),
            exp=int(data["exp"]),
            iat=int(data["iat"]),
            roles=tuple(str(r) for r in roles if isinstance(r, str)),
        )


# --- email links: random value + HMAC, only the hash of the whole token is stored ---


def _mac(secret: str, purpose: str, raw: str) -> str:
    digest = hmac.new(secret.encode(), f"{purpose}:{raw}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_email_token(secret: str, purpose: str) -> str:
    raw = secrets.token_urlsafe(32)
    return f"{raw}.{_mac(secret, purpose, raw)}"


def email_token_signature_ok(secret: str, purpose: str, token: str) -> bool:
    raw, _, mac = token.partition(".")
    return bool(raw and mac) and hmac.compare_digest(mac, _mac(secret, purpose, raw))


# --- the reuse-grace cache: the pair issued for a parent token, sealed with a key only it derives ---


def seal_for(parent_token: str, payload: dict[str, Any]) -> bytes:
    key = hashlib.sha256(b"keel-grace:" + parent_token.encode()).digest()
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, json.dumps(payload).encode(), None)


def unseal_for(parent_token: str, sealed: bytes) -> dict[str, Any] | None:
    key = hashlib.sha256(b"keel-grace:" + parent_token.encode()).digest()
    try:
        claims: dict[str, Any] = json.loads(AESGCM(key).decrypt(sealed[:12], sealed[12:], None))
        return claims
    except Exception:
        return None
