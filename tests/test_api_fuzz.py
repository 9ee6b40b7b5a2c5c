"""OpenAPI fuzzing of the whole app: every operation of every installed app, as a real user and anonymously.

Checks: no 5xx, every status code and content type documented, bodies and headers match their schema.
The schema is read from an app built at import (no lifespan, no database), so pytest gets one test per
operation; the requests go to `fuzz_app`, the real app on the per-run test database, which schemathesis
drives in-process through its ASGI transport (a sync `requests` session; the app's event loop and
lifespan run in schemathesis's background thread, and the plugin ends the lifespan with each test).
Only one app runs a lifespan at a time (the job queue is process-wide), so the user and their rows are
made through the fuzz app itself, like the identity fixtures do. Generation is derandomized (a fixed
seed): the same cases every run, so a failure always reproduces.

The default run takes a few minutes. A deeper one adds schemathesis's coverage phase (boundary and
near-boundary values of every parameter) and more examples, e.g.
`FUZZ_PHASES=examples,coverage,fuzzing FUZZ_MAX_EXAMPLES=50 pytest tests/test_api_fuzz.py`.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from limits import parse
from litestar.serialization import encode_json
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import keel.apps
from fixtures.identity import DEFAULT_PASSWORD, AuthUser
from keel.app import API_PREFIX, KNOWN_APPS, KeelApp, create_app
from keel.settings import Settings, load_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # fixed seed: the same cases every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),  # slow examples on a loaded machine are not a failure
)
# without a token every protected operation stops at 401; fewer examples cover that
ANONYMOUS_SETTINGS = settings(FUZZ_SETTINGS, max_examples=max(1, MAX_EXAMPLES // 2))
STREAM_WINDOW = 1.0  # seconds of an event stream that get checked
STREAM_START_LIMIT = 15.0  # seconds a stream may take to start on a loaded machine
BASE_URL = f"http://{schemathesis_asgi.HOST}"
# every known app that exists in this checkout (segmint and market join when their plugin lands)
FUZZED_APPS = [name for name in KNOWN_APPS if (Path(keel.apps.__file__).parent / name / "plugin.py").exists()]
_users = itertools.count(1)


def _openapi_document() -> dict[str, Any]:
    schema_settings = load_settings(
        None,
        keel_env="test",
        keel_apps=",".join(FUZZED_APPS),
        database_url="sqlite+aiosqlite:///:memory:",
        redis_url="",
        log_level="WARNING",
        jwt_secret="schema-only-secret-that-is-long-enough-0123456789",  # noqa: S106 - never signs anything
    )
    return json.loads(encode_json(create_app(schema_settings).openapi_schema.to_schema()))


schema = schemathesis.openapi.from_dict(_openapi_document())
schema.config.phases.update(phases=os.environ.get("FUZZ_PHASES", "examples,fuzzing").split(","))


@pytest.fixture
def fuzz_app(base_settings: Settings) -> KeelApp:
    """A fresh app per test, like the `app` fixture: schemathesis ends the lifespan it started with each
    test, and an app's plugins are not made to start twice."""
    app = create_app(base_settings)
    # every test registers its account from the one client address schemathesis uses, and the fuzz
    # should reach the login handler rather than its per-address throttle
    app.state.identity.register_limit = parse("100000/hour")
    app.state.identity.login_ip_limit = parse("100000/minute")
    return app


@dataclass
class FuzzAccount:
    """A user and rows of theirs: path parameters alternate between these ids and generated ones, so
    handlers run past their 404 as well."""

    user: AuthUser
    known_ids: dict[tuple[str, str], str]  # (path prefix, parameter name) -> id
    calls: Iterator[int]

    def use_known_ids(self, case: Any) -> None:
        if next(self.calls) % 2 == 0 or not case.path_parameters:
            return
        for name in case.path_parameters:
            for (prefix, param), value in self.known_ids.items():
                if param == name and case.path.startswith(prefix):
                    case.path_parameters[name] = value


def _created(resp: Any, *path: str) -> str:
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    for key in path:
        data = data[key]
    return data["id"]


@pytest.fixture
def fuzz_account(fuzz_app: KeelApp) -> FuzzAccount:
    """A fresh account per operation (one may log it out or delete it), registered through the API like
    the identity fixtures do, with a few rows of its own made through the API too."""
    email = f"fuzz{next(_users)}@example.com"
    with schemathesis_asgi.get_client(fuzz_app) as client:
        resp = client.post(
            "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD, "name": "Fuzz User"}
        )
        assert resp.status_code == 201, resp.text
        data = resp.json()["data"]
        user = AuthUser(
            id=data["user"]["id"],
            email=email,
            password=DEFAULT_PASSWORD,
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            session_id=data["session_id"],
            roles=data["user"]["roles"],
        )
        known = {
            (f"{API_PREFIX}/auth/sessions/", "session_id"): user.session_id,
            (f"{API_PREFIX}/users/", "user_id"): user.id,
        }
        if "gym" in FUZZED_APPS:
            gym, headers = f"{API_PREFIX}/gym", user.headers
            exercise = _created(client.post(f"{gym}/exercises", json={"name": "Fuzz lift"}, headers=headers))
            plan = _created(
                client.post(
                    f"{gym}/workout-plans",
                    json={"name": "Fuzz plan", "exercises": [{"exercise_id": exercise}]},
                    headers=headers,
                )
            )
            session = _created(client.post(f"{gym}/sessions", json={"name": "Fuzz session"}, headers=headers))
            set_id = _created(
                client.post(
                    f"{gym}/sessions/{session}/sets",
                    json={"exercise_id": exercise, "reps": 5, "weight": 50},
                    headers=headers,
                ),
                "set",
            )
            known |= {
                (f"{gym}/", "item_id"): exercise,
                (f"{gym}/", "plan_id"): plan,
                (f"{gym}/", "session_id"): session,
                (f"{gym}/", "set_id"): set_id,
            }
        if "scribe" in FUZZED_APPS:
            upload = client.post(
                f"{API_PREFIX}/scribe/files/upload/raw",
                params={"filename": "fuzz.wav"},
                data=_silence_wav(),
                headers={**user.headers, "Content-Type": "audio/wav"},
            )
            known[(f"{API_PREFIX}/scribe/files/", "file_id")] = _created(upload)
    return FuzzAccount(user=user, known_ids=known, calls=itertools.count())


def _silence_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * 4000)
    return out.getvalue()


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_as_user(case: Any, fuzz_app: KeelApp, fuzz_account: FuzzAccount) -> None:
    fuzz_account.use_known_ids(case)
    _call(case, fuzz_app, fuzz_account.user.headers)


@schema.parametrize()
@ANONYMOUS_SETTINGS
def test_fuzz_anonymous(case: Any, fuzz_app: KeelApp) -> None:
    _call(case, fuzz_app, None)


def _call(case: Any, app: KeelApp, headers: dict[str, str] | None) -> Any:
    # An event stream never ends: schemathesis keeps what it sent within the timeout and checks that.
    # Any other request must answer well within its (generous, loaded-machine) timeout.
    streams = "text/event-stream" in json.dumps(
        case.operation.definition.raw.get("responses", {}).get("200", {})
    )
    if not streams:
        return case.call_and_validate(app=app, base_url=BASE_URL, headers=headers, checks=CHECKS, timeout=60)
    try:
        return case.call_and_validate(
            app=app, base_url=BASE_URL, headers=headers, checks=CHECKS, timeout=STREAM_WINDOW
        )
    except requests.exceptions.ReadTimeout:
        # the stream did not even start within the window (a cold, loaded machine): a longer one must do
        return case.call_and_validate(
            app=app, base_url=BASE_URL, headers=headers, checks=CHECKS, timeout=STREAM_START_LIMIT
        )


def test_fuzz_covers_every_installed_app(base_settings: Settings) -> None:
    """The fuzzed schema has operations of every app this checkout installs, the same apps the tests run."""
    assert ",".join(FUZZED_APPS) == base_settings.keel_apps
    for name in FUZZED_APPS:
        assert any(path.startswith(f"{API_PREFIX}/{name}/") for path in schema.raw_schema["paths"]), name


def test_retried_set_answer_is_documented(fuzz_app: KeelApp, fuzz_account: FuzzAccount) -> None:
    """Generated cases never repeat a client_id; a retry of a logged set answers 200, checked by hand."""
    gym = f"{API_PREFIX}/gym"
    session_id = fuzz_account.known_ids[(f"{gym}/", "session_id")]
    exercise_id = fuzz_account.known_ids[(f"{gym}/", "item_id")]
    body = {"exercise_id": exercise_id, "reps": 5, "client_id": str(uuid4())}
    operation = schema[f"{gym}/sessions/{{session_id}}/sets"]["POST"]
    statuses = []
    for _ in range(2):
        case = operation.Case(
            path_parameters={"session_id": session_id}, body=body, media_type="application/json"
        )
        statuses.append(_call(case, fuzz_app, fuzz_account.user.headers).status_code)
    assert statuses == [201, 200]
