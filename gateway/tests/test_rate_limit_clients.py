"""Per-client rate limits: a client (an LMS, say) gets a bucket of its own through the admin API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings

from .conftest import AppFactory, GetToken, Register


def test_a_client_with_its_own_bucket_gets_its_rate() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)
    own = (10.0, 3.0)
    assert [limiter.wait_time("client:lms", now=0.0, own=own) for _ in range(4)] == [0, 0, 0, 0.1]
    assert limiter.wait_time("client:other", now=0.0) == 0
    assert limiter.wait_time("client:other", now=0.0) == pytest.approx(1.0)
    assert limiter.limits(own) == (10.0, 3.0)
    assert limiter.limits() == (1.0, 1.0)


def test_a_changed_limit_applies_from_the_next_request() -> None:
    limiter = RateLimiter(rate=1.0, burst=2)
    assert [limiter.wait_time("client:a", now=0.0) for _ in range(3)] == [0, 0, 1.0]
    # Raised: the bucket refills at the new rate, up to the new burst.
    assert limiter.wait_time("client:a", now=0.5, own=(100.0, 50.0)) == 0
    # Lowered below what is saved up: never more than the new burst.
    assert limiter.wait_time("client:a", now=100.0, own=(0.5, 1.0)) == 0
    assert limiter.wait_time("client:a", now=100.0, own=(0.5, 1.0)) == pytest.approx(2.0)


def test_the_old_setting_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_RATE_LIMIT_CLIENTS", '{"lms-1": {"per_s": 200, "burst": 2000}}')
    assert not hasattr(GatewaySettings(), "rate_limit_clients")


def test_a_client_created_with_a_limit_passes_the_common_one_and_a_patch_changes_it(
    make_app: AppFactory,
    settings: GatewaySettings,
    register: Register,
    get_token: GetToken,
    admin_headers: dict[str, str],
    client: TestClient,
) -> None:
    # The admin gives itself a generous limit first (changing its own limit is allowed).
    admin_etag = client.get("/admin/clients/test-admin", headers=admin_headers).headers["ETag"]
    own = client.patch(
        "/admin/clients/test-admin",
        json={"rate_limit": {"per_s": 1000, "burst": 1000}},
        headers={**admin_headers, "If-Match": admin_etag},
    )
    assert own.status_code == 200, own.text
    created = client.post(
        "/admin/clients",
        json={
            "client_id": "lms-moodle",
            "name": "an LMS",
            "scopes": ["catalog:read"],
            "rate_limit": {"per_s": 0.01, "burst": 10},
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["rate_limit"] == {"per_s": 0.01, "burst": 10}
    lms_secret = created.json()["client_secret"]
    other_id, other_secret = register(name="a partner", scopes=["catalog:read"])
    assert (
        client.get(f"/admin/clients/{other_id}", headers=admin_headers).json()["rate_limit"] is None
    )
    limited = settings.model_copy(update={"rate_limit_per_s": 0.01, "rate_limit_burst": 3})
    with TestClient(make_app(limited)) as gateway:
        statuses = {}
        for client_id, secret in (("lms-moodle", lms_secret), (other_id, other_secret)):
            headers = {"Authorization": f"Bearer {get_token(gateway, client_id, secret)}"}
            statuses[client_id] = [
                gateway.get("/catalog/x", headers=headers).status_code for _ in range(5)
            ]
        # The token request takes one token of each bucket.
        assert statuses["lms-moodle"] == [200] * 5
        assert statuses[other_id] == [200, 200, 429, 429, 429]

        # The admin lowers the LMS's limit to the default: its next requests are refused (the
        # bucket holds at most the new burst).
        admin = {"Authorization": admin_headers["Authorization"]}
        shown = gateway.get("/admin/clients/lms-moodle", headers=admin)
        changed = gateway.patch(
            "/admin/clients/lms-moodle",
            json={"rate_limit": None},
            headers={**admin, "If-Match": shown.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["rate_limit"] is None
        headers = {"Authorization": f"Bearer {get_token(gateway, 'lms-moodle', lms_secret)}"}
        after = [gateway.get("/catalog/x", headers=headers).status_code for _ in range(3)]
        assert after[-1] == 429

        # And raises the partner's: it passes again.
        shown = gateway.get(f"/admin/clients/{other_id}", headers=admin)
        raised = gateway.patch(
            f"/admin/clients/{other_id}",
            json={"rate_limit": {"per_s": 1000, "burst": 1000}},
            headers={**admin, "If-Match": shown.headers["ETag"]},
        )
        assert raised.json()["rate_limit"] == {"per_s": 1000.0, "burst": 1000}
        headers = {"Authorization": f"Bearer {get_token(gateway, other_id, other_secret)}"}
        assert [gateway.get("/catalog/x", headers=headers).status_code for _ in range(5)] == [
            200
        ] * 5


@pytest.mark.parametrize(
    "limit", [{"per_s": 0, "burst": 1}, {"per_s": 1, "burst": 0}, {"per_s": 1}, {"burst": 5}]
)
def test_invalid_limits_are_refused(
    client: TestClient, admin_headers: dict[str, str], limit: dict[str, float]
) -> None:
    answer = client.post(
        "/admin/clients",
        json={"name": "x", "scopes": ["catalog:read"], "rate_limit": limit},
        headers=admin_headers,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
