"""Catalog data is reloaded when the catalog's version moves, not after a blind delay."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from indicators.results.catalog_cache import CatalogCache, UpstreamUnavailable
from indicators.sources.memory import MemoryCatalog
from indicators.sources.protocols import SourceUnavailable
from indicators.sources.types import InstitutionInfo


@dataclass
class FlakyCatalog(MemoryCatalog):
    """A catalog that can be taken down."""

    down: bool = False

    async def version(self) -> int:
        if self.down:
            raise SourceUnavailable("catalog unreachable: ConnectError")
        return await super().version()

    async def institutions(self) -> list[InstitutionInfo]:
        if self.down:
            raise SourceUnavailable("catalog unreachable: ConnectError")
        return await super().institutions()


def _institution(code: str, resort: str | None = None) -> InstitutionInfo:
    return InstitutionInfo(code=code, name=code, sector="state", kind="ministry", resort=resort)


def test_a_new_catalog_version_reloads_and_an_unchanged_one_does_not() -> None:
    catalog = FlakyCatalog(institution_rows=[_institution("VK")])
    cache = CatalogCache(catalog, ttl_s=3600, check_s=0)

    async def scenario() -> None:
        assert set(await cache.institutions()) == {"VK"}
        catalog.institution_rows.append(_institution("KNAB"))
        assert set(await cache.institutions()) == {"VK"}  # same version: nothing asked again
        assert catalog.calls == 1
        catalog.version_number += 1
        assert set(await cache.institutions()) == {"VK", "KNAB"}
        assert catalog.calls == 2

    asyncio.run(scenario())


def test_while_the_catalog_is_down_what_was_loaded_is_served() -> None:
    catalog = FlakyCatalog(institution_rows=[_institution("VK")])
    cache = CatalogCache(catalog, ttl_s=3600, check_s=0)

    async def scenario() -> None:
        assert set(await cache.institutions()) == {"VK"}
        catalog.down = True
        assert set(await cache.institutions()) == {"VK"}

    asyncio.run(scenario())
    empty = CatalogCache(FlakyCatalog(down=True), ttl_s=3600, check_s=0)
    with pytest.raises(UpstreamUnavailable):  # nothing loaded yet: a 503
        asyncio.run(empty.institutions())
