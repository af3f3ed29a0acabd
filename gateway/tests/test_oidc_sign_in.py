"""People sign in through an OpenID Connect provider: its token exchanged at /auth/token.

A real provider runs in the test (pilnveide_kit.fake_idp: discovery and JWKS over local HTTP,
ID tokens signed with its own RSA key); the gateway discovers it, fetches its keys, verifies
the ID token, maps its claims and issues its own token, which then passes the gateway.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jose import jwt
from sqlalchemy import select

from gateway.oidc.models import OidcSignIn
from gateway.oidc.providers import ClaimRule, Grant, OidcProvider, map_claims
from gateway.production import configuration_problems
from gateway.settings import GatewaySettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.fake_idp import FakeIdentityProvider, fake_identity_provider
from pilnveide_kit.testing import TokenFactory

from .conftest import AppFactory, Register

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
INSTITUTION_A = "90000000001"
APP_CLIENT = "web-app"


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    """The identity provider, serving for the test."""
    with fake_identity_provider("pilnveide-web") as provider:
        yield provider


def provider_settings(idp_issuer: str, **changes: Any) -> OidcProvider:
    """The provider as an admin configures it: HR staff read and write their institution's
    records; analysts read indicators everywhere."""
    values: dict[str, Any] = {
        "name": "test",
        "issuer": idp_issuer,
        "client_id": "pilnveide-web",
        "audiences": ["pilnveide-api"],
        "gateway_client": APP_CLIENT,
        "rules": [
            ClaimRule(claim="groups", value="hr", scopes=["records:read", "records:write"]),
            ClaimRule(claim="institution", institutions_from_claim=True),
            ClaimRule(
                claim="groups", value="analysts", scopes=["indicators:read"], unrestricted=True
            ),
        ],
    }
    return OidcProvider(**(values | changes))


@pytest.fixture
def oidc_app(
    make_app: AppFactory,
    settings: GatewaySettings,
    idp: FakeIdentityProvider,
    register: Register,
) -> FastAPI:
    """The gateway trusting the provider, its browser app registered as an API client."""
    register(client_id=APP_CLIENT, name="Browser app", scopes=["records:read"])
    configured = settings.model_copy(
        update={"oidc_providers": [provider_settings(idp.issuer)], "oidc_token_lifetime_s": 300}
    )
    return make_app(configured)


@pytest.fixture
def gateway(oidc_app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client of the gateway, lifespan running."""
    with TestClient(oidc_app, raise_server_exceptions=False) as test_client:
        yield test_client


def exchange(gateway: TestClient, token: str, **form: str) -> Any:
    """POST the token exchange; the answer."""
    data = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": ID_TOKEN}
    return gateway.post("/auth/token", data=data | form)


def sign_ins(settings: GatewaySettings) -> list[OidcSignIn]:
    """Every sign-in logged."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            return list(session.scalars(select(OidcSignIn)).all())
    finally:
        engine.dispose()


def test_a_mapped_user_gets_a_gateway_token_and_reads_through_the_gateway(
    gateway: TestClient, idp: FakeIdentityProvider, settings: GatewaySettings
) -> None:
    id_token = idp.id_token("5f1c-uuid-of-anna", groups=["hr"], institution=INSTITUTION_A)
    answer = exchange(gateway, id_token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["scope"] == "records:read records:write"
    assert 0 < body["expires_in"] <= 300
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["iss"] == settings.auth_issuer and claims["sub"] == APP_CLIENT
    assert claims["institutions"] == [INSTITUTION_A]
    assert claims["idp"] == "test" and claims["idp_sub"] == "5f1c-uuid-of-anna"

    read = gateway.get(
        "/records/v1/people", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert read.status_code == 200, read.text
    assert read.json()["authorization"] == f"Bearer {body['access_token']}"

    (logged,) = sign_ins(settings)
    assert (logged.provider, logged.subject, logged.client_id) == (
        "test",
        "5f1c-uuid-of-anna",
        APP_CLIENT,
    )
    assert logged.token_id == claims["jti"] and logged.institutions == [INSTITUTION_A]
    # Discovery and keys were fetched from the provider, once.
    assert idp.fetched["/realms/test/.well-known/openid-configuration"] == 1
    assert idp.fetched["/realms/test/protocol/openid-connect/certs"] == 1
    again = exchange(gateway, idp.id_token("5f1c-uuid-of-anna", groups=["hr"]))
    assert again.status_code == 200
    assert idp.fetched["/realms/test/protocol/openid-connect/certs"] == 1


def test_admins_read_who_signed_in(
    gateway: TestClient, idp: FakeIdentityProvider, admin_headers: dict[str, str]
) -> None:
    for subject in ("anna-uuid", "bruno-uuid"):
        token = idp.id_token(subject, groups=["hr"], institution=INSTITUTION_A)
        assert exchange(gateway, token).status_code == 200
    assert exchange(gateway, idp.id_token("eve-uuid", groups=["visitors"])).status_code == 400
    listed = gateway.get("/admin/sign-ins", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["count"] == 2
    assert [(e["subject"], e["provider"], e["client_id"]) for e in body["data"]] == [
        ("bruno-uuid", "test", APP_CLIENT),
        ("anna-uuid", "test", APP_CLIENT),
    ]
    assert body["data"][0]["institutions"] == [INSTITUTION_A]
    one = gateway.get("/admin/sign-ins", params={"subject": "anna-uuid"}, headers=admin_headers)
    assert [e["subject"] for e in one.json()["data"]] == ["anna-uuid"]
    assert gateway.get("/admin/sign-ins").status_code == 401


def test_the_audit_log_names_the_person_who_signed_in_not_only_the_app(
    gateway: TestClient, idp: FakeIdentityProvider, admin_headers: dict[str, str]
) -> None:
    for subject in ("anna-uuid", "bruno-uuid"):
        token = exchange(gateway, idp.id_token(subject, groups=["hr"], institution=INSTITUTION_A))
        bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert gateway.get(f"/records/v1/people?who={subject}", headers=bearer).status_code == 200
    assert gateway.get("/records/v1/people", headers=admin_headers).status_code == 200
    audit = gateway.get("/admin/audit", headers=admin_headers)
    assert audit.status_code == 200, audit.text
    reads = [e for e in audit.json()["data"] if e["path"] == "/records/v1/people"]
    assert [(e["client_id"], e["signed_in"]) for e in reads] == [
        ("test-admin", None),  # a client's own token: no person behind it
        (APP_CLIENT, {"provider": "test", "subject": "bruno-uuid"}),
        (APP_CLIENT, {"provider": "test", "subject": "anna-uuid"}),
    ]
    annas = gateway.get("/admin/audit", params={"subject": "anna-uuid"}, headers=admin_headers)
    assert annas.json()["count"] == 1
    assert [e["signed_in"]["subject"] for e in annas.json()["data"]] == ["anna-uuid"]


def test_an_unrestricted_rule_gives_no_institution_claim(
    gateway: TestClient, idp: FakeIdentityProvider
) -> None:
    answer = exchange(gateway, idp.id_token("analyst-7", groups=["analysts"]))
    assert answer.status_code == 200, answer.text
    claims = jwt.get_unverified_claims(answer.json()["access_token"])
    assert claims["scope"] == "indicators:read" and "institutions" not in claims


def test_an_access_token_for_the_api_audience_is_accepted(
    gateway: TestClient, idp: FakeIdentityProvider
) -> None:
    token = idp.id_token("u-2", aud="pilnveide-api", groups=["hr"], institution=INSTITUTION_A)
    answer = exchange(
        gateway, token, subject_token_type="urn:ietf:params:oauth:token-type:access_token"
    )
    assert answer.status_code == 200, answer.text


def _other_key_token(idp: FakeIdentityProvider) -> str:
    forger = TokenFactory(kid=idp.signer.kid, issuer=idp.issuer, audience=idp.client_id)
    return forger.token("openid", client_id="u-1", groups=["hr"], institution=INSTITUTION_A)


def _unknown_issuer_token(idp: FakeIdentityProvider) -> str:
    stranger = TokenFactory(kid=idp.signer.kid, issuer="https://evil.example/realms/test")
    return stranger.token("openid", client_id="u-1", aud=idp.client_id, groups=["hr"])


REFUSED = {
    "unknown issuer": (_unknown_issuer_token, "issuer is not a configured"),
    "wrong audience": (
        lambda idp: idp.id_token("u-1", aud="another-app", groups=["hr"]),
        "audience",
    ),
    "expired": (
        lambda idp: idp.id_token(
            "u-1", groups=["hr"], iat=int(time.time()) - 600, exp=int(time.time()) - 300
        ),
        "expired",
    ),
    "bad signature": (_other_key_token, "signature"),
    "alg none": (lambda idp: idp.unsigned_token("u-1", groups=["hr"]), "algorithm"),
    "unmapped user": (
        lambda idp: idp.id_token("u-1", groups=["visitors"], institution=INSTITUTION_A),
        "not mapped",
    ),
    "personal code as subject": (
        lambda idp: idp.id_token("PNOLV-010190-12345", groups=["hr"]),
        "personal code",
    ),
    "not a JWT": (lambda idp: "not-a-token", "not a JWT"),
    "subject too long": (lambda idp: idp.id_token("u" * 256, groups=["hr"]), "at most 255"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_tokens_that_must_not_sign_anyone_in_are_refused(
    case: str, gateway: TestClient, idp: FakeIdentityProvider, settings: GatewaySettings
) -> None:
    make, reason = REFUSED[case]
    answer = exchange(gateway, make(idp))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert reason in body["error_description"]
    assert sign_ins(settings) == []


def test_a_token_type_other_than_id_or_access_token_is_refused(
    gateway: TestClient, idp: FakeIdentityProvider
) -> None:
    token = idp.id_token("u-1", groups=["hr"])
    answer = exchange(
        gateway, token, subject_token_type="urn:ietf:params:oauth:token-type:refresh_token"
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_a_user_may_ask_only_for_mapped_scopes(
    gateway: TestClient, idp: FakeIdentityProvider
) -> None:
    token = idp.id_token("u-1", groups=["hr"], institution=INSTITUTION_A)
    narrower = exchange(gateway, token, scope="records:read")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "records:read"
    wider = exchange(gateway, token, scope="records:read records:erase")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


def test_the_gateway_token_never_outlives_the_providers_token(
    gateway: TestClient, idp: FakeIdentityProvider
) -> None:
    token = idp.id_token("u-1", groups=["hr"], exp=int(time.time()) + 45)
    answer = exchange(gateway, token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] <= 45


def test_deactivating_the_browser_apps_client_ends_sign_in_and_its_tokens(
    gateway: TestClient, idp: FakeIdentityProvider, admin_headers: dict[str, str]
) -> None:
    token = idp.id_token("u-1", groups=["hr"], institution=INSTITUTION_A)
    issued = exchange(gateway, token).json()["access_token"]
    bearer = {"Authorization": f"Bearer {issued}"}
    assert gateway.get("/records/v1/people", headers=bearer).status_code == 200
    off = gateway.post(f"/admin/clients/{APP_CLIENT}/deactivate", headers=admin_headers)
    assert off.status_code == 200, off.text
    assert gateway.get("/records/v1/people", headers=bearer).status_code == 401
    refused = exchange(gateway, token)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"


def test_an_unreachable_provider_answers_503_not_a_token(
    make_app: AppFactory, settings: GatewaySettings, register: Register
) -> None:
    with fake_identity_provider() as gone:
        issuer = gone.issuer
        token = gone.id_token("u-1", groups=["hr"])
    register(client_id=APP_CLIENT, name="Browser app", scopes=["records:read"])
    app = make_app(settings.model_copy(update={"oidc_providers": [provider_settings(issuer)]}))
    with TestClient(app, raise_server_exceptions=False) as gateway:
        answer = exchange(gateway, token)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "temporarily_unavailable"
    assert answer.headers["retry-after"]


def test_without_providers_token_exchange_is_an_unsupported_grant(client: TestClient) -> None:
    answer = client.post(
        "/auth/token",
        data={"grant_type": EXCHANGE, "subject_token": "x", "subject_token_type": ID_TOKEN},
    )
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"


def test_production_refuses_a_provider_whose_keys_would_come_over_http(
    settings: GatewaySettings,
) -> None:
    plain = provider_settings("http://sso.example/realms/vk", name="vk")
    secure = provider_settings("https://sso.example/realms/fm", name="fm")
    problems = configuration_problems(
        settings.model_copy(update={"environment": "production", "oidc_providers": [plain, secure]})
    )
    assert [p for p in problems if "identity provider" in p] == [
        "the identity provider 'vk' has an http issuer; its keys must come over https"
    ]


def test_the_mapping_unites_matching_rules_and_keeps_erasure_for_unrestricted_users() -> None:
    rules = [
        ClaimRule(claim="groups", value="hr", scopes=["records:read"], institutions=["VK"]),
        ClaimRule(claim="groups", value="dpo", scopes=["records:erase", "records:read"]),
        ClaimRule(claim="institution", institutions_from_claim=True),
        ClaimRule(claim="roles", value="central", scopes=["records:erase"], unrestricted=True),
    ]
    both = map_claims(rules, {"groups": ["hr", "dpo"], "institution": "FM"})
    assert both == Grant(frozenset({"records:read"}), frozenset({"VK", "FM"}))
    central = map_claims(rules, {"groups": "dpo", "roles": ["central"]})
    assert central == Grant(frozenset({"records:erase", "records:read"}), None)
    assert map_claims(rules, {"groups": ["visitors"], "institution": "FM"}) is None
    assert map_claims(rules, {"groups": 42}) is None
    with pytest.raises(ValueError, match="unknown scopes"):
        ClaimRule(claim="groups", value="x", scopes=["records:everything"])


def test_exchanges_count_against_the_browser_apps_rate_limit(
    make_app: AppFactory,
    settings: GatewaySettings,
    idp: FakeIdentityProvider,
    register: Register,
) -> None:
    register(
        client_id=APP_CLIENT,
        name="Browser app",
        scopes=["records:read"],
        rate_limit={"per_s": 0.001, "burst": 2},
    )
    app = make_app(settings.model_copy(update={"oidc_providers": [provider_settings(idp.issuer)]}))
    token = idp.id_token("u-1", groups=["hr"], institution=INSTITUTION_A)
    with TestClient(app, raise_server_exceptions=False) as gateway:
        answers = [exchange(gateway, token) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].headers["retry-after"]
    assert answers[2].headers["content-type"].startswith("application/problem+json")
