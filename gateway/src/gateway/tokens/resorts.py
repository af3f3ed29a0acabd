"""A resort restriction becomes a list of institution codes when a token is issued.

The catalog owns institutions, so the gateway asks it, with a short-lived token of its own
(scope catalog:read), for `GET /v1/institutions?parent=<ministry>` and pages through the
answer ({data: [{code, ...}], next_cursor}). The ministry itself belongs to its resort. Lists
are cached for resort_cache_s so reorganisations reach new tokens within that time. When the
catalog cannot answer, no token is issued (fail closed): a missing list must never turn a
restricted client into an unrestricted one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from gateway.settings import GatewaySettings
from pilnveide_kit.signing import TokenSigner

#: The gateway's own identity in the tokens it mints for itself.
GATEWAY_CLIENT_ID = "pilnveide-gateway"
MAX_PAGES = 100


class ResortUnavailable(RuntimeError):
    """The catalog could not say which institutions form a resort."""


class ResortResolver:
    """Resort code → institution codes, from the catalog, cached."""

    def __init__(
        self,
        settings: GatewaySettings,
        signer: Callable[[], TokenSigner],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._signer = signer
        self._transport = transport
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    def institutions(self, resort: str) -> tuple[str, ...]:
        """Every institution code of the resort, the ministry included."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(resort)
        if cached and now - cached[0] < self.settings.resort_cache_s:
            return cached[1]
        codes = self._ask_catalog(resort)
        with self._lock:
            self._cache[resort] = (now, codes)
        return codes

    def _ask_catalog(self, resort: str) -> tuple[str, ...]:
        token = self._signer().issue(GATEWAY_CLIENT_ID, ["catalog:read"], lifetime_s=60).token
        codes = {resort}
        params: dict[str, str | int] = {"parent": resort, "limit": 500}
        try:
            with httpx.Client(
                base_url=self.settings.catalog_url,
                transport=self._transport,
                timeout=httpx.Timeout(
                    self.settings.read_timeout_s, connect=self.settings.connect_timeout_s
                ),
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                for _ in range(MAX_PAGES):
                    answer = client.get("/v1/institutions", params=params)
                    answer.raise_for_status()
                    page = answer.json()
                    codes.update(str(item["code"]) for item in page.get("data", []))
                    cursor = page.get("next_cursor")
                    if not cursor:
                        return tuple(sorted(codes))
                    params["cursor"] = cursor
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ResortUnavailable(
                f"The catalog could not list the institutions of resort {resort!r}"
            ) from exc
        raise ResortUnavailable(f"The resort {resort!r} has too many institutions to list")
