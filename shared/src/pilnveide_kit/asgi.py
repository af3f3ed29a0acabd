"""What every request-checking ASGI middleware of the kit shares."""

from __future__ import annotations

from starlette.types import Scope


def passes_through(scope: Scope, skip_prefixes: tuple[str, ...]) -> bool:
    """True for what a request middleware leaves alone: anything but HTTP (lifespan,
    websockets), and paths under one of the skipped prefixes (e.g. the gateway's proxied ones,
    which the service behind checks itself)."""
    if scope["type"] != "http":
        return True
    return bool(skip_prefixes) and str(scope.get("path", "")).startswith(skip_prefixes)
