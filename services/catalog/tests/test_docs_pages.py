"""A service's own Swagger UI and ReDoc (the kit's pages) load with no external URL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_service_docs_page_is_offline(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert re.search(r"https?:|=\s*[\"']?//", page.text) is None, page.text
    for asset in re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text):
        assert client.get(asset).status_code == 200, asset
