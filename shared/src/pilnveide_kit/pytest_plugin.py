"""Pytest fixtures every service's tests use: the database backend and a token factory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pilnveide_kit.testing import BACKENDS, TokenFactory, postgres_reachable


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each database test runs on SQLite and, when it is reachable, on PostgreSQL."""
    if request.param == "postgresql" and not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable (set PILNVEIDE_TEST_POSTGRES_URL)")
    return str(request.param)


@pytest.fixture(scope="session")
def tokens() -> Iterator[TokenFactory]:
    """A signing key and the JWKS that services under test trust."""
    yield TokenFactory()
