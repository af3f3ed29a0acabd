"""The gateway's readiness (itself only) and the services' readiness, reported apart.

`/readyz` says whether this gateway process can serve: its database at the migration head and a
signing key to issue tokens with. It never asks a service: a dead or hung upstream must not take
every gateway pod out of the load balancer, and with it the other services and `/auth/token`.
`/readyz/upstreams` reports each service's `/readyz`, each asked with a short timeout.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from gateway.keys import KeyStore


class UpstreamsHealth(BaseModel):
    """Each service's readiness: "ok", "not ready (status)" or "unreachable: reason"."""

    status: str
    checks: dict[str, str]


def signing_key_check(keys: KeyStore) -> dict[str, str]:
    """Whether the gateway has a signing key to issue tokens with."""
    try:
        keys.material()
    except Exception as exc:  # a missing or unreadable key means not ready
        return {"signing_key": f"unavailable: {type(exc).__name__}"}
    return {"signing_key": "ok"}


async def upstream_readiness(client: httpx.AsyncClient, timeout_s: float) -> str:
    """One service's /readyz, answered within timeout_s or reported as unreachable."""
    try:
        answer = await client.get("/readyz", timeout=httpx.Timeout(timeout_s))
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if answer.status_code == 200 else f"not ready ({answer.status_code})"
