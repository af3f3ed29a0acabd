"""The services behind the gateway and how public paths map onto them."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.settings import GatewaySettings


@dataclass(frozen=True)
class Upstream:
    """One service: its public prefix, its base URL, and whether the prefix is stripped."""

    name: str
    prefix: str
    base_url: str
    strip_prefix: bool = True
    schema_prefix: str = ""

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
