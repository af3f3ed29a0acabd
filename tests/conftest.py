"""Fixtures of the cross-service tests: A's and B's two worlds (built by tests/worlds.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory

from .inprocess import indicators_database, seeded_catalog
from .worlds import Stack, two_worlds


@pytest.fixture(scope="session")
def plan_catalog(
    tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The catalog indicators read (institutions, the plan), loaded once for the session."""
    with seeded_catalog(tokens, tmp_path_factory.mktemp("catalog")) as client:
        yield client


@pytest.fixture(scope="session")
def plan_indicators_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An indicators database with the plan's definitions (B's writes must leave it alone)."""
    return indicators_database(tmp_path_factory.mktemp("indicators"))


@pytest.fixture(params=["gateway", "direct"])
def worlds(
    request: pytest.FixtureRequest,
    tokens: TokenFactory,
    tmp_path: Path,
    plan_catalog: TestClient,
    plan_indicators_url: str,
) -> Iterator[Stack]:
    """A's and B's worlds in a fresh records database, indicators over it, the gateway before
    both; the callers go through the gateway or straight at the services."""
    with two_worlds(
        tokens,
        tmp_path,
        through_gateway=request.param == "gateway",
        catalog=plan_catalog,
        indicators_url=plan_indicators_url,
    ) as built:
        yield built
