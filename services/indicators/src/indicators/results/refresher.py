"""Compute stored results again when the records change feed or the catalog's version moves.

Each app instance runs one refresher in the background. Every `refresh_interval_s` it asks the
feed head and the catalog's version, lists the stored results behind either (read within
`refresh_keep_s`) and computes each one it can claim; a replica that finds the claim taken, or
the result already at the head, leaves it. Reads never wait for it: they serve what is stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from datetime import timedelta

from indicators.definitions.models import utcnow
from indicators.results.service import IndicatorsService
from indicators.results.store import Stale

log = logging.getLogger("indicators.refresher")

#: At most this many stale results are taken up per tick (the rest wait for the next).
BATCH = 500


class Refresher:
    """The background loop that keeps stored results at the feed head."""

    def __init__(self, service: IndicatorsService) -> None:
        self.service = service
        settings = service.settings
        self.interval_s = settings.refresh_interval_s
        self.keep_s = settings.refresh_keep_s
        self.gate = asyncio.Semaphore(settings.refresh_concurrency)
        #: Completed ticks (tests wait on it).
        self.ticks = 0
        self._stop = asyncio.Event()

    async def tick(self) -> int:
        """One pass: compute again what is behind; how many results were stored."""
        service, store = self.service, self.service.store
        head = await service.head()
        await service.catalog.institutions()  # follows the catalog's version
        catalog_version = service.catalog.version
        since = utcnow() - timedelta(seconds=self.keep_s)
        stale = await asyncio.to_thread(store.stale, head, catalog_version, since, BATCH)
        done = await asyncio.gather(*(self._one(item, head, catalog_version) for item in stale))
        self.ticks += 1
        return sum(done)

    async def _one(self, item: Stale, head: int, catalog_version: int | None) -> int:
        store = self.service.store
        async with self.gate:
            if not await asyncio.to_thread(store.claim, item.key, head, catalog_version):
                return 0  # another replica has it, or it is at the head already
            try:
                definition = await asyncio.to_thread(
                    self.service.read_definition, item.code, item.definition_version
                )
                result, cutoff, version = await self.service.compute_now(definition, item.params)
            except Exception:
                log.exception("recomputing %s failed; it is tried again next tick", item.code)
                await asyncio.to_thread(store.release, item.key)
                return 0
            except BaseException:
                await asyncio.to_thread(store.release, item.key)
                raise
            await asyncio.to_thread(store.put, item.key, result, cutoff, version)
            return 1

    async def run(self) -> None:
        """Tick every `interval_s` until stopped (errors are logged, the loop goes on). While
        ticks keep failing (learning-records down), the wait doubles up to a minute and only
        the first failure is logged with its traceback, then one line a minute at most."""
        failures, last_logged = 0, 0.0
        while not self._stop.is_set():
            try:
                await self.tick()
                if failures:
                    log.info("result refresh works again after %s failed tries", failures)
                failures = 0
            except Exception as exc:
                failures += 1
                now = time.monotonic()
                if failures == 1:
                    log.warning("result refresh failed; trying again", exc_info=True)
                    last_logged = now
                elif now - last_logged >= 60:
                    log.warning("result refresh still failing (%s tries): %s", failures, exc)
                    last_logged = now
            # interval_s while ticks succeed; doubled with each failure, up to a minute
            wait = min(self.interval_s * 2 ** min(failures, 10), max(self.interval_s, 60.0))
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    def stop(self) -> None:
        """Finish the tick under way, then end `run` (a computation cut off mid-way would leave
        its claim until the lease ends and, in-process, a database session half closed)."""
        self._stop.set()
