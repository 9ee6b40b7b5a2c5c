"""The fault suite owns its services (PostgreSQL cluster, redis-server, Keel processes): it neither needs
nor empties the shared test database and Redis that tests/conftest.py cleans after every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    yield
