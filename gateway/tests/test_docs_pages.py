"""Swagger UI and ReDoc load from the gateway itself: no external URL, so they work offline."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

#: Anything that would make the browser leave the gateway: a scheme or a protocol-relative URL.
EXTERNAL = re.compile(r"https?:|(?:src|href|url)\s*=\s*[\"']?//|url\(\s*[\"']?//", re.I)


@pytest.mark.parametrize(
    ("path", "script"),
    [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")],
)
def test_docs_page_loads_with_no_external_url(client: TestClient, path: str, script: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert EXTERNAL.search(page.text) is None, page.text
    assert "/openapi.json" in page.text
    assets = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text)
    assert any(asset.endswith(script) for asset in assets)
    for asset in assets:
        # Public like the page itself: no token for the page's own scripts and styles.
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 1000 or asset.endswith(".png")


def test_docs_assets_are_the_installed_bundles(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in script.content
    assert b"Redoc" in client.get("/docs/assets/redoc.standalone.js").content
    assert client.get("/docs/assets/missing.js").status_code == 404
