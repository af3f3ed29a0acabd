"""Canonical content hashes: a replayed item is recognised by the hash of its content."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of a canonical JSON rendering (call it only after pseudonymising the content)."""
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def keyed_hash(data: bytes, pepper: str) -> str:
    """HMAC-SHA-256 of raw bytes that may hold personal codes (a plain hash could be reversed)."""
    return hmac.new(pepper.encode(), data, hashlib.sha256).hexdigest()
