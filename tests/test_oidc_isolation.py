"""A person signed in through an OpenID Connect provider sees only their institution's records.

A's and B's worlds are written straight into learning-records; the gateway before it trusts a
real in-process provider (pilnveide_kit.fake_idp) whose `institution` claim maps to the token's
institution restriction. A user of B exchanges an ID token at /auth/token and reads through the
gateway: B's own person is there, A's is not, and A's enrolments never appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.main import create_app as create_gateway
from gateway.oidc.providers import ClaimRule, OidcProvider
from learning_records.main import create_app as create_records
from pilnveide_kit.fake_idp import FakeIdentityProvider, fake_identity_provider
from pilnveide_kit.testing import TestClientTransport, TokenFactory

from .inprocess import (
    ADMIN_ID,
    ADMIN_SECRET,
    bearer,
    bootstrap_admin,
    gateway_settings,
    gateway_token,
    records_settings,
    register_clients,
)
from .world_items import A_CODE, B_CODE, WRITER_SCOPES, A, B, a_items, b_items
from .worlds import Caller, assert_no_a_data, write_all

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


@pytest.fixture
def stack(
    tokens: TokenFactory, tmp_path: Path
) -> Iterator[tuple[TestClient, FakeIdentityProvider]]:
    """learning-records with A's and B's worlds, the gateway trusting the provider before it."""
    with (
        fake_identity_provider("pilnveide-web") as idp,
        TestClient(
            create_records(records_settings(f"sqlite:///{tmp_path / 'records'}.db", tokens)),
            raise_server_exceptions=False,
        ) as records,
    ):
        write_all(Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[A])), a_items())
        write_all(Caller(records, "", tokens.headers(WRITER_SCOPES, institutions=[B])), b_items())
        provider = OidcProvider(
            name="vk-realm",
            issuer=idp.issuer,
            client_id="pilnveide-web",
            gateway_client="hr-web",
            rules=[
                ClaimRule(claim="roles", value="hr-officer", scopes=WRITER_SCOPES.split()),
                ClaimRule(claim="institution", institutions_from_claim=True),
            ],
        )
        settings = gateway_settings(
            tokens, f"sqlite:///{tmp_path / 'gateway'}.db", oidc_providers=[provider]
        )
        app = create_gateway(
            settings, upstream_transports={"records": TestClientTransport(records)}
        )
        with TestClient(app, raise_server_exceptions=False) as gateway:
            bootstrap_admin(settings)
            admin = bearer(gateway_token(gateway, ADMIN_ID, ADMIN_SECRET, "admin"))
            register_clients(gateway, admin, [("hr-web", ["records:read"], None)])
            yield gateway, idp


def signed_in(gateway: TestClient, idp: FakeIdentityProvider, institution: str) -> Caller:
    """An HR officer of the institution, signed in through the provider, reading via /records."""
    id_token = idp.id_token(
        f"officer-of-{institution}", roles=["hr-officer"], institution=institution
    )
    answer = gateway.post(
        "/auth/token",
        data={"grant_type": EXCHANGE, "subject_token": id_token, "subject_token_type": ID_TOKEN},
    )
    assert answer.status_code == 200, answer.text
    return Caller(gateway, "/records", bearer(answer.json()["access_token"]))


def test_a_user_of_b_sees_nothing_of_as_records(
    stack: tuple[TestClient, FakeIdentityProvider],
) -> None:
    gateway, idp = stack
    b = signed_in(gateway, idp, B)
    own = b.post("/v1/people/lookup", json={"personal_code": B_CODE})
    assert own.status_code == 200, own.text
    other = b.post("/v1/people/lookup", json={"personal_code": A_CODE})
    assert other.status_code == 404, other.text
    assert_no_a_data(other)
    listed = b.get("/v1/enrolments")
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] and all(e["institution"] == B for e in listed.json()["data"])
    assert_no_a_data(listed)
    # The same provider's user of A does see A's person: the restriction is the claim's.
    a = signed_in(gateway, idp, A)
    assert a.post("/v1/people/lookup", json={"personal_code": A_CODE}).status_code == 200
