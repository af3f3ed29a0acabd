"""Signing keys: generated once for local runs, rotated without downtime, pruned after expiry."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway import keys
from gateway.settings import GatewaySettings
from pilnveide_kit.auth import KeySet, TokenVerifier
from pilnveide_kit.errors import Unauthorized
from pilnveide_kit.signing import public_jwk
from pilnveide_kit.testing import TokenFactory

Register = Callable[..., tuple[str, str]]
GetToken = Callable[..., str]
AppFactory = Callable[..., FastAPI]


def _kid(token: str) -> str:
    part = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["kid"])


@pytest.fixture
def file_keys(settings: GatewaySettings, tmp_path: Path) -> GatewaySettings:
    """Settings with keys generated under a temporary keys_dir instead of configured ones."""
    return settings.model_copy(
        update={"signing_key_pem": None, "signing_kid": None, "keys_dir": str(tmp_path / "k")}
    )


def _service_verifier(settings: GatewaySettings) -> TokenVerifier:
    """What a service does by default: trust the JWKS file the gateway writes."""
    return TokenVerifier(
        KeySet(jwks_file=Path(settings.keys_dir) / keys.JWKS_FILE),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
    )


def test_development_key_is_generated_once_and_private(file_keys: GatewaySettings) -> None:
    assert keys.ensure_keys(file_keys) is True
    directory = Path(file_keys.keys_dir)
    private = directory / keys.PRIVATE_KEY_FILE
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_text()
    assert keys.ensure_keys(file_keys) is False
    assert private.read_text() == before
    published = json.loads((directory / keys.JWKS_FILE).read_text())["keys"]
    assert published == [public_jwk(before)]
    assert "d" not in published[0]  # public parts only


def test_rotation_keeps_old_tokens_valid_until_they_expire(
    make_app: AppFactory,
    file_keys: GatewaySettings,
    register: Register,
    get_token: GetToken,
) -> None:
    client_id, secret = register(name="reader", scopes=["catalog:read"])
    service = _service_verifier(file_keys)
    with TestClient(make_app(file_keys)) as client:
        old = get_token(client, client_id, secret)
        assert service.verify(old).client_id == client_id
        new_kid = keys.rotate(file_keys)
        new = get_token(client, client_id, secret)
        # New tokens use the new key; the JWKS lists both.
        assert _kid(new) == new_kid != _kid(old)
        published = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
        assert published == [new_kid, _kid(old)]
        # Both pass the gateway and a service that loaded the old JWKS before the rotation.
        for token in (old, new):
            answer = client.get("/catalog/v1/x", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
            assert service.verify(token).client_id == client_id


def test_expired_token_of_the_previous_key_is_refused(file_keys: GatewaySettings) -> None:
    keys.ensure_keys(file_keys, now=1_000)
    old_signer = keys.KeyStore(file_keys).signer()
    keys.rotate(file_keys)
    service = _service_verifier(file_keys)
    live = old_signer.issue("c", ["catalog:read"], lifetime_s=60).token
    expired = old_signer.issue("c", ["catalog:read"], lifetime_s=60, now=1_000).token
    assert service.verify(live).client_id == "c"
    with pytest.raises(Unauthorized, match="expired"):
        service.verify(expired)


def test_retired_key_is_dropped_once_its_tokens_have_expired(file_keys: GatewaySettings) -> None:
    keys.ensure_keys(file_keys, now=1_000)
    old_kid = keys.KeyStore(file_keys).material().kid
    new_kid = keys.rotate(file_keys, now=2_000)
    retention = file_keys.token_lifetime_s + file_keys.auth_leeway_s + 60
    assert keys.prune(file_keys, now=2_000 + retention - 1) == []
    assert keys.prune(file_keys, now=2_000 + retention + 1) == [old_kid]
    published = [k["kid"] for k in keys.KeyStore(file_keys).jwks()["keys"]]
    assert published == [new_kid]


def test_rotating_twice_keeps_every_live_key(file_keys: GatewaySettings) -> None:
    keys.ensure_keys(file_keys, now=1_000)
    first = keys.KeyStore(file_keys).material().kid
    second = keys.rotate(file_keys, now=1_010)
    third = keys.rotate(file_keys, now=1_020)
    published = [k["kid"] for k in keys.KeyStore(file_keys).jwks()["keys"]]
    assert published == [third, second, first]


def test_configured_keys_publish_the_previous_ones(
    make_app: AppFactory, settings: GatewaySettings, tokens: TokenFactory
) -> None:
    previous = TokenFactory(kid="retired-2026")
    configured = settings.model_copy(
        update={"previous_jwks_json": json.dumps({"keys": [previous.public_jwk]})}
    )
    with TestClient(make_app(configured)) as client:
        published = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
        assert published == [tokens.kid, "retired-2026"]
        # A token of a still-published previous key is only refused for its unknown client.
        answer = client.get("/catalog/v1/x", headers=previous.headers("catalog:read"))
        assert answer.json()["type"].endswith("client-deactivated")
    with pytest.raises(RuntimeError, match="GATEWAY_PREVIOUS_JWKS_JSON"):
        keys.rotate(configured)


def test_missing_key_stops_the_start(file_keys: GatewaySettings) -> None:
    store = keys.KeyStore(file_keys)
    with pytest.raises(keys.SigningKeyMissing):
        store.material()


def test_the_signer_is_kept_while_its_key_is(file_keys: GatewaySettings) -> None:
    # Making a signer parses (and checks) the RSA key, far too slow to do for every token.
    keys.ensure_keys(file_keys)
    store = keys.KeyStore(file_keys)
    first = store.signer()
    assert store.signer() is first
    new_kid = keys.rotate(file_keys)
    after = store.signer()
    assert after is not first and after.kid == new_kid
    assert _kid(after.issue("c", ["catalog:read"]).token) == new_kid
