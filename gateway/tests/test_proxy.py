"""The gateway's routing: prefixes, streaming, dead upstreams, the merged OpenAPI document."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient

from gateway.settings import GatewaySettings
from pilnveide_kit.testing import free_port, serve_in_thread


def _upstream(name: str) -> FastAPI:
    """A stand-in service that reports what it received."""
    app = FastAPI(title=f"Pilnveide {name}")

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, str | None]:
        return {
            "status": "ok",
            "service": name,
            "authorization": request.headers.get("authorization"),
        }

    @app.get("/echo/{rest:path}", operation_id="echo_get")
    @app.post("/echo/{rest:path}", operation_id="echo_post")
    async def echo(rest: str, request: Request) -> dict[str, object]:
        body = await request.body()
        return {
            "service": name,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode("latin-1"),
            "query": request.url.query,
            "hop": request.headers.get("x-secret-hop"),
            "method": request.method,
            "body_length": len(body),
            "request_id": request.headers.get("x-request-id"),
            "forwarded_prefix": request.headers.get("x-forwarded-prefix"),
            "authorization": request.headers.get("authorization"),
            "idempotency_key": request.headers.get("idempotency-key"),
        }

    @app.get("/xapi/about")
    def about() -> dict[str, list[str]]:
        return {"version": ["1.0.3"]}

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(
            (f"line {i}\n".encode() for i in range(1000)), media_type="text/plain"
        )

    @app.get("/teapot")
    def teapot() -> PlainTextResponse:
        return PlainTextResponse("short and stout", status_code=418, headers={"X-Custom": "yes"})

    @app.get("/v1/things", operation_id="list_things")
    def list_things() -> list[str]:
        return []

    return app


@pytest.fixture(scope="module")
def upstream_urls() -> Iterator[dict[str, str]]:
    with (
        serve_in_thread(_upstream("catalog")) as catalog,
        serve_in_thread(_upstream("records")) as records,
    ):
        yield {"catalog": catalog, "records": records}


@pytest.fixture
def gateway(
    upstream_urls: dict[str, str],
    settings: GatewaySettings,
    make_app: Callable[..., FastAPI],
    register: Callable[..., tuple[str, str]],
    get_token: Callable[..., str],
) -> Iterator[TestClient]:
    """The gateway in front of real upstream servers (indicators dead), with a client's token."""
    dead = f"http://127.0.0.1:{free_port()}"
    proxied = settings.model_copy(
        update={
            "catalog_url": upstream_urls["catalog"],
            "records_url": upstream_urls["records"],
            "indicators_url": dead,
            "openapi_cache_s": 0,
        }
    )
    app = make_app(proxied, upstream_transports=None)
    client_id, secret = register(
        name="proxy tester",
        scopes=["catalog:read", "records:read", "records:write", "xapi:read", "indicators:read"],
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {get_token(client, client_id, secret)}"
        yield client


def test_prefix_is_stripped(gateway: TestClient) -> None:
    body = gateway.get("/catalog/echo/a/b?x=1&y=ā").json()
    assert body["service"] == "catalog"
    assert body["path"] == "/echo/a/b"
    assert "x=1" in body["query"]
    assert body["forwarded_prefix"] == "/catalog"


def test_healthz_of_each_service_through_the_gateway(gateway: TestClient) -> None:
    assert gateway.get("/catalog/healthz").json()["service"] == "catalog"
    assert gateway.get("/records/healthz").json()["service"] == "records"


def test_service_health_and_docs_need_no_token(gateway: TestClient) -> None:
    anonymous = {"Authorization": ""}
    for path in ("/catalog/healthz", "/records/healthz", "/catalog/openapi.json"):
        assert gateway.get(path, headers=anonymous).status_code == 200, path
    assert gateway.get("/xapi/about", headers=anonymous).status_code == 200
    assert gateway.get("/catalog/echo/x", headers=anonymous).status_code == 401
    assert gateway.post("/catalog/healthz", headers=anonymous).status_code == 401


def test_public_paths_do_not_forward_credentials(gateway: TestClient) -> None:
    for credentials in ("Basic bGVha2VkOnNlY3JldA==", gateway.headers["Authorization"]):
        body = gateway.get("/catalog/healthz", headers={"Authorization": credentials}).json()
        assert body["authorization"] is None


def test_xapi_keeps_its_prefix_and_reaches_records(gateway: TestClient) -> None:
    assert gateway.get("/xapi/about").json() == {"version": ["1.0.3"]}


def test_request_body_and_headers_are_forwarded(gateway: TestClient) -> None:
    payload = b"x" * 3_000_000
    body = gateway.post(
        "/records/echo/bulk",
        content=payload,
        headers={"X-Request-ID": "trace-me"},
    ).json()
    assert body["body_length"] == len(payload)
    assert body["request_id"] == "trace-me"
    assert body["authorization"] == gateway.headers["Authorization"]


def test_header_values_beyond_ascii_are_forwarded_as_received(gateway: TestClient) -> None:
    """A header value in UTF-8 reaches the upstream byte for byte (it judges it), never a 500."""
    key = "ключ-ā"
    answer = gateway.post(
        "/records/echo/bulk", content=b"{}", headers={"Idempotency-Key": key.encode()}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["idempotency_key"].encode("latin-1") == key.encode()


def test_streamed_response_arrives_whole(gateway: TestClient) -> None:
    response = gateway.get("/catalog/stream")
    assert response.text.count("\n") == 1000


def test_status_and_headers_pass_through(gateway: TestClient) -> None:
    response = gateway.get("/catalog/teapot")
    assert response.status_code == 418
    assert response.headers["x-custom"] == "yes"
    assert response.text == "short and stout"


def test_dead_upstream_is_a_fast_503_problem(gateway: TestClient) -> None:
    started = time.monotonic()
    response = gateway.get("/indicators/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["upstream"] == "indicators"
    assert response.headers["retry-after"]
    # Not a timing assertion on performance: the contract is "well under the read timeout".
    assert elapsed < GatewaySettings().read_timeout_s
    assert gateway.get("/catalog/healthz").status_code == 200


def test_gateway_readiness_is_its_own_and_upstreams_are_reported_apart(
    gateway: TestClient,
) -> None:
    response = gateway.get("/readyz")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "migrations", "signing_key"}
    report = gateway.get("/readyz/upstreams")
    assert report.status_code == 200
    assert report.json()["status"] == "degraded"
    assert report.json()["checks"]["indicators"].startswith("unreachable")


@pytest.fixture
def hung_port() -> Iterator[int]:
    """A port that accepts connections and never answers (the kernel completes the handshake)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def test_readiness_with_a_dead_and_a_hung_upstream(
    hung_port: int, settings: GatewaySettings, make_app: Callable[..., FastAPI]
) -> None:
    broken = settings.model_copy(
        update={
            "catalog_url": f"http://127.0.0.1:{free_port()}",  # dead: connection refused
            "records_url": f"http://127.0.0.1:{hung_port}",  # hung: never answers
            "indicators_url": f"http://127.0.0.1:{hung_port}",
            "upstream_ready_timeout_s": 0.2,
        }
    )
    with TestClient(make_app(broken, upstream_transports=None)) as client:
        assert client.get("/readyz").status_code == 200
        report = client.get("/readyz/upstreams").json()
    assert report["checks"]["catalog"].startswith("unreachable")
    assert report["checks"]["records"] == "unreachable: ReadTimeout"
    assert report["status"] == "degraded"


@pytest.mark.parametrize(
    "path",
    [
        "/catalog/echo/%0C",
        "/records/echo/hr/%01/updates",
        "/catalog//echo/x",
        "/records/echo/a//b",
        "/catalog/echo/%2e%2e/admin",
        "/catalog/echo/a%00b",
    ],
    ids=[
        "form-feed",
        "start-of-heading",
        "double-slash-after-prefix",
        "empty-segment",
        "encoded-dot-dot",
        "nul",
    ],
)
def test_paths_no_service_could_mean_are_400(gateway: TestClient, path: str) -> None:
    response = gateway.get(path)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_path_is_forwarded_as_received(gateway: TestClient) -> None:
    body = gateway.get("/catalog/echo/a%2Fb/%C4%81?q=%26").json()
    assert body["raw_path"] == "/echo/a%2Fb/%C4%81"
    assert body["query"] == "q=%26"


def test_hop_by_hop_fields_named_by_connection_are_dropped(gateway: TestClient) -> None:
    body = gateway.get(
        "/catalog/echo/x", headers={"Connection": "x-secret-hop", "X-Secret-Hop": "1"}
    ).json()
    assert body["hop"] is None


def test_redirects_point_at_the_gateway(gateway: TestClient) -> None:
    response = gateway.get("/catalog/v1/things/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/catalog/v1/things"


def test_unknown_top_level_path_is_problem_404(gateway: TestClient) -> None:
    response = gateway.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_merged_openapi_has_prefixed_paths_and_unique_names(gateway: TestClient) -> None:
    document = gateway.get("/openapi.json").json()
    paths = document["paths"]
    assert "/catalog/v1/things" in paths and "/records/v1/things" in paths
    operation_ids = [
        op["operationId"]
        for item in paths.values()
        for m, op in item.items()
        if m in {"get", "post", "put", "delete", "patch"}
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert "catalog_list_things" in operation_ids
    schemas = document["components"]["schemas"]
    assert any(name.startswith("Catalog") for name in schemas)
    assert document["x-unavailable-services"] == ["indicators"]


def test_swagger_ui_is_served(gateway: TestClient) -> None:
    response = gateway.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_a_body_passing_the_limit_mid_stream_is_413_and_the_next_one_goes_through(
    upstream_urls: dict[str, str],
    settings: GatewaySettings,
    make_app: Callable[..., FastAPI],
    register: Callable[..., tuple[str, str]],
    get_token: Callable[..., str],
) -> None:
    """Through the lean client: the first pieces are already with the service when the limit is
    passed; the client gets the 413, the half-sent request's connection is not reused."""
    limited = settings.model_copy(
        update={
            "catalog_url": upstream_urls["catalog"],
            "records_url": upstream_urls["records"],
            "indicators_url": f"http://127.0.0.1:{free_port()}",
            "max_request_bytes": 4096,
        }
    )
    client_id, secret = register(name="limit tester", scopes=["catalog:read"])

    def pieces(count: int) -> Iterator[bytes]:
        for _ in range(count):
            yield b"p" * 512

    with TestClient(make_app(limited, upstream_transports=None)) as client:
        client.headers["Authorization"] = f"Bearer {get_token(client, client_id, secret)}"
        refused = client.post("/catalog/echo/big", content=pieces(16))
        assert refused.status_code == 413
        assert refused.json()["max_bytes"] == 4096
        for _ in range(2):
            passed = client.post("/catalog/echo/small", content=pieces(6))
            assert passed.status_code == 200
            assert passed.json()["body_length"] == 3072
