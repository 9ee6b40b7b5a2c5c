"""What the log says while nothing happens: periodic housekeeping stays quiet at INFO; users' jobs and
every failure still show."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys

import pytest

from keel.core.logging import configure_logging


async def test_periodic_housekeeping_is_quiet_and_failures_and_user_jobs_still_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from procrastinate import App
    from procrastinate.testing import InMemoryConnector

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging("INFO", True)
    app = App(connector=InMemoryConnector())
    runs: list[int] = []

    @app.periodic(cron="* * * * * *")  # every second
    @app.task(name="sweep")
    async def sweep(timestamp: int) -> None:
        runs.append(timestamp)

    @app.periodic(cron="* * * * * *")
    @app.task(name="broken_sweep")
    async def broken_sweep(timestamp: int) -> None:
        raise RuntimeError("the sweep failed")

    @app.task(name="transcribe")
    async def transcribe() -> None:
        return None

    try:
        async with app.open_async():
            await transcribe.defer_async()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(app.run_worker_async(), 2.5)
    finally:
        root.handlers[:], root.level = handlers, level
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]

    assert runs  # the sweep ran, and said nothing about it
    assert not [line for line in lines if "sweep[" in line["event"] and "broken" not in line["event"]]
    assert not [line for line in lines if line["logger"] == "procrastinate.periodic"]
    failed = [line for line in lines if "broken_sweep[" in line["event"]]
    assert failed and all(line["level"] == "error" for line in failed)
    assert any(line["event"].startswith("Job transcribe[") and "Success" in line["event"] for line in lines)
