"""Each app's user documentation is a walk-through a reader can paste: the doc's fenced ```sh blocks run,
in order, in one bash session (variables such as TOKEN carry from one step to the next, as the doc shows),
with the real `curl` binary against a real server on a free port after `keel migrate`'s seed data. Every
curl call must answer 2xx; a failing one stops the walk-through there."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from core_platform_helpers import serve
from keel.app import app_seeders, create_app, enabled_apps
from keel.core.seed import run_seeders
from keel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("gym", "scribe", "market", "segmint")
DOC_SERVER = "http://127.0.0.1:8000"  # where the docs say `make run` serves
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
CURL_CALL = re.compile(r"(?<![\w./-])curl\s")
STATUS = re.compile(r"^CURL-STATUS (\d{3}) (\S+)$", re.M)
# the test's own curl: the real binary, failing on a 4xx/5xx (with the body shown), and reporting each
# call's status on stderr, where it mixes with nothing the doc pipes into jq
PRELUDE = """\
set -euo pipefail
curl() {
  command curl --show-error --fail-with-body \\
    --write-out '%{stderr}CURL-STATUS %{http_code} %{url_effective}\\n' "$@"
}
"""


def walkthrough(doc: str) -> list[str]:
    return BLOCK.findall((ROOT / "docs" / f"{doc}.md").read_text())


def test_every_app_doc_has_a_curl_walkthrough() -> None:
    for doc in DOCS:
        blocks = walkthrough(doc)
        assert blocks, f"docs/{doc}.md has no ```sh block"
        assert any(CURL_CALL.search(block) for block in blocks), doc
        assert DOC_SERVER in blocks[0], f"docs/{doc}.md: the first block names the server"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("doc", DOCS)
async def test_doc_walkthrough_runs_against_a_real_server(
    doc: str, settings: Settings, tmp_path: Path
) -> None:
    for tool in ("bash", "curl", "jq", *(["espeak-ng"] if doc == "scribe" else [])):
        assert shutil.which(tool), f"the walk-through needs {tool} (.ci/run installs it)"
    blocks = walkthrough(doc)
    await run_seeders(settings, app_seeders(enabled_apps(settings)))  # what `keel migrate` loads
    async with serve(create_app(settings)) as base:
        script = PRELUDE + "\n".join(blocks).replace(DOC_SERVER, base)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 500)
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    report = f"docs/{doc}.md walk-through:\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    assert proc.returncode == 0, report
    statuses = STATUS.findall(stderr)
    calls = sum(len(CURL_CALL.findall(block)) for block in blocks)
    assert len(statuses) >= calls, report  # every call in the doc ran (a polling loop may run one more often)
    assert all(code.startswith("2") for code, _ in statuses), report
