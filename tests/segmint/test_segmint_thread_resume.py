"""A worker killed in the middle of a thread (part 3 of 5 sent, never answered): the next run resumes
with part 3, replying to part 2, and never posts parts 1-2 again (each part is committed as X answers)."""

from __future__ import annotations

import asyncio
import itertools
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from keel.app import create_app
from segmint.helpers import API
from segmint.test_segmint_networks_connect import connect
from segmint.test_segmint_publishing import approved_content, soon

# five paragraphs of 193 characters: five posts on X (two do not fit in 280)
PARAGRAPHS = [
    f"Part {n}: "
    + " ".join(f"the sourdough starter needs patience, warmth and flour ({n}.{i})." for i in range(3))
    for n in range(1, 6)
]
RUN = textwrap.dedent("""
    import asyncio, sys, uuid
    from pathlib import Path
    import msgspec
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from keel.settings import Settings
    from keel.apps.segmint.publishing import run_publish

    async def main():
        settings = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=Settings)
        engine = create_async_engine(settings.database_url)
        print(await run_publish(async_sessionmaker(engine, expire_on_commit=False), settings,
                                uuid.UUID(sys.argv[2]), final_attempt=False))
        await engine.dispose()

    asyncio.run(main())
""")


@pytest.fixture
def settings(network_settings: Any) -> Any:
    return network_settings


@pytest.fixture
def app(settings: Any) -> Any:
    return create_app(settings)


async def test_a_thread_cut_by_a_dead_worker_resumes_without_posting_again(
    client: Any, user_factory: Any, network_server: Any, settings: Any, tmp_path: Path
) -> None:
    assert all(140 < len(p) < 280 for p in PARAGRAPHS)  # two never fit in one post
    owner = await user_factory()
    integration = await connect(client, owner.headers, network_server, "x")
    cid = await approved_content(client, user_factory, owner, text="\n\n".join(PARAGRAPHS))
    created = await client.post(
        f"{API}/content/{cid}/schedules",
        headers=owner.headers,  # due in an hour: this process's job does not run it, the worker below does
        json={"publish_at": soon(3600), "integration_ids": [integration["id"]], "thread": True},
    )
    assert created.status_code == 201, created.text
    sid = created.json()["data"]["id"]

    network_server.hold("/2/tweets", after=2)  # parts 1 and 2 are answered; part 3 never is
    (tmp_path / "settings.json").write_bytes(msgspec.json.encode(settings))
    (tmp_path / "run.py").write_text(RUN)
    worker = await asyncio.create_subprocess_exec(
        sys.executable, str(tmp_path / "run.py"), str(tmp_path / "settings.json"), sid
    )
    for _ in range(3000):  # until part 3 reaches X (or the worker ended, which fails below)
        if network_server.holding.is_set() or worker.returncode is not None:
            break
        await asyncio.sleep(0.01)
    assert network_server.holding.is_set(), "the worker never sent part 3"
    worker.send_signal(signal.SIGKILL)  # the worker dies: nothing after part 2's answer runs
    await worker.wait()
    network_server.release()

    engine = create_async_engine(settings.database_url)
    async with engine.begin() as conn:  # the dead run's lease has run out
        await conn.execute(text("UPDATE segmint_schedule SET claimed_until = NULL"))
    await engine.dispose()
    rerun = await asyncio.create_subprocess_exec(  # the retry, in a fresh worker
        sys.executable,
        str(tmp_path / "run.py"),
        str(tmp_path / "settings.json"),
        sid,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await rerun.communicate()
    status = out.decode().strip().splitlines()[-1]
    assert status == "published"

    tweets = [p for p in network_server.posts if p["network"] == "x"]
    assert [t["text"] for t in tweets] == PARAGRAPHS  # each part once, in order
    for previous, reply in itertools.pairwise(tweets):
        assert reply["reply"] == {"in_reply_to_tweet_id": previous["id"]}
    done = (await client.get(f"{API}/schedules/{sid}", headers=owner.headers)).json()["data"]
    assert [p["id"] for p in done["deliveries"][0]["parts"]] == [t["id"] for t in tweets]
