"""The FastAPI + SQLAlchemy async twin of Keel's two hot authenticated requests (benchmarks only).

Same database, same rows, same token: an HS256 access token verified for signature, issuer, audience,
lifetime and type; then one statement loads the account, the session's validity and the roles (as
Keel's guard does, so logout and revocation apply at once). `GET /api/v1/users/me` answers the account;
`GET /api/v1/auth/sessions?limit=20` one page of the caller's live sessions with the total (window
count). Run with `uvicorn benchmarks.twins.fastapi_app:app` inside the twin's own venv (var/bench/twins).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

SECRET = os.environ["JWT_SECRET"]
ISSUER = os.environ.get("JWT_ISSUER", "keel")
AUDIENCE = os.environ.get("JWT_AUDIENCE", "keel-api")
URL = os.environ["DATABASE_URL"]
engine = create_async_engine(URL.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=10)
sessions = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()

PRINCIPAL = text(
    "SELECT u.id, u.email, u.name, u.is_active, u.is_verified, u.created_at, u.last_login_at, "
    "s.revoked_at, r.name AS role FROM user_account u "
    "JOIN identity_session s ON s.id = :sid AND s.user_id = u.id "
    "LEFT JOIN identity_user_role ur ON ur.user_id = u.id "
    "LEFT JOIN identity_role r ON r.id = ur.role_id WHERE u.id = :uid"
)
PAGE = text(
    "SELECT id, browser, os, device_type, ip, created_at, last_seen_at, expires_at, "
    "count(*) OVER () AS total "
    "FROM identity_session WHERE user_id = :uid AND revoked_at IS NULL AND expires_at > :now "
    "ORDER BY last_seen_at DESC, id LIMIT :limit OFFSET :offset"
)


async def db() -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def principal(
    session: Annotated[AsyncSession, Depends(db)], authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401)
    try:
        claims = jwt.decode(authorization[7:], SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    except jwt.PyJWTError as exc:
        raise HTTPException(401) from exc
    if claims.get("typ") != "access":
        raise HTTPException(401)
    uid, sid = uuid.UUID(claims["sub"]), uuid.UUID(claims["sid"])
    rows = (await session.execute(PRINCIPAL, {"uid": uid, "sid": sid})).all()
    if not rows or not rows[0].is_active or rows[0].revoked_at is not None:
        raise HTTPException(401)
    first = rows[0]
    return {
        "id": str(uid),
        "session_id": sid,
        "email": first.email,
        "name": first.name,
        "is_active": bool(first.is_active),
        "is_verified": bool(first.is_verified),
        "roles": sorted({r.role for r in rows if r.role}),
        "created_at": str(first.created_at),
        "last_login_at": str(first.last_login_at) if first.last_login_at else None,
    }


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.get("/api/v1/users/me")
async def me(user: Annotated[dict[str, Any], Depends(principal)]) -> dict[str, Any]:
    return {"status": "success", "data": {k: v for k, v in user.items() if k != "session_id"}}


@app.get("/api/v1/auth/sessions")
async def my_sessions(
    user: Annotated[dict[str, Any], Depends(principal)],
    session: Annotated[AsyncSession, Depends(db)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    params = {"uid": uuid.UUID(user["id"]), "now": datetime.now(UTC), "limit": limit, "offset": offset}
    rows = (await session.execute(PAGE, params)).all()
    data = [
        {
            "id": str(r.id),
            "browser": r.browser,
            "os": r.os,
            "device_type": r.device_type,
            "ip": r.ip,
            "created_at": str(r.created_at),
            "last_seen_at": str(r.last_seen_at),
            "expires_at": str(r.expires_at),
            "current": str(r.id).replace("-", "") == user["session_id"].hex,
        }
        for r in rows
    ]
    total = rows[0].total if rows else 0
    return {"status": "success", "data": data, "meta": {"total": total, "limit": limit, "offset": offset}}
