"""Accept-Language negotiation (RFC 9110 §12.5.4), reduced to what the services offer.

Which languages a service offers, and what it does when none is chosen, are the service's: the
kit only reads the header.
"""

from __future__ import annotations

from collections.abc import Collection


def _quality(params: str) -> float:
    """The q parameter of one language range (1 when absent, 0 when unreadable)."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def preferred_language(accept_language: str | None, offered: Collection[str]) -> str | None:
    """The offered language the header prefers most (by primary subtag and q; the first listed
    wins a tie), or None when it names none of them with a quality above zero."""
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in offered:
            continue
        quality = _quality(params)
        if quality > 0 and (best is None or quality > best[0]):
            best = (quality, primary)
    return best[1] if best else None
