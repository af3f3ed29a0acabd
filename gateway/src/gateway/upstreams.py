"""The services behind the gateway and how public paths map onto them."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import GatewaySettings

#: Paths of every service that anyone may read through the gateway.
PUBLIC_SERVICE_PATHS = frozenset({"/healthz", "/readyz", "/version", "/openapi.json"})


@dataclass(frozen=True)
class Upstream:
    """One service: its public prefix, its base URL, and whether the prefix is stripped."""

    name: str
    prefix: str
    base_url: str
    strip_prefix: bool = True
    schema_prefix: str = ""

    def is_public(self, method: str, public_path: str) -> bool:
        """Whether a request may pass without a token: a service's health, version and docs,
        and the xAPI About resource (the specification lets any client read it)."""
        if method not in ("GET", "HEAD"):
            return False
        path = self.upstream_path(public_path)
        if self.strip_prefix:
            return path in PUBLIC_SERVICE_PATHS
        return path.rstrip("/") == "/xapi/about"

    def upstream_path(self, public_path: str) -> str:
        """The path the service sees for a public path under this prefix."""
        if not self.strip_prefix:
            return public_path
        rest = public_path[len(self.prefix) :]
        return rest if rest.startswith("/") else "/" + rest


def upstreams(settings: GatewaySettings) -> list[Upstream]:
    """Routing table: /catalog, /records, /indicators (prefix stripped) and /xapi (kept)."""
    return [
        Upstream("catalog", "/catalog", settings.catalog_url, schema_prefix="Catalog"),
        Upstream("records", "/records", settings.records_url, schema_prefix="Records"),
        Upstream("indicators", "/indicators", settings.indicators_url, schema_prefix="Indicators"),
        Upstream("xapi", "/xapi", settings.records_url, strip_prefix=False),
    ]
