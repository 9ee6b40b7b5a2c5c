"""Two processes that both re-queued a schedule (a restart with WORKERS=2 on SQLite: each has its own
in-process queue) run it at the same time: the database claim lets one deliver; each target gets one post."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec

from segmint.helpers import API, FakeServer
from segmint.test_segmint_publishing import approved_content, connect, soon

RUN_ONE = textwrap.dedent("""
    import asyncio, sys, uuid
    from pathlib import Path
    import msgspec
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from keel.settings import Settings
    from keel.apps.segmint.publishing import run_publish

    async def main():
        settings = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Settings)
        engine = create_async_engine(settings.database_url)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        Path(sys.argv[3]).touch()  # ready
        while not Path(sys.argv[4]).exists():  # start together
            await asyncio.sleep(0.01)
        print(await run_publish(sessions, settings, uuid.UUID(sys.argv[2]), final_attempt=False))
        await engine.dispose()

    asyncio.run(main())
""")


async def test_two_processes_running_one_schedule_deliver_once(
    client: Any, user_factory: Any, settings: Any, fake_server: FakeServer, tmp_path: Path
) -> None:
    owner = await user_factory()
    hook_id, toot_id = await connect(client, owner.headers, fake_server)
    cid = await approved_content(client, user_factory, owner)
    fake_server.reply = lambda n: __import__("time").sleep(0.5) or {"id": str(n)}  # runs overlap
    created = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=owner.headers,
        json={"publish_at": soon(3600), "integration_ids": [hook_id, toot_id]},  # not this process's job
    )
    sid = created.json()["data"]["id"]
    (tmp_path / "settings.json").write_bytes(msgspec.json.encode(settings))
    (tmp_path / "run.py").write_text(RUN_ONE)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(tmp_path / "run.py"),
            str(tmp_path / "settings.json"),
            sid,
            str(tmp_path / f"ready{i}"),
            str(tmp_path / "go"),
            stdout=asyncio.subprocess.PIPE,
        )
        for i in range(2)
    ]
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):  # noqa: ASYNC110 - other processes
        await asyncio.sleep(0.05)
    (tmp_path / "go").touch()
    outputs = await asyncio.gather(*(p.communicate() for p in procs))
    outcomes = sorted(out.decode().strip().splitlines()[-1] for out, _ in outputs)
    assert outcomes == ["claimed", "published"], outcomes
    paths = [r["path"] for r in fake_server.requests]
    assert paths.count("/hook") == 1 and paths.count("/api/v1/statuses") == 1, paths
    done = (await client.get(f"{API}/schedules/{sid}", headers=owner.headers)).json()["data"]
    assert done["status"] == "published"
    assert sorted(d["attempts"] for d in done["deliveries"]) == [1, 1]
