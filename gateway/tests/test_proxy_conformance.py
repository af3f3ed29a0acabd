"""What the ADL LRS conformance suite needs of the gateway as an HTTP intermediary: one Date and
one Server field on every answer, and the xAPI alternate request syntax authenticated."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from gateway.alternate import split_authorization
from gateway.settings import GatewaySettings
from pilnveide_kit.testing import serve_in_thread

LRS_SCOPES = ["xapi:read", "xapi:write"]


def _recorder() -> FastAPI:
    """An upstream that answers with the method, path, query, headers and body it received."""
    upstream = FastAPI()

    @upstream.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def record(path: str, request: Request) -> dict[str, Any]:
        return {
            "path": "/" + path,
            "query": request.url.query,
            "authorization": request.headers.get("authorization"),
            "content_length": request.headers.get("content-length"),
            "body": (await request.body()).decode("utf-8"),
        }

    return upstream


@pytest.fixture
def upstream_url() -> Iterator[str]:
    with serve_in_thread(_recorder()) as url:
        yield url


@pytest.fixture
def served_gateway(
    upstream_url: str, settings: GatewaySettings, make_app: Callable[..., FastAPI]
) -> Iterator[str]:
    """The gateway served by uvicorn (as in production) in front of a uvicorn-served upstream."""
    proxied = settings.model_copy(
        update={"catalog_url": upstream_url, "records_url": upstream_url, "openapi_cache_s": 0}
    )
    with serve_in_thread(make_app(proxied, upstream_transports=None)) as url:
        yield url


def test_a_proxied_answer_has_one_date_and_one_server(served_gateway: str) -> None:
    # The upstream's uvicorn sets Date and Server, and so does the gateway's.
    answer = httpx.get(f"{served_gateway}/catalog/healthz", timeout=10)
    assert answer.status_code == 200
    assert len(answer.headers.get_list("date")) == 1
    assert len(answer.headers.get_list("server")) == 1
    assert parsedate_to_datetime(answer.headers["date"]).tzinfo is not None


def test_the_gateways_own_answers_keep_their_date(served_gateway: str) -> None:
    answer = httpx.get(f"{served_gateway}/healthz", timeout=10)
    assert len(answer.headers.get_list("date")) == 1


@pytest.fixture
def lrs(
    settings: GatewaySettings,
    make_app: Callable[..., FastAPI],
    register: Callable[..., tuple[str, str]],
) -> Iterator[tuple[TestClient, str, str]]:
    """The gateway in front of the recording upstream, and an LRS client's id and secret."""
    transport = httpx.ASGITransport(app=_recorder())
    app = make_app(
        settings,
        upstream_transports=dict.fromkeys(("catalog", "records", "indicators", "xapi"), transport),
    )
    client_id, secret = register(name="an LMS", scopes=LRS_SCOPES)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, client_id, secret


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _form(*fields: tuple[str, str]) -> bytes:
    return urlencode(fields).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_alternate_syntax_credentials_in_the_form_are_checked_and_replaced(
    lrs: tuple[TestClient, str, str],
) -> None:
    client, client_id, secret = lrs
    statement = '{"actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://x/v"}}'
    body = _form(
        ("statementId", "3c1ba1f4-4c4a-4b8b-9f8a-0f2b1b1f0a01"),
        ("Authorization", _basic(client_id, secret)),
        ("X-Experience-API-Version", "1.0.3"),
        ("content", statement),
    )
    answer = client.post("/xapi/statements?method=PUT", content=body, headers=FORM)
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["path"] == "/xapi/statements"
    assert seen["query"] == "method=PUT"
    # The LRS gets the gateway's bearer token in the header and no secret in the form ...
    assert seen["authorization"].startswith("Bearer ")
    fields = parse_qsl(seen["body"], keep_blank_values=True)
    assert [name for name, _ in fields] == ["statementId", "X-Experience-API-Version", "content"]
    # ... every other field as sent, and a Content-Length that matches the new body.
    assert dict(fields)["content"] == statement
    assert int(seen["content_length"]) == len(seen["body"].encode())


def test_alternate_syntax_with_a_wrong_secret_is_401_and_not_forwarded(
    lrs: tuple[TestClient, str, str],
) -> None:
    client, client_id, _secret = lrs
    body = _form(("Authorization", _basic(client_id, "not-the-secret")), ("content", "{}"))
    answer = client.post("/xapi/statements?method=PUT", content=body, headers=FORM)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert "path" not in answer.json()


def test_the_form_field_wins_over_the_header_as_it_does_in_the_lrs(
    lrs: tuple[TestClient, str, str],
) -> None:
    client, client_id, secret = lrs
    wrong_in_form = _form(("Authorization", _basic(client_id, "wrong")), ("content", "{}"))
    good_header = {**FORM, "Authorization": _basic(client_id, secret)}
    answer = client.post("/xapi/statements?method=PUT", content=wrong_in_form, headers=good_header)
    assert answer.status_code == 401


def test_alternate_syntax_without_form_credentials_uses_the_header(
    lrs: tuple[TestClient, str, str],
) -> None:
    client, client_id, secret = lrs
    body = _form(("limit", "1"))
    headers = {**FORM, "Authorization": _basic(client_id, secret)}
    answer = client.post("/xapi/statements?method=GET", content=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["authorization"].startswith("Bearer ")
    assert answer.json()["body"] == "limit=1"
    anonymous = client.post("/xapi/statements?method=GET", content=body, headers=FORM)
    assert anonymous.status_code == 401


def test_form_credentials_count_only_on_xapi(lrs: tuple[TestClient, str, str]) -> None:
    client, client_id, secret = lrs
    body = _form(("Authorization", _basic(client_id, secret)))
    answer = client.post("/records/v1/anything?method=PUT", content=body, headers=FORM)
    assert answer.status_code == 401


def test_split_authorization_keeps_the_other_fields_byte_for_byte() -> None:
    authorization, rest = split_authorization(
        b"a=%7B%22x%22%3A1%7D&AUTHORIZATION=Basic+eDp5&b=&authorization=Bearer%20t&c=%E2%82%AC"
    )
    assert authorization == "Bearer t"  # the last one, as the LRS reads the form
    assert rest == b"a=%7B%22x%22%3A1%7D&b=&c=%E2%82%AC"
    assert split_authorization(b"content=x") == (None, b"content=x")
