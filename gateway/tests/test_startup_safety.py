"""Production refuses default or weak secrets and keys; `gateway prepare` sets up local runs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from gateway.cli import prepare
from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app
from gateway.production import UnsafeConfiguration, configuration_problems
from gateway.settings import DEV_ADMIN_CLIENT_SECRET, GatewaySettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.signing import generate_rsa_private_key
from pilnveide_kit.testing import TokenFactory

STRONG = "Zq8-vR3_mK9pL2xW7nB4cT6yH1jF5dG0"


def _production(settings: GatewaySettings, **changes: object) -> GatewaySettings:
    return settings.model_copy(update={"environment": "production", **changes})


def test_production_refuses_default_secret_and_generated_keys(
    settings: GatewaySettings,
) -> None:
    unsafe = _production(settings, admin_client_secret=None, signing_key_pem=None)
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(unsafe)
    assert "GATEWAY_ADMIN_CLIENT_SECRET is not set" in str(refused.value)
    assert "no signing key is configured" in str(refused.value)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (DEV_ADMIN_CLIENT_SECRET, "development default"),
        ("short-secret", "weak"),
        ("a" * 40, "weak"),
    ],
)
def test_production_refuses_weak_admin_secrets(
    settings: GatewaySettings, secret: str, problem: str
) -> None:
    problems = configuration_problems(_production(settings, admin_client_secret=SecretStr(secret)))
    assert len(problems) == 1 and problem in problems[0]


def test_production_refuses_the_default_indicators_service_secret(
    settings: GatewaySettings,
) -> None:
    problems = configuration_problems(_production(settings, indicators_client_secret=None))
    assert problems == [
        "GATEWAY_INDICATORS_CLIENT_SECRET is not set (the development default is used)"
    ]


def test_prepare_creates_the_indicators_service_client(
    settings: GatewaySettings, tmp_path: Path
) -> None:
    from gateway.clients.models import ApiClient

    local = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/prep.db"})
    out = io.StringIO()
    prepare(local, out)
    prepare(local, out)
    assert "indicators service client indicators-service: created" in out.getvalue()
    assert "indicators service client indicators-service: unchanged" in out.getvalue()
    assert "records service client records-service: created" in out.getvalue()
    engine = make_engine(local.database_url)
    with session_scope(engine) as session:
        client = session.get(ApiClient, "indicators-service")
        assert client is not None and client.scopes == ["records:read", "catalog:read"]
        assert SecretHasher(local).verify(
            client.secret_hash, local.effective_indicators_client_secret
        )
        records = session.get(ApiClient, "records-service")
        assert records is not None and records.scopes == ["catalog:read"]
    engine.dispose()


def test_production_refuses_a_short_key(settings: GatewaySettings) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    short = weak_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    problems = configuration_problems(
        _production(
            settings,
            admin_client_secret=SecretStr(STRONG),
            signing_key_pem=SecretStr(short.decode()),
        )
    )
    assert problems == ["the signing key has 1024 bits; at least 2048 are needed"]


def test_production_starts_with_strong_settings(settings: GatewaySettings, tmp_path: Path) -> None:
    key_file = tmp_path / "signing.pem"
    key_file.write_text(generate_rsa_private_key())
    safe = _production(
        settings,
        admin_client_secret=SecretStr(STRONG),
        signing_key_pem=None,
        signing_key_file=str(key_file),
    )
    assert configuration_problems(safe) == []
    with TestClient(create_app(safe)) as client:
        assert client.get("/healthz").status_code == 200


def test_production_refuses_an_admin_client_still_on_the_dev_secret(
    settings: GatewaySettings,
) -> None:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        ensure_admin_client(session, SecretHasher(settings), "test-admin", DEV_ADMIN_CLIENT_SECRET)
    engine.dispose()
    safe = _production(settings, admin_client_secret=SecretStr(STRONG))
    with (
        pytest.raises(UnsafeConfiguration, match="still accepts the development secret"),
        TestClient(create_app(safe)),
    ):
        pass


def test_prepare_prints_the_defaults_it_used_and_is_idempotent(
    settings: GatewaySettings, tmp_path: Path, tokens: TokenFactory
) -> None:
    local = settings.model_copy(
        update={
            "admin_client_id": None,
            "admin_client_secret": None,
            "signing_key_pem": None,
            "signing_kid": None,
            "keys_dir": str(tmp_path / "keys"),
        }
    )
    first, second = io.StringIO(), io.StringIO()
    prepare(local, out=first)
    prepare(local, out=second)
    assert "using the default pilnveide-admin" in first.getvalue()
    assert f"development default {DEV_ADMIN_CLIENT_SECRET}" in first.getvalue()
    assert "signing key: generated" in first.getvalue()
    assert "admin client pilnveide-admin: created" in first.getvalue()
    assert "admin client pilnveide-admin: unchanged" in second.getvalue()
    assert (tmp_path / "keys" / "signing_key.pem").exists()
    with TestClient(create_app(local)) as client:
        answer = client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=("pilnveide-admin", DEV_ADMIN_CLIENT_SECRET),
        )
        assert answer.status_code == 200
        assert answer.json()["scope"] == "admin"


def test_prepare_takes_the_admin_secret_from_settings(settings: GatewaySettings) -> None:
    out = io.StringIO()
    prepare(settings.model_copy(update={"admin_client_secret": SecretStr(STRONG)}), out=out)
    assert "unset" not in out.getvalue()
    assert STRONG not in out.getvalue()
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=("test-admin", STRONG),
        )
        assert answer.status_code == 200
