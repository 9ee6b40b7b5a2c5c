"""`keel serve` refuses a configuration that would silently split shared state between processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KEEL = str(Path(sys.executable).with_name("keel"))


def _env(settings, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "WORKERS")}
    env.update(KEEL_ENV="test", DATABASE_URL=settings.database_url, JWT_SECRET=settings.jwt_secret, **extra)
    return env


def test_serve_with_several_workers_needs_redis(settings, tmp_path: Path) -> None:
    for args, extra in ((["--workers", "2"], {}), ([], {"WORKERS": "3"})):
        done = subprocess.run(  # noqa: S603
            [KEEL, "serve", "--port", "1", *args],
            env=_env(settings, **extra),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("Error:") and "REDIS_URL" in lines[0]
        assert "Traceback" not in done.stderr
