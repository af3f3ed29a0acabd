"""A person's history and competency profile, the HR pull, and institution scoping (404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory


def _seed(client: TestClient, writer: dict[str, str], code: str) -> str:
    person = {"personal_code": code, "institution": "VK"}
    writes: list[tuple[str, dict[str, Any]]] = [
        ("people", {**person, "display_name": "Anna Bērziņa"}),
        (
            "employment",
            {
                **person,
                "institution": "VK",
                "sector": "state",
                "valid_from": "2020-01-01",
                "roles": [{"role": "internal_trainer"}],
            },
        ),
        (
            "enrolments",
            {**person, "course_code": "C1", "status": "registered", "enrolled_on": "2024-01-05"},
        ),
        ("certificates", {**person, "course_code": "C0", "issued_on": "2023-05-05"}),
        (
            "assessments",
            {
                **person,
                "framework": "digital",
                "competency": "data",
                "level": 2,
                "method": "self",
                "assessed_on": "2023-01-01",
            },
        ),
        (
            "assessments",
            {
                **person,
                "framework": "digital",
                "competency": "data",
                "level": 3,
                "method": "manager",
                "assessed_on": "2024-01-01",
            },
        ),
    ]
    for n, (kind, item) in enumerate(writes):
        body = {"source_system": "hr", "external_id": f"{kind}-{n}", **item}
        assert client.post(f"/v1/{kind}", json=body, headers=writer).status_code == 201
    update = {
        "source_system": "hr",
        "external_id": "enrolments-2",
        **person,
        "course_code": "C1",
        "status": "completed",
        "enrolled_on": "2024-01-05",
        "completed_on": "2024-02-01",
        "update": True,
    }
    assert client.post("/v1/enrolments", json=update, headers=writer).status_code == 201
    lookup = client.post("/v1/people/lookup", json={"personal_code": code}, headers=writer)
    assert lookup.status_code == 200
    return str(lookup.json()["pseudonym"])


def test_history_and_competencies(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> None:
    pseudonym = _seed(client, writer, make_code(1))
    history = client.get(f"/v1/people/{pseudonym}/history", headers=writer).json()
    assert history["person"] == {"pseudonym": pseudonym, "display_name": "Anna Bērziņa"}
    [enrolment] = history["enrolments"]
    assert [s["status"] for s in enrolment["status_history"]] == ["registered", "completed"]
    assert history["employment"][0]["roles"][0]["role"] == "internal_trainer"
    profile = client.get(f"/v1/people/{pseudonym}/competencies", headers=writer).json()
    assert [(c["competency"], c["level"], c["method"]) for c in profile["competencies"]] == [
        ("data", 3, "manager")
    ]


def test_other_institutions_see_nothing(
    client: TestClient,
    writer: dict[str, str],
    tokens: TokenFactory,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _seed(client, writer, make_code(1))
    fm = tokens.headers("records:read", institutions=["FM"])
    vk = tokens.headers("records:read", institutions=["VK"])
    assert client.get(f"/v1/people/{pseudonym}/history", headers=fm).status_code == 404
    assert client.get(f"/v1/people/{pseudonym}/history", headers=vk).status_code == 200
    assert (
        client.post(
            "/v1/people/lookup", json={"personal_code": make_code(1)}, headers=fm
        ).status_code
        == 404
    )
    assert client.get("/v1/enrolments", headers=fm).json()["data"] == []
    assert len(client.get("/v1/enrolments", headers=vk).json()["data"]) == 1
    assert client.get("/v1/hr/VK/updates", headers=fm).status_code == 404
    assert client.get("/v1/people/unknown/history", headers=writer).status_code == 404


def test_hr_pull_is_incremental_as_json_and_csv(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> None:
    _seed(client, writer, make_code(1))
    first = client.get("/v1/hr/VK/updates", headers=writer).json()
    assert [u["type"] for u in first["data"]] == [
        "certificate",
        "assessment",
        "assessment",
        "completion",
    ]
    assert first["data"][0]["display_name"] == "Anna Bērziņa"
    again = client.get(
        "/v1/hr/VK/updates", params={"after": first["resume_after"]}, headers=writer
    ).json()
    assert (first["count"], first["next_cursor"]) == (4, None)
    assert again["data"] == [] and again["count"] == 0
    halves = client.get("/v1/hr/VK/updates", params={"limit": 2}, headers=writer).json()
    assert halves["count"] == 4 and halves["data"] == first["data"][:2]
    rest = client.get(
        "/v1/hr/VK/updates", params={"cursor": halves["next_cursor"]}, headers=writer
    ).json()
    assert rest["data"] == first["data"][2:] and rest["count"] == 4
    csv_text = client.get("/v1/hr/VK/updates.csv", headers=writer)
    assert csv_text.headers["content-type"].startswith("text/csv")
    assert csv_text.text.splitlines()[0].startswith("seq,type,pseudonym")
    assert len(csv_text.text.splitlines()) == 5
    assert client.get("/v1/hr/FM/updates", headers=writer).json()["data"] == []


def test_erasure_dry_run_then_erase(
    client: TestClient,
    writer: dict[str, str],
    tokens: TokenFactory,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _seed(client, writer, make_code(1))
    eraser = tokens.headers("records:erase")
    dry = client.post("/v1/privacy/erasure", json={"pseudonym": pseudonym}, headers=eraser).json()
    assert dry["dry_run"] is True
    assert dry["rows"]["enrolment"] == 1 and dry["rows"]["competency_assessment"] == 2
    assert dry["rows"]["enrolment_status_change"] == 2
    assert client.get(f"/v1/people/{pseudonym}/history", headers=writer).status_code == 200
    assert (
        client.post(
            "/v1/privacy/erasure", json={"pseudonym": pseudonym}, headers=writer
        ).status_code
        == 403
    )
    done = client.post(
        "/v1/privacy/erasure", json={"pseudonym": pseudonym, "dry_run": False}, headers=eraser
    )
    assert done.json()["rows"] == dry["rows"]
    assert client.get(f"/v1/people/{pseudonym}/history", headers=writer).status_code == 404
    changes = client.get("/v1/changes", headers=writer).json()["data"]
    assert changes[-1]["entity"] == "person" and changes[-1]["op"] == "erase"
    assert (
        client.post(
            "/v1/privacy/erasure", json={"pseudonym": pseudonym}, headers=eraser
        ).status_code
        == 404
    )


def test_retention_deletes_old_records(
    client: TestClient,
    writer: dict[str, str],
    tokens: TokenFactory,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _seed(client, writer, make_code(1))
    eraser = tokens.headers("records:erase")
    dry = client.post("/v1/privacy/retention", json={"before": "2024-01-01"}, headers=eraser).json()
    assert dry["rows"]["certificate"] == 1 and dry["rows"]["competency_assessment"] == 1
    assert dry["rows"]["enrolment"] == 0
    client.post(
        "/v1/privacy/retention", json={"before": "2024-01-01", "dry_run": False}, headers=eraser
    )
    history = client.get(f"/v1/people/{pseudonym}/history", headers=writer).json()
    assert history["certificates"] == [] and len(history["assessments"]) == 1
    restricted = tokens.headers("records:erase", institutions=["VK"])
    assert (
        client.post(
            "/v1/privacy/retention", json={"before": "2024-01-01"}, headers=restricted
        ).status_code
        == 403
    )
