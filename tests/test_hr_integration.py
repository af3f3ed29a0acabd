"""An HR system end to end through the gateway: it pushes people with its own ids, loads
enrolments and a certificate, cancels one enrolment, has a person erased by the data-protection
client, and pulls its feed. Every item joins back to its own ids; the change comes as a
retraction and the erasure as withdrawals without personal data. Institution B's HR client,
beside it, sees none of A's items and cannot pull A's feed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.clients.secrets import SecretHasher
from gateway.clients.service import ensure_admin_client
from gateway.main import create_app as create_gateway
from gateway.settings import GatewaySettings
from learning_records.main import create_app as create_records
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.reference.service import apply_changes
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.db import make_engine, session_scope
from pilnveide_kit.testing import TestClientTransport, TokenFactory, temporary_database

A, B = "VK", "FM"
ADMIN_ID, ADMIN_SECRET = "hr-admin", "hr-admin-secret-0123456789abcdef01234"
HR_A, HR_B = "horizon-vk", "horizon-fm"
#: A's employees: its own employee number → personal code.
A_STAFF = {f"VK-{n}": synthetic_personal_code(200 + n) for n in range(1, 4)}
B_STAFF = {"FM-1": synthetic_personal_code(300)}


@dataclass
class Hr:
    """An HR system's client of the gateway."""

    gateway: TestClient
    headers: dict[str, str]

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call under /records; the answer."""
        return self.gateway.request(method, "/records" + path, headers=self.headers, **kwargs)

    def push(self, kind: str, items: list[dict[str, Any]]) -> None:
        """A bulk write every item of which must be accepted."""
        answer = self.call("POST", f"/v1/{kind}/bulk", json=items)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["accepted"] == len(items), answer.text

    def pull(self, institution: str, after: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of the HR feed and its cursor."""
        answer = self.call("GET", f"/v1/hr/{institution}/updates", params={"after": after})
        assert answer.status_code == 200, answer.text
        return answer.json()["data"], answer.json()["resume_after"]


def _token(gateway: TestClient, client_id: str, secret: str, scope: str) -> dict[str, str]:
    answer = gateway.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def clients(backend: str, tokens: TokenFactory, tmp_path: Path) -> Iterator[dict[str, Hr]]:
    """Records (on each backend) behind the gateway; HR clients of A and B and a
    data-protection client."""
    with ExitStack() as exits:
        database_url = exits.enter_context(temporary_database(backend, tmp_path, "hr_records"))
        records = exits.enter_context(
            TestClient(
                create_records(
                    LearningRecordsSettings(
                        database_url=database_url,
                        environment="test",
                        auth_jwks_json=tokens.jwks_json,
                        auth_jwks_file=None,
                    )
                ),
                raise_server_exceptions=False,
            )
        )
        course = {"code": "INTEG-E", "version": 1, "title": {"lv": "Integritātes e-mācības"}}
        with session_scope(records.app.state.engine) as session:  # type: ignore[attr-defined]
            apply_changes(
                session,
                [{"id": 1, "entity": "course", "entity_code": "INTEG-E", "snapshot": course}],
            )
        settings = GatewaySettings(
            environment="test",
            database_url=f"sqlite:///{tmp_path / 'gateway'}.db",
            argon2_time_cost=1,
            argon2_memory_kib=64,
            argon2_parallelism=1,
            admin_client_id=ADMIN_ID,
            admin_client_secret=ADMIN_SECRET,
            rate_limit_per_s=10_000.0,
            rate_limit_burst=10_000,
            signing_key_pem=tokens.private_pem,
            signing_kid=tokens.kid,
            catalog_url="http://catalog.hr",
            records_url="http://records.hr",
            indicators_url="http://indicators.hr",
        )
        gateway = exits.enter_context(
            TestClient(
                create_gateway(
                    settings, upstream_transports={"records": TestClientTransport(records)}
                ),
                raise_server_exceptions=False,
            )
        )
        engine = make_engine(settings.database_url)
        with session_scope(engine) as session:
            ensure_admin_client(session, SecretHasher(settings), ADMIN_ID, ADMIN_SECRET)
        engine.dispose()
        admin = _token(gateway, ADMIN_ID, ADMIN_SECRET, "admin")
        found: dict[str, Hr] = {}
        for client_id, scope, institutions in (
            ("hr-a", "records:read records:write", [A]),
            ("hr-b", "records:read records:write", [B]),
            ("dpo", "records:read records:erase", None),
        ):
            created = gateway.post(
                "/admin/clients",
                json={
                    "client_id": client_id,
                    "name": client_id,
                    "scopes": scope.split(),
                    "institutions": institutions,
                },
                headers=admin,
            )
            assert created.status_code == 201, created.text
            secret = created.json()["client_secret"]
            found[client_id] = Hr(gateway, _token(gateway, client_id, secret, scope))
        yield found


def _load(hr: Hr, system: str, institution: str, staff: dict[str, str]) -> None:
    """People with the HR system's own ids, their jobs, enrolments and one certificate."""
    hr.push(
        "people",
        [
            {
                "source_system": system,
                "external_id": employee,
                "personal_code": code,
                "institution": institution,
                "display_name": f"Darbinieks {employee}",
            }
            for employee, code in staff.items()
        ],
    )
    hr.push(
        "employment",
        [
            {
                "source_system": system,
                "external_id": f"{employee}-job",
                "person_source_system": system,
                "person_external_id": employee,
                "institution": institution,
                "sector": "state",
                "valid_from": "2020-01-01",
            }
            for employee in staff
        ],
    )
    hr.push(
        "enrolments",
        [
            {
                "source_system": system,
                "external_id": f"{employee}-enr",
                "person_source_system": system,
                "person_external_id": employee,
                "institution": institution,
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-03-01",
                "hours": 6,
            }
            for employee in staff
        ],
    )
    last = list(staff)[-1]
    hr.push(
        "certificates",
        [
            {
                "source_system": system,
                "external_id": f"{last}-cert",
                "person_source_system": system,
                "person_external_id": last,
                "institution": institution,
                "course_code": "INTEG-E",
                "issued_on": "2024-03-02",
                "valid_until": "2027-03-02",
            }
        ],
    )


def test_an_hr_system_joins_its_feed_back_to_its_own_ids(clients: dict[str, Hr]) -> None:
    hr_a, hr_b, dpo = clients["hr-a"], clients["hr-b"], clients["dpo"]
    _load(hr_a, HR_A, A, A_STAFF)
    _load(hr_b, HR_B, B, B_STAFF)
    own_records = {f"{e}-enr" for e in A_STAFF} | {"VK-3-cert"}

    items, cursor = hr_a.pull(A)
    assert [i["type"] for i in items] == ["completion"] * 3 + ["certificate"]
    for item in items:
        assert (item["source_system"], item["institution"]) == (HR_A, A)
        assert item["external_id"] in A_STAFF  # joins to the HR system's own employee
        assert item["record_external_id"] in own_records
        assert item["course_title"] == "Integritātes e-mācības"
    assert {i["hours"] for i in items if i["type"] == "completion"} == {6.0}

    cancelled = {
        "source_system": HR_A,
        "external_id": "VK-1-enr",
        "person_source_system": HR_A,
        "person_external_id": "VK-1",
        "institution": A,
        "course_code": "INTEG-E",
        "status": "cancelled",
        "status_date": "2024-04-01",
        "update": True,
    }
    hr_a.push("enrolments", [cancelled])
    erased = dpo.call(
        "POST",
        "/v1/privacy/erasure",
        json={"personal_code": A_STAFF["VK-3"], "dry_run": False},
    )
    assert erased.status_code == 200, erased.text

    changes, _ = hr_a.pull(A, cursor)
    assert [(c["type"], c["record_external_id"], c["status"]) for c in changes] == [
        ("retraction", "VK-1-enr", "cancelled"),
        ("withdrawal", "VK-3-enr", "enrolment"),
        ("withdrawal", "VK-3-cert", "certificate"),
    ]
    retraction, *tombstones = changes
    assert (retraction["source_system"], retraction["external_id"]) == (HR_A, "VK-1")
    for tombstone in tombstones:
        assert tombstone["reason"] == "person_erased"
        assert tombstone["record_external_id"] in own_records
        personal = ("pseudonym", "display_name", "source_system", "external_id")
        assert all(tombstone[k] is None for k in personal), tombstone
    # Pulled from the start again, the erased person's completion is gone for good.
    again, _ = hr_a.pull(A)
    assert "VK-3" not in {i["external_id"] for i in again}
    assert [i["type"] for i in again].count("withdrawal") == 2

    b_items, _ = hr_b.pull(B)
    assert {i["external_id"] for i in b_items} == {"FM-1"}
    assert {i["record_external_id"] for i in b_items} == {"FM-1-enr", "FM-1-cert"}
    as_csv = hr_b.call("GET", f"/v1/hr/{B}/updates.csv")  # the pull's CSV operation
    assert as_csv.headers["content-type"].startswith("text/csv")
    text = as_csv.text
    assert text.startswith("seq,type,pseudonym,") and "FM-1-cert" in text
    assert "VK-" not in text and HR_A not in text
    assert hr_b.call("GET", f"/v1/hr/{A}/updates").status_code == 404
    assert hr_b.call("GET", f"/v1/hr/{A}/updates.csv").status_code == 404


def test_bulk_lookup_answers_each_code(clients: dict[str, Hr]) -> None:
    hr_a, hr_b = clients["hr-a"], clients["hr-b"]
    _load(hr_a, HR_A, A, A_STAFF)
    _load(hr_b, HR_B, B, B_STAFF)
    codes = [*A_STAFF.values(), B_STAFF["FM-1"], "not-a-code"]
    answer = hr_a.call("POST", "/v1/people/lookup/bulk", json={"personal_codes": codes})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["found"] == 3
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "found"),
        (1, "found"),
        (2, "found"),
        (3, "not_found"),  # B's employee: A holds no record of them
        (4, "invalid"),
    ]
    assert body["results"][0]["display_name"] == "Darbinieks VK-1"
    b_view = hr_b.call("POST", "/v1/people/lookup/bulk", json={"personal_codes": codes}).json()
    assert [r["status"] for r in b_view["results"]][:4] == ["not_found"] * 3 + ["found"]
    too_many = hr_a.call(
        "POST", "/v1/people/lookup/bulk", json={"personal_codes": [codes[0]] * 1001}
    )
    assert too_many.status_code == 422
    assert too_many.headers["content-type"].startswith("application/problem+json")
