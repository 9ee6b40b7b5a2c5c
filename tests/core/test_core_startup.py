"""A serving process imports only what serving uses: migrations, the CLI, charting, media and model
libraries load on first use (issue 12: start-up CPU and RSS). Checked in a fresh interpreter that does
what a server does, `import keel.asgi` (create_app with every app on), and then lists sys.modules."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from litestar.testing import AsyncTestClient

import keel
from keel.app import KNOWN_APPS

SRC = Path(__file__).resolve().parents[2] / "src" / "keel"
# never needed to answer a request (or only by a feature that imports it when used)
NOT_AT_START = (
    "alembic",  # migrations: `keel migrate`
    "advanced_alchemy.extensions.litestar",  # imports Alembic commands and the Litestar CLI
    "litestar.cli",
    "rich_click",
    "numpy",  # speech engines and charts
    "matplotlib",
    "faster_whisper",
    "ctranslate2",
    "onnxruntime",
    "openai",
    "redis",  # only with REDIS_URL
    "pydantic",  # advanced-alchemy's and Litestar's optional support; Keel's schemas are msgspec
    "rich",  # structlog's pretty tracebacks, httpx's command line tool
    "pygments",
    "click",  # httpx's command line tool (a `keel serve` process has it: its own command line)
    "jinja2",  # the swagger-ui package's templates (Keel serves its static assets only)
    "swagger_ui",
    "email_validator",  # the first address to check loads it
    "aiosmtplib",  # the first mail sent loads it
    "procrastinate",  # the first job deferred, or the in-process worker's start (keel.core.jobs_server)
    "psycopg",  # procrastinate's connector
    "psycopg_pool",
    "obstore",  # the first file stored or read on local disk (an S3 store is made at start-up)
    "tenacity",  # a configured remote speech engine's retries
    "pdb",  # Litestar's default debugger for pdb_on_exception
    "yaml",  # Litestar's YAML rendering of the schema (Keel serves it as JSON)
)

PROBE = """
import json, sys
import keel.asgi
print(json.dumps(sorted(m for m in sys.modules)))
"""


def test_serving_process_does_not_import_what_serving_does_not_use(tmp_path: Path) -> None:
    apps = ",".join(a for a in KNOWN_APPS if (SRC / "apps" / a / "plugin.py").exists())
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(
        KEEL_ENV="test",
        KEEL_APPS=apps,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/start.db",
        STORAGE_URL=f"file://{tmp_path}/storage",
        JWT_SECRET="start-up-test-secret-0123456789abcdefghijkl",  # noqa: S106
        LOG_LEVEL="WARNING",
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "keel.asgi" in loaded and {f"keel.apps.{a}" for a in apps.split(",")} <= loaded
    imported = sorted(name for name in NOT_AT_START if name in loaded)
    assert imported == [], f"imported at start-up: {imported}"


class BuiltOnFirstUse:
    """Stands for what a first request builds that lives on (a compiled statement, a lazy import)."""


async def test_what_first_use_built_is_frozen_once_the_app_has_settled(app, monkeypatch) -> None:
    """After SETTLE_AFTER the objects the running app holds leave the collector's reach, so its full
    collections stop walking them; a stopped app schedules no more settling."""
    monkeypatch.setattr(keel, "SETTLE_AFTER", (0.3, 1.2))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        started, frozen_before = time.monotonic(), gc.get_freeze_count()
        kept = BuiltOnFirstUse()
        app.state["kept_for_the_test"] = kept
        assert (await client.get("/health")).status_code == 200
        for _ in range(200):  # the first settling, 0.3 s after start-up, however busy the machine is
            if gc.get_freeze_count() > frozen_before:
                break
            await asyncio.sleep(0.05)
        assert not any(obj is kept for obj in gc.get_objects()), "still walked by every full collection"
    after_stop = BuiltOnFirstUse()
    await asyncio.sleep(max(0.0, started + 1.6 - time.monotonic()))  # past the second settling's time
    assert any(obj is after_stop for obj in gc.get_objects()), "the stopped app settled again"
