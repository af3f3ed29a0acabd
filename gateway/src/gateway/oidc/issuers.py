"""The configured identity providers at run time: discovery and signing keys, fetched lazily.

A provider's discovery document (<issuer>/.well-known/openid-configuration) is read on its first
sign-in, and again after discovery_cache_s; its `issuer` must equal the configured one (OpenID
Connect Discovery §4.3) and its `jwks_uri` gives the keys. Keys are cached by kid in the kit's
KeySet and fetched again when a token names an unknown kid (a key rotation), at most every
jwks_min_reload_s. An unreachable provider makes the exchange answer 503, never a token.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from gateway.oidc.providers import OidcProvider
from gateway.tokens.service import OAuthError
from pilnveide_kit.auth import KeySet


class ProviderUnavailable(OAuthError):
    """The provider's discovery document or keys could not be read."""

    def __init__(self, provider: OidcProvider, reason: str) -> None:
        super().__init__(
            503,
            "temporarily_unavailable",
            f"The identity provider {provider.name!r} cannot be reached ({reason}); try again",
            headers={"Retry-After": "5"},
        )


class Issuer:
    """One provider with its discovered JWKS URL and cached keys."""

    def __init__(
        self,
        provider: OidcProvider,
        *,
        timeout_s: float,
        discovery_cache_s: float,
        jwks_min_reload_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self._timeout = timeout_s
        self._discovery_cache = discovery_cache_s
        self._transport = transport
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._discovered_at = 0.0
        self.keys = KeySet(loader=self._fetch_jwks, min_reload_interval_s=jwks_min_reload_s)

    def _get(self, url: str) -> dict[str, Any]:
        with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
            answer = client.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            document = answer.json()
        if not isinstance(document, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return document

    def jwks_uri(self) -> str:
        """The provider's jwks_uri from its discovery document (cached; ProviderUnavailable)."""
        with self._lock:
            fresh = time.monotonic() - self._discovered_at < self._discovery_cache
            if self._jwks_uri is not None and fresh:
                return self._jwks_uri
            url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                document = self._get(url)
            except (httpx.HTTPError, ValueError) as exc:
                if self._jwks_uri is not None:  # keep what we had while the provider is down
                    return self._jwks_uri
                raise ProviderUnavailable(self.provider, "discovery failed") from exc
            if document.get("issuer") != self.provider.issuer:
                raise ProviderUnavailable(self.provider, "its discovery names another issuer")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
                raise ProviderUnavailable(self.provider, "its discovery has no jwks_uri")
            self._jwks_uri, self._discovered_at = jwks_uri, time.monotonic()
            return jwks_uri

    def _fetch_jwks(self) -> dict[str, Any]:
        # Called by the KeySet under its lock; a failure keeps the keys it has.
        return self._get(self.jwks_uri())

    def prepare(self) -> None:
        """Make sure discovery worked (ProviderUnavailable otherwise), before verifying."""
        self.jwks_uri()


class Issuers:
    """The configured providers by issuer."""

    def __init__(
        self,
        providers: list[OidcProvider],
        *,
        timeout_s: float,
        discovery_cache_s: float,
        jwks_min_reload_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._by_issuer = {
            p.issuer: Issuer(
                p,
                timeout_s=timeout_s,
                discovery_cache_s=discovery_cache_s,
                jwks_min_reload_s=jwks_min_reload_s,
                transport=transport,
            )
            for p in providers
        }

    def __bool__(self) -> bool:
        return bool(self._by_issuer)

    def find(self, issuer: str) -> Issuer | None:
        """The provider whose issuer is exactly this one."""
        return self._by_issuer.get(issuer)
