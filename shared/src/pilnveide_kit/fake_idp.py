"""A real OpenID Connect identity provider for tests: discovery and JWKS over local HTTP.

It serves `/.well-known/openid-configuration` and `/jwks` on 127.0.0.1 from a thread (so any
HTTP client reaches it, no transport swapped in) and signs ID tokens with its own RSA key.
Domain-free: the claims are whatever the test asks for.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pilnveide_kit.testing import TokenFactory


class FakeIdentityProvider:
    """Discovery, JWKS and ID tokens of one issuer (its URL known once it is serving)."""

    def __init__(self, server: ThreadingHTTPServer, client_id: str) -> None:
        host, port = server.server_address[:2]
        self.issuer = f"http://{host!s}:{port}/realms/test"
        self.client_id = client_id
        self.signer = TokenFactory(kid="idp-key-1", issuer=self.issuer, audience=client_id)
        #: How many times each path was fetched (discovery and JWKS are cached by the gateway).
        self.fetched: dict[str, int] = {}

    def discovery(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0 §3), the fields that matter."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/protocol/openid-connect/auth",
            "token_endpoint": f"{self.issuer}/protocol/openid-connect/token",
            "jwks_uri": f"{self.issuer}/protocol/openid-connect/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, subject: str = "user-1", **claims: Any) -> str:
        """An ID token for a user, signed with the provider's key; claims add or replace."""
        now = int(time.time())
        values: dict[str, Any] = {"azp": self.client_id, "auth_time": now, "nonce": "n-0S6"}
        values.update(claims)
        token = self.signer.token("openid", client_id=subject, **values)
        return token

    def unsigned_token(self, subject: str = "user-1", **claims: Any) -> str:
        """The same token with alg=none and no signature (a forgery every verifier must refuse)."""
        header = {"alg": "none", "typ": "JWT", "kid": self.signer.kid}
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            **claims,
        }

        def part(value: dict[str, Any]) -> str:
            raw = json.dumps(value).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        return f"{part(header)}.{part(payload)}."


def _handler(provider_ref: list[FakeIdentityProvider]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider = provider_ref[0]
            path = self.path.split("?")[0]
            provider.fetched[path] = provider.fetched.get(path, 0) + 1
            prefix = "/realms/test"
            if path == f"{prefix}/.well-known/openid-configuration":
                body: dict[str, Any] = provider.discovery()
            elif path == f"{prefix}/protocol/openid-connect/certs":
                body = {"keys": [provider.signer.public_jwk]}
            else:
                self.send_response(404)
                self.end_headers()
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def fake_identity_provider(client_id: str = "pilnveide-web") -> Iterator[FakeIdentityProvider]:
    """A fake provider serving on a free local port until the block ends."""
    ref: list[FakeIdentityProvider] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    ref.append(FakeIdentityProvider(server, client_id))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ref[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
