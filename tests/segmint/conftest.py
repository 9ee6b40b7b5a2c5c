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


from fixtures.network_server import network_server  # noqa: E402, F401 - the local X/LinkedIn/Mastodon/Bluesky


@pytest.fixture
def network_settings(make_settings: Any, network_server: Any) -> Any:  # noqa: F811
    """segmint with every network's API at the local network server."""
    url = network_server.url
    return make_settings(
        keel_apps="gym,scribe,segmint",
        jobs_poll_interval=0.2,
        segmint_allow_private_targets=True,
        segmint_x_client_id=network_server.CLIENT_ID,
        segmint_x_client_secret=network_server.CLIENT_SECRET,
        segmint_x_api_url=url,
        segmint_x_authorize_url=f"{url}/i/oauth2/authorize",
        segmint_linkedin_client_id=network_server.CLIENT_ID,
        segmint_linkedin_client_secret=network_server.CLIENT_SECRET,
        segmint_linkedin_api_url=url,
        segmint_linkedin_oauth_url=f"{url}/oauth/v2",
        segmint_bluesky_service=url,
        segmint_oauth_redirect_base="https://app.example.com/connect",
    )
