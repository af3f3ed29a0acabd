"""Fixtures for the LRS tests: a client speaking xAPI with the development Basic credentials,
and the pieces of two institutions' worlds (their learners' employment, their LMS clients)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from learning_records.xapi.settings import XapiSettings
from pilnveide_kit.testing import TokenFactory

KEY, SECRET = "lms-dev", "lms-dev-secret"

StatementFactory = Callable[..., dict[str, Any]]


class Lrs:
    """A TestClient that sends the xAPI version header and Basic credentials by default."""

    def __init__(self, client: TestClient, version: str = "1.0.3") -> None:
        self.client = client
        self.version = version
        self.basic = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The default headers plus extra ones (a None value removes a default)."""
        merged: dict[str, Any] = {
            "X-Experience-API-Version": self.version,
            "Authorization": self.basic,
            **(extra or {}),
        }
        return {k: v for k, v in merged.items() if v is not None}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to /xapi<path>."""
        headers = self.headers(kwargs.pop("headers", None))
        return self.client.request(method, "/xapi" + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET /xapi<path>."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST /xapi<path>."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        """PUT /xapi<path>."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        """DELETE /xapi<path>."""
        return self.request("DELETE", path, **kwargs)

    def statements(self, **params: str) -> list[dict[str, Any]]:
        """GET /statements with filters, following `more` to the end."""
        response = self.get("/statements", params=params)
        assert response.status_code == 200, response.text
        found = list(response.json()["statements"])
        more = response.json()["more"]
        while more:
            response = self.client.get(more, headers=self.headers())
            assert response.status_code == 200, response.text
            found += response.json()["statements"]
            more = response.json()["more"]
        return found


def _statement(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.lv", "name": "Learner"},
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/experienced",
            "display": {"en-US": "experienced"},
        },
        "object": {"id": "http://example.lv/activities/intro", "objectType": "Activity"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def make_statement() -> StatementFactory:
    """A valid statement with a fresh id; keyword arguments replace top-level properties."""
    return _statement


@pytest.fixture
def xapi_settings() -> XapiSettings:
    """LRS settings for tests: development credentials and small limits."""
    return XapiSettings(
        basic_dev_credentials=f"{KEY}:{SECRET}",
        max_batch_statements=50,
        max_body_bytes=200_000,
        max_attachment_bytes=50_000,
        max_document_bytes=10_000,
        page_size=10,
    )


@pytest.fixture
def lrs(app: FastAPI, xapi_settings: XapiSettings) -> Iterator[Lrs]:
    """An xAPI 1.0.3 client of the app; its LRS accepts the development Basic credentials."""
    app.state.xapi_settings = xapi_settings
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Lrs(client)


#: The scopes of an institution's LMS client.
LMS_SCOPES = "xapi:read xapi:write"


def restricted_lrs(client: TestClient, tokens: TokenFactory, **claims: Any) -> Lrs:
    """An xAPI 2.0.0 client of an LMS with a bearer token of these claims (e.g. institutions,
    client_id)."""
    lrs = Lrs(client, version="2.0.0")
    lrs.basic = "Bearer " + tokens.token(LMS_SCOPES, **claims)
    return lrs


def employ(client: TestClient, tokens: TokenFactory, learners: Iterable[tuple[str, str]]) -> None:
    """Employ each (personal code, institution) since 2020, sent by an unrestricted HR feed."""
    response = client.post(
        "/v1/employment/bulk",
        headers=tokens.headers("records:write records:read"),
        json=[
            {
                "source_system": "hr",
                "external_id": f"e-{institution}",
                "personal_code": code,
                "institution": institution,
                "sector": "state",
                "valid_from": "2020-01-01",
            }
            for code, institution in learners
        ],
    )
    assert response.status_code == 200, response.text
