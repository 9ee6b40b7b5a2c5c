"""SQLite writers of one process take turns in the event loop (keel.core.sqlite_writer), so none waits in
SQLite's busy handler. Shown on a real server with `busy_timeout=0` on every connection: a write that
met SQLite's lock held by another connection would fail at once ("database is locked": a 503), so
twenty overlapping write transactions all succeeding means none of them met it (without the turns,
most of them fail). Always on SQLite (a file of its own), whichever database the lane uses."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from litestar import get, post
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession

from core_platform_helpers import serve
from keel.app import create_app
from keel.core.errors import ValidationFailed


@post("/t/writer/append", opt={"rate_limit": None}, status_code=200)
async def append(db_session: AsyncSession, data: dict[str, Any]) -> None:
    await db_session.execute(text("INSERT INTO t_writer (n) VALUES (:n)"), {"n": data["n"]})
    await asyncio.sleep(0.005)  # the transaction stays open while the others start theirs
    await db_session.execute(text("UPDATE t_writer_total SET n = n + 1"))
    if data.get("fail"):
        raise ValidationFailed("refused after two writes")  # rolled back: its turn must pass on


@get("/t/writer/rows", opt={"rate_limit": None})
async def rows(db_session: AsyncSession) -> dict[str, Any]:
    found = await db_session.execute(text("SELECT n FROM t_writer ORDER BY rowid"))
    total = await db_session.scalar(text("SELECT n FROM t_writer_total"))
    return {"rows": [r.n for r in found], "total": total}


async def test_overlapping_sqlite_writers_all_commit_without_meeting_the_lock(make_settings, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/writers.db"
    app = create_app(make_settings(database_url=url, keel_apps=""), extra_route_handlers=[append, rows])
    engine = app.state.sa_config.get_engine()
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t_writer (n INTEGER)"))
        await conn.execute(text("CREATE TABLE t_writer_total (n INTEGER)"))
        await conn.execute(text("INSERT INTO t_writer_total VALUES (0)"))

    def no_busy_wait(dbapi_connection: Any, *_: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    event.listen(engine.sync_engine.pool, "checkout", no_busy_wait)
    # a real server: the in-process test client runs one request at a time
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
        sends = [http.post("/t/writer/append", json={"n": n, "fail": n % 7 == 3}) for n in range(20)]
        answers = await asyncio.gather(*sends)
        stored = (await http.get("/t/writer/rows")).json()
    failed = {n for n in range(20) if n % 7 == 3}
    assert [a.status_code for a in answers] == [400 if n in failed else 200 for n in range(20)], [
        a.text for a in answers if a.status_code not in (200, 400)
    ]
    assert sorted(stored["rows"]) == [n for n in range(20) if n not in failed]
    assert stored["total"] == 20 - len(failed)
