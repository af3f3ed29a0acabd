"""Audit entries written in batches, off the request path, and never lost at a clean shutdown.

The middleware hands each entry to the AuditWriter and answers at once. The writer stores what
is pending in one transaction every `audit_flush_interval_s` (sooner when `audit_batch_size`
entries wait), in a worker thread. A batch that cannot be stored stays pending and is tried
again; while more than `audit_max_pending` entries wait (the database is down), requests fall
back to writing their own entry before answering, which fails closed as before: no entry, no
answer. At shutdown the lifespan stores everything still pending before the process ends, and
`GET /admin/audit` stores what is pending before it reads, so the log it shows is complete.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from sqlalchemy import insert
from starlette.concurrency import run_in_threadpool

from gateway.audit.models import AuditEntry
from pilnveide_kit.db import session_scope

log = logging.getLogger("pilnveide.audit")

#: How often a final flush is tried at shutdown before the entries are given up (logged).
SHUTDOWN_ATTEMPTS = 3


def write_entries(engine: Any, rows: list[dict[str, Any]]) -> None:
    """Store entries (column → value) in one transaction."""
    with session_scope(engine) as session:
        session.execute(insert(AuditEntry), rows)


class AuditWriter:
    """Pending audit entries and the task that stores them (see the module)."""

    def __init__(
        self, engine: Any, *, flush_interval_s: float, batch_size: int, max_pending: int
    ) -> None:
        self.engine = engine
        self.flush_interval_s = flush_interval_s
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._stopping = False

    @property
    def pending(self) -> int:
        """How many entries wait to be stored."""
        return len(self._pending)

    def add(self, row: dict[str, Any]) -> bool:
        """Queue an entry; False (nothing queued) when too many wait already."""
        if len(self._pending) >= self.max_pending:
            return False
        self._pending.append(row)
        if len(self._pending) >= self.batch_size:
            self._wake.set()
        return True

    async def flush(self) -> None:
        """Store every pending entry now; on failure they stay pending and the error is raised."""
        async with self._flushing:
            while self._pending:
                # Taken out before the write: a cancelled wait leaves the write to finish in its
                # thread, so the batch must not be written a second time.
                batch = self._pending[: self.batch_size]
                del self._pending[: len(batch)]
                try:
                    await run_in_threadpool(write_entries, self.engine, batch)
                except Exception:
                    self._pending[:0] = batch
                    raise

    async def _run(self) -> None:
        while not self._stopping:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("audit entries could not be stored; %d pending", self.pending)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Store entries in the background while the app runs; everything pending at the end."""
        self._stopping = False
        task = asyncio.create_task(self._run(), name="audit-writer")
        try:
            yield
        finally:
            self._stopping = True
            self._wake.set()
            await task
            for attempt in range(SHUTDOWN_ATTEMPTS):
                try:
                    await self.flush()
                    break
                except Exception:
                    log.exception("final audit flush failed (attempt %d)", attempt + 1)
                    await asyncio.sleep(0.5)
            if self._pending:
                log.error("%d audit entries could not be stored at shutdown", self.pending)
