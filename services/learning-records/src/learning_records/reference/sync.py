"""Following the catalog: a background task pulls its change feed into the copy, at start and
every few seconds, over HTTP with this service's own client credentials.

While the catalog cannot be reached the copy stays as it was (codes are checked and tags
filtered against it) and the failure is noted in the sync state; the next round catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from learning_records.reference.service import apply_changes, last_change_id, record_failure
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import session_scope
from pilnveide_kit.http import async_client
from pilnveide_kit.pagination import encode_cursor

log = logging.getLogger("learning_records.reference")

#: Changes asked for per page of the catalog's feed (its page limit).
PAGE_LIMIT = 500


class CatalogUnavailable(Exception):
    """The catalog (or the token endpoint) did not answer, or answered with an error."""


class CatalogToken:
    """The bearer token sent to the catalog: fixed, or fetched with client credentials."""

    def __init__(self, settings: LearningRecordsSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._token: str | None = None
        self._expires_at = 0.0

    async def header(self) -> dict[str, str]:
        """The Authorization header (empty when nothing is configured, as in local tests)."""
        settings = self.settings
        if settings.catalog_service_token:
            return {"Authorization": f"Bearer {settings.catalog_service_token}"}
        if not (settings.catalog_client_id and settings.catalog_client_secret):
            return {}
        if self._token is None or time.monotonic() >= self._expires_at:
            await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    async def _fetch(self) -> None:
        settings = self.settings
        try:
            answer = await self.client.post(
                settings.catalog_token_url,
                data={"grant_type": "client_credentials", "scope": "catalog:read"},
                auth=(settings.catalog_client_id or "", settings.catalog_client_secret or ""),
            )
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if answer.status_code != 200:
            raise CatalogUnavailable(f"token endpoint answered {answer.status_code}")
        body = answer.json()
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + max(float(body.get("expires_in", 300)) - 30, 5)

    def forget(self) -> None:
        """Drop a token the catalog refused."""
        self._token = None


class CatalogFeed:
    """The catalog's change feed and reference lists over HTTP."""

    def __init__(self, settings: LearningRecordsSettings, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = CatalogToken(settings, client)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        for attempt in (1, 2):
            headers = {"Accept-Language": "lv", **(await self.token.header())}
            try:
                answer = await self.client.get(path, params=params, headers=headers)
            except httpx.HTTPError as exc:
                raise CatalogUnavailable(f"catalog unreachable: {type(exc).__name__}") from exc
            if answer.status_code == 401 and attempt == 1:
                self.token.forget()
                continue
            if answer.status_code != 200:
                raise CatalogUnavailable(f"catalog answered {answer.status_code} on {path}")
            return answer.json()
        raise CatalogUnavailable("catalog refused the token")  # pragma: no cover

    async def _all_pages(self, path: str, cursor: str | None = None) -> list[dict[str, Any]]:
        """Every item of a list, page by page (the one pagination shape)."""
        found: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            body = await self._get(path, params)
            found += body.get("data", [])
            cursor = body.get("next_cursor")
            if not cursor:
                return found

    async def changes_after(self, after: int) -> list[dict[str, Any]]:
        """Every change with an id above `after`, in order."""
        return await self._all_pages("/v1/changes", encode_cursor({"id": after}) if after else None)

    async def reference_lists(self) -> list[dict[str, Any]]:
        """Every reference list with its codes."""
        return await self._all_pages("/v1/reference")


class CatalogSync:
    """Pulls the catalog into the copy: once at start, then every `interval_s` seconds."""

    def __init__(
        self,
        settings: LearningRecordsSettings,
        engine: Engine,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.client = async_client(
            settings.catalog_url or "",
            connect_timeout=settings.catalog_connect_timeout_s,
            read_timeout=settings.catalog_read_timeout_s,
            transport=transport,
        )
        self.feed = CatalogFeed(settings, self.client)

    async def sync_once(self) -> int:
        """One round: fetch what is new and apply it; how many resources changed in the copy."""
        after = await asyncio.to_thread(self._last_change_id)
        changes = await self.feed.changes_after(after)
        # The first round also takes the reference lists whole (a catalog loaded before its
        # change log recorded them has no change entries for them).
        lists = await self.feed.reference_lists() if after == 0 else []
        if not changes and not lists:
            return 0
        return await asyncio.to_thread(self._apply, changes, lists)

    def _last_change_id(self) -> int:
        with session_scope(self.engine) as session:
            return last_change_id(session)

    def _apply(self, changes: list[dict[str, Any]], lists: list[dict[str, Any]]) -> int:
        with session_scope(self.engine) as session:
            return apply_changes(session, changes, lists)

    def _note_failure(self, reason: str) -> None:
        try:
            with session_scope(self.engine) as session:
                record_failure(session, reason)
        except Exception:
            log.warning("catalog copy: the failure could not be noted in the database")

    async def run(self) -> None:
        """Sync forever; a failed round is logged and noted, and the next one tries again."""
        while True:
            try:
                applied = await self.sync_once()
                if applied:
                    log.info("catalog copy: %s resources updated", applied)
            except (CatalogUnavailable, OperationalError) as exc:
                log.warning("catalog copy not updated: %s", exc)
                await asyncio.to_thread(self._note_failure, str(exc))
            except Exception as exc:  # a bug must not stop the copy from following the catalog
                log.exception("catalog copy: unexpected error")
                await asyncio.to_thread(self._note_failure, f"unexpected: {type(exc).__name__}")
            await asyncio.sleep(self.settings.catalog_sync_interval_s)

    async def aclose(self) -> None:
        """Close the pooled client."""
        await self.client.aclose()


def with_catalog_sync(app: FastAPI, settings: LearningRecordsSettings) -> None:
    """Run the catalog sync as a background task of the app's lifespan (when enabled)."""
    if not settings.catalog_sync_enabled:
        return
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with inner(application):
            sync = CatalogSync(settings, application.state.engine)
            application.state.catalog_sync = sync
            task = asyncio.create_task(sync.run(), name="catalog-sync")
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await sync.aclose()

    app.router.lifespan_context = lifespan
