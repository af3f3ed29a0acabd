"""Test helpers: the same suite on SQLite and on PostgreSQL, in databases tests create and drop."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
import httpx
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine, make_url

from pilnveide_kit.db import normalise_url

T = TypeVar("T")

#: Where the tests look for PostgreSQL; unset or unreachable means SQLite only.
POSTGRES_ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

BACKENDS = ("sqlite", "postgresql")


@cache
def postgres_reachable() -> bool:
    """True when the test PostgreSQL server answers (checked once per run)."""
    if os.environ.get("PILNVEIDE_TEST_POSTGRES", "1") == "0":
        return False
    try:
        engine = create_engine(
            normalise_url(POSTGRES_ADMIN_URL), connect_args={"connect_timeout": 2}
        )
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def temporary_database(backend: str, workdir: Path, prefix: str) -> Iterator[str]:
    """A new, empty database for one backend; dropped (or deleted) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        path = workdir / f"{name}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalise_url(POSTGRES_ADMIN_URL)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def clear_tables(engine: Engine, metadata: MetaData, keep: set[str] | None = None) -> None:
    """Delete every row of a service's tables (children first), keeping the ones named."""
    keep = keep or set()
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(table.delete())


class TokenFactory:
    """Mints gateway-like RS256 tokens for tests, with the JWKS a service should trust."""

    def __init__(
        self, kid: str = "test-key", issuer: str = "pilnveide-gateway", audience: str = "pilnveide"
    ) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jose import jwk

        self.kid, self.issuer, self.audience = kid, issuer, audience
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        public = jwk.construct(self.public_pem, "RS256").to_dict()
        public.update({"kid": kid, "use": "sig", "alg": "RS256"})
        self.public_jwk = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in public.items()
        }

    @property
    def jwks_json(self) -> str:
        """The JWKS a service is configured with (settings auth_jwks_json)."""
        import json

        return json.dumps({"keys": [self.public_jwk]})

    def token(
        self,
        scopes: str | list[str] = "",
        *,
        institutions: list[str] | None = None,
        client_id: str = "test-client",
        lifetime_s: int = 900,
        **overrides: object,
    ) -> str:
        """A signed access token; overrides replace or add claims (e.g. aud, exp, nbf)."""
        import time

        from jose import jwt

        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_s,
            "jti": uuid.uuid4().hex,
            "scope": scopes if isinstance(scopes, str) else " ".join(scopes),
        }
        if institutions is not None:
            claims["institutions"] = institutions
        claims.update(overrides)
        return str(
            jwt.encode(claims, self.private_pem, algorithm="RS256", headers={"kid": self.kid})
        )

    def headers(self, scopes: str | list[str] = "", **kwargs: object) -> dict[str, str]:
        """Authorization headers with a fresh token."""
        return {"Authorization": f"Bearer {self.token(scopes, **kwargs)}"}  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: object, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a background thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class TestClientTransport(httpx.AsyncBaseTransport):
    """An httpx transport that hands each request to a running TestClient.

    The app behind a TestClient runs on that client's own event loop, with its lifespan; an
    httpx.ASGITransport would instead run the same app on the caller's loop, so the app's own
    pooled clients would open connections on one loop and be closed on another. Responses are
    read whole, which is all an in-process test needs.
    """

    __test__ = False  # not a test class, despite its name

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request on the app's loop (from a worker thread) and return its answer."""
        body = await request.aread()
        url = request.url.raw_path.decode("ascii")
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
        answer = await anyio.to_thread.run_sync(
            lambda: self.client.request(request.method, url, content=body, headers=headers)
        )
        # The TestClient has decoded the body: its encoding no longer applies.
        headers = [
            (k, v) for k, v in answer.headers.multi_items() if k.lower() != "content-encoding"
        ]
        return httpx.Response(
            answer.status_code, headers=headers, stream=httpx.ByteStream(answer.content)
        )


def eventually(read: Callable[[], T | None], *, timeout_s: float = 60.0) -> T:
    """Poll `read` until it gives something other than None (for background work in tests).

    The timeout is generous and only ends a test that would otherwise hang; nothing is timed.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while True:
        found = read()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing came within {timeout_s} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
