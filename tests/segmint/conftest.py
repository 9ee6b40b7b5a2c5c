"""segmint test app: segmint enabled (the default KEEL_APPS does not list it yet) and a fast job poll."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from segmint.helpers import FakeServer


@pytest.fixture
def settings(make_settings: Any) -> Any:
    # publishing targets in these tests are local servers
    return make_settings(
        keel_apps="gym,scribe,segmint", jobs_poll_interval=0.2, segmint_allow_private_targets=True
    )


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()
