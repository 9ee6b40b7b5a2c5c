"""A Python client generated from the schema a running server serves (openapi-python-client), as a user
of the API would make one: it generates without a warning, `mypy --strict` accepts it together with a
script that uses it, and that script's calls work against the real server (register, login,
`/users/me`, one list per app, a multipart upload)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from core_platform_helpers import serve
from keel.app import create_app
from keel.settings import Settings

BIN = Path(sys.executable).parent
# media types the generator does not know by name: their bodies are bytes (the schema types them as
# binary); this is the generator's documented `content_type_overrides` setting
GENERATOR_CONFIG = """\
content_type_overrides:
  image/png: application/octet-stream
  image/svg+xml: application/octet-stream
  audio/*: application/octet-stream
  video/*: application/octet-stream
  application/pdf: application/octet-stream
  application/vnd.openxmlformats-officedocument.wordprocessingml.document: application/octet-stream
  text/csv: application/octet-stream
"""
# the generator's own hand-written `client.py` (not made from our schema) passes `*args: object` to
# httpx's typed `__exit__`; everything generated from the schema is checked with no exception
MYPY_CONFIG = """\
[mypy]
strict = True
warn_unused_ignores = False

[mypy-keel_client.client]
disable_error_code = arg-type
"""

CALLS = r'''
"""Uses the generated client the way its README shows; prints what it saw as JSON."""

import io
import json
import sys
import uuid

from keel_client import AuthenticatedClient, Client
from keel_client.api.auth import auth_login, auth_register
from keel_client.api.gym import gym_import_csv, gym_list_sessions
from keel_client.api.market import market_list_chats
from keel_client.api.scribe import scribe_list_transcriptions
from keel_client.api.segmint import segmint_list_content
from keel_client.api.users import users_me
from keel_client.models import (
    AccountCreate,
    EnvelopeTokenRead,
    EnvelopeImportPreviewRead,
    EnvelopeUserRead,
    GymImportCsvFilesBody,
    GymImportCsvUnit,
    GymPageSessionRead,
    PageChatRead,
    PageContentRead,
    PageTranscriptionRead,
    SessionCreate,
)
from keel_client.types import File

STRONG_CSV = (
    "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
    "Workout Notes,RPE\n"
    "2026-01-05 10:00:00,Push,1h,Bench Press (Barbell),1,100,5,0,0,,,8\n"
    "2026-01-05 10:00:00,Push,1h,Bench Press (Barbell),2,100,4,0,0,,,9\n"
).encode()


def main(base_url: str) -> None:
    email = f"client-{uuid.uuid4().hex[:8]}@example.com"
    password = "generated client " + uuid.uuid4().hex
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    registered = auth_register.sync(client=anonymous, body=AccountCreate(email=email, password=password))
    assert isinstance(registered, EnvelopeTokenRead), registered
    logged_in = auth_login.sync(client=anonymous, body=SessionCreate(email=email, password=password))
    assert isinstance(logged_in, EnvelopeTokenRead), logged_in
    token = logged_in.data.access_token
    assert isinstance(token, str)
    client = AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)
    me = users_me.sync(client=client)
    assert isinstance(me, EnvelopeUserRead), me
    sessions = gym_list_sessions.sync(client=client, limit=5)
    assert isinstance(sessions, GymPageSessionRead), sessions
    transcriptions = scribe_list_transcriptions.sync(client=client)
    assert isinstance(transcriptions, PageTranscriptionRead), transcriptions
    chats = market_list_chats.sync(client=client)
    assert isinstance(chats, PageChatRead), chats
    content = segmint_list_content.sync(client=client)
    assert isinstance(content, PageContentRead), content
    upload = File(payload=io.BytesIO(STRONG_CSV), file_name="strong.csv", mime_type="text/csv")
    body = GymImportCsvFilesBody(file=upload)
    preview = gym_import_csv.sync(client=client, body=body, unit=GymImportCsvUnit.KG)
    assert isinstance(preview, EnvelopeImportPreviewRead), preview
    seen = {
        "email": me.data.email,
        "registered_as": registered.data.user.email,
        "totals": [page.meta.total for page in (sessions, transcriptions, chats, content)],
        "limit": sessions.meta.limit,
        "previewed_sets": preview.data.sets,
        "import_errors": len(preview.data.errors),
    }
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
'''


async def run(*args: str, cwd: Path, seconds: float = 600) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), seconds)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_generated_python_client_type_checks_and_calls_the_server(
    settings: Settings, tmp_path: Path
) -> None:
    async with serve(create_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            served = await http.get("/schema/openapi.json")
        assert served.status_code == 200
        (tmp_path / "openapi.json").write_bytes(served.content)
        (tmp_path / "generator.yaml").write_text(GENERATOR_CONFIG)
        code, out = await run(
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--config",
            "generator.yaml",
            "--meta",
            "none",
            "--output-path",
            "keel_client",
            cwd=tmp_path,
        )
        assert code == 0, out
        # every schema, operation and response made it into the client: no part was skipped
        assert "Warning" not in out and "WARNING" not in out and "Unable" not in out, out

        (tmp_path / "calls.py").write_text(CALLS)
        (tmp_path / "mypy.ini").write_text(MYPY_CONFIG)
        code, out = await run(
            sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "keel_client", "calls.py", cwd=tmp_path
        )
        assert code == 0, out[-6000:]

        code, out = await run(sys.executable, "calls.py", base, cwd=tmp_path, seconds=120)
        assert code == 0, out[-4000:]
    seen: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    assert seen["email"] == seen["registered_as"] and seen["email"].startswith("client-")
    assert seen["totals"] == [0, 0, 0, 0] and seen["limit"] == 5
    assert (seen["previewed_sets"], seen["import_errors"]) == (2, 0)  # a multipart upload the client made
