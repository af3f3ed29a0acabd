"""The kit's Accept-Language negotiation and the pass-through rule its middlewares share."""

from __future__ import annotations

from typing import Any

import pytest

from pilnveide_kit.asgi import passes_through
from pilnveide_kit.languages import preferred_language


@pytest.mark.parametrize(
    ("header", "offered", "expected"),
    [
        (None, ("lv", "en"), None),
        ("", ("lv", "en"), None),
        ("lv", ("lv", "en"), "lv"),
        ("en-GB,en;q=0.9", ("lv", "en"), "en"),
        ("EN-us", ("lv", "en"), "en"),
        ("de, en;q=0.3, lv;q=0.8", ("lv", "en"), "lv"),
        ("en;q=0.5, lv;q=0.5", ("lv", "en"), "en"),  # a tie: the first listed in the header
        ("fr", ("lv", "en"), None),
        ("lv;q=0", ("lv", "en"), None),
        ("lv;q=zero, en;q=0.1", ("lv", "en"), "en"),  # an unreadable q counts as 0
        ("lv; level=1; q=0.2, en;q=0.1", ("lv", "en"), "lv"),  # other parameters are skipped
        ("*", ("lv", "en"), None),
        ("de;q=0.9, fr", ("de",), "de"),  # the service says what it offers
        ("lv", (), None),
    ],
)
def test_preferred_language(header: str | None, offered: tuple[str, ...], expected: str) -> None:
    assert preferred_language(header, offered) == expected


@pytest.mark.parametrize(
    ("scope", "skipped", "expected"),
    [
        ({"type": "lifespan"}, (), True),
        ({"type": "websocket", "path": "/v1/x"}, (), True),
        ({"type": "http", "path": "/v1/x"}, (), False),
        ({"type": "http", "path": "/records/v1/x"}, ("/records", "/xapi"), True),
        ({"type": "http", "path": "/xapi/statements"}, ("/records", "/xapi"), True),
        ({"type": "http", "path": "/auth/token"}, ("/records", "/xapi"), False),
        ({"type": "http"}, ("/records",), False),
    ],
)
def test_passes_through(scope: dict[str, Any], skipped: tuple[str, ...], expected: bool) -> None:
    assert passes_through(scope, skipped) is expected
