"""The institution rule at the service, on SQLite and PostgreSQL: links, names, feed, pulls, erasure.

VK (A) and FM (B) write through their own restricted tokens; B's attempts on A's data are
refused or answer nothing, and A's rows stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from pilnveide_kit.testing import TokenFactory

Headers = dict[str, str]


def _vk(tokens: TokenFactory, scopes: str = "records:read records:write") -> Headers:
    return tokens.headers(scopes, institutions=["VK"])


def _fm(tokens: TokenFactory, scopes: str = "records:read records:write") -> Headers:
    return tokens.headers(scopes, institutions=["FM"])


def _write(client: TestClient, headers: Headers, kind: str, item: dict[str, Any]) -> Any:
    answer = client.post(f"/v1/{kind}", json=item, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _pseudonym(client: TestClient, headers: Headers, code: str) -> str:
    answer = client.post("/v1/people/lookup", json={"personal_code": code}, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["pseudonym"])


def _vk_world(client: TestClient, tokens: TokenFactory, code: str) -> str:
    """VK's employee with a link, a name, a completion and a certificate; their pseudonym."""
    vk = _vk(tokens)
    person = {"personal_code": code, "institution": "VK"}
    _write(
        client,
        vk,
        "people",
        {"source_system": "hr-vk", "external_id": "e1", **person, "display_name": "Anna"},
    )
    _write(
        client,
        vk,
        "employment",
        {
            "source_system": "hr-vk",
            "external_id": "job1",
            **person,
            "sector": "state",
            "valid_from": "2020-01-01",
        },
    )
    _write(
        client,
        vk,
        "enrolments",
        {
            "source_system": "lms-vk",
            "external_id": "enr1",
            **person,
            "course_code": "C1",
            "status": "completed",
            "completed_on": "2024-03-01",
        },
    )
    _write(
        client,
        vk,
        "certificates",
        {
            "source_system": "lms-vk",
            "external_id": "cert1",
            **person,
            "course_code": "C1",
            "issued_on": "2024-03-02",
        },
    )
    return _pseudonym(client, vk, code)


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("person", "person_link", "employment", "enrolment", "certificate")
    with engine.connect() as connection:
        return {
            t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in tables
        }


def test_a_restricted_client_names_the_institution_of_its_person_links(
    client: TestClient, tokens: TokenFactory, make_code: Callable[[int], str]
) -> None:
    item = {"source_system": "hr-fm", "external_id": "x", "personal_code": make_code(7)}
    answer = client.post("/v1/people", json=item, headers=_fm(tokens))
    assert answer.status_code == 422
    assert "institution" in answer.json()["detail"]
    answer = client.post("/v1/people", json={**item, "institution": "VK"}, headers=_fm(tokens))
    assert answer.status_code == 404


def test_display_names_belong_to_the_institution_that_sent_them(
    client: TestClient,
    tokens: TokenFactory,
    writer: Headers,
    engine: Engine,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _vk_world(client, tokens, make_code(1))
    before = _rows(engine)
    fm = _fm(tokens)
    overwrite = {
        "source_system": "hr-vk",
        "external_id": "e1",
        "personal_code": make_code(1),
        "institution": "FM",
        "display_name": "Mallory",
        "update": True,
    }
    refused = client.post("/v1/people", json=overwrite, headers=fm)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/foreign-record")
    bulk = client.post("/v1/people/bulk", json=[overwrite], headers=fm).json()
    assert bulk["counts"]["rejected"] == 1 and bulk["items"][0]["id"] is None
    assert _rows(engine) == before

    # FM's own link of the same person: FM sees its name, VK and central readers keep theirs.
    own = {**overwrite, "source_system": "hr-fm", "external_id": "f1", "update": False}
    _write(client, fm, "people", own)
    _write(
        client,
        fm,
        "employment",
        {
            "source_system": "hr-fm",
            "external_id": "fjob",
            "personal_code": make_code(1),
            "institution": "FM",
            "sector": "state",
            "valid_from": "2024-01-01",
        },
    )
    names = {
        who: client.get(f"/v1/people/{pseudonym}/history", headers=headers).json()["person"][
            "display_name"
        ]
        for who, headers in (("vk", _vk(tokens)), ("fm", fm), ("central", writer))
    }
    assert names == {"vk": "Anna", "fm": "Mallory", "central": "Anna"}
    # A name from the person register (an unrestricted client's link) wins for central readers.
    register = {
        "source_system": "register",
        "external_id": "r1",
        "personal_code": make_code(1),
        "display_name": "Anna Register",
    }
    _write(client, writer, "people", register)
    central = client.get(f"/v1/people/{pseudonym}/history", headers=writer).json()
    assert central["person"]["display_name"] == "Anna Register"
    vk_view = client.get(f"/v1/people/{pseudonym}/history", headers=_vk(tokens)).json()
    assert vk_view["person"]["display_name"] == "Anna"


def test_another_institutions_person_link_does_not_resolve(
    client: TestClient, tokens: TokenFactory, make_code: Callable[[int], str]
) -> None:
    _vk_world(client, tokens, make_code(1))
    by_link = {
        "source_system": "lms-fm",
        "external_id": "enr-by-link",
        "person_source_system": "hr-vk",
        "person_external_id": "e1",
        "institution": "FM",
        "course_code": "C9",
        "status": "registered",
        "enrolled_on": "2024-09-01",
    }
    refused = client.post("/v1/enrolments", json=by_link, headers=_fm(tokens))
    assert refused.status_code == 422
    assert "no person is known" in refused.json()["detail"]
    vk_item = {**by_link, "source_system": "lms-vk", "institution": "VK"}
    assert client.post("/v1/enrolments", json=vk_item, headers=_vk(tokens)).status_code == 201


def test_hr_pull_lists_only_the_institutions_own_records(
    client: TestClient,
    tokens: TokenFactory,
    writer: Headers,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _vk_world(client, tokens, make_code(1))
    fm = _fm(tokens)
    claim = {
        "source_system": "hr-fm",
        "external_id": "claim",
        "personal_code": make_code(1),
        "institution": "FM",
        "sector": "state",
        "valid_from": "2000-01-01",
    }
    _write(client, fm, "employment", claim)
    assert client.get("/v1/hr/FM/updates", headers=fm).json()["data"] == []
    # Even an unrestricted caller's pull of FM lists FM's records only.
    assert client.get("/v1/hr/FM/updates", headers=writer).json()["data"] == []
    vk_pull = client.get("/v1/hr/VK/updates", headers=_vk(tokens)).json()["data"]
    assert {(u["type"], u["pseudonym"]) for u in vk_pull} == {
        ("completion", pseudonym),
        ("certificate", pseudonym),
    }
    assert {u["display_name"] for u in vk_pull} == {"Anna"}
    history = client.get(f"/v1/people/{pseudonym}/history", headers=fm).json()
    assert history["enrolments"] == [] and history["certificates"] == []
    assert [j["external_id"] for j in history["employment"]] == ["claim"]


def test_counts_follow_the_records_own_institution(
    client: TestClient,
    tokens: TokenFactory,
    writer: Headers,
    make_code: Callable[[int], str],
) -> None:
    _vk_world(client, tokens, make_code(1))
    claim = {
        "source_system": "hr-fm",
        "external_id": "claim",
        "personal_code": make_code(1),
        "institution": "FM",
        "sector": "municipal",
        "valid_from": "2000-01-01",
    }
    _write(client, _fm(tokens), "employment", claim)

    def people(headers: Headers, **flt: Any) -> Any:
        body = {"metric": "people", "filter": flt, "group_by": ["institution", "sector"]}
        answer = client.post("/v1/aggregations/query", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert people(_fm(tokens))["total"] == 0
    assert people(writer, institutions=["FM"])["total"] == 0
    central = people(writer)
    assert [(g["key"], g["value"]) for g in central["groups"]] == [
        ({"institution": "VK", "sector": "state"}, 1)
    ]
    assert people(_vk(tokens))["total"] == 1


def test_a_restricted_change_feed_lists_only_its_records_and_pages_on(
    client: TestClient,
    tokens: TokenFactory,
    writer: Headers,
    make_code: Callable[[int], str],
) -> None:
    _vk_world(client, tokens, make_code(1))
    fm = _fm(tokens)
    for n in range(3):
        _write(
            client,
            fm,
            "headcounts",
            {
                "source_system": "hr-fm",
                "external_id": f"hc{n}",
                "institution": "FM",
                "sector": "state",
                "as_of": f"202{n}-01-01",
                "headcount": 10 + n,
            },
        )
    everything = client.get("/v1/changes", headers=writer).json()
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    counts = []
    while True:
        page = client.get("/v1/changes", params=params, headers=fm).json()
        seen += page["data"]
        counts.append(page["count"])
        if page["next_cursor"] is None:
            assert page["resume_after"] == everything["last_seq"]
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert [(c["entity"], c["op"]) for c in seen] == [("headcount", "create")] * 3
    assert set(counts) == {3}, "every page counts what FM may see of the whole feed"
    assert everything["count"] == everything["last_seq"] == len(everything["data"])
    assert len(everything["data"]) > len(seen)
    assert all(
        c["entity"] != "headcount"
        for c in client.get("/v1/changes", headers=_vk(tokens)).json()["data"]
    )


def test_erasure_is_only_for_an_unrestricted_data_protection_officer(
    client: TestClient,
    tokens: TokenFactory,
    engine: Engine,
    make_code: Callable[[int], str],
) -> None:
    pseudonym = _vk_world(client, tokens, make_code(1))
    before = _rows(engine)
    body = {"pseudonym": pseudonym, "dry_run": False}
    for headers in (
        tokens.headers("records:erase", institutions=["VK"]),  # even of its own people
        tokens.headers("records:erase", institutions=["FM"]),
        tokens.headers("admin", institutions=["VK"]),  # admin carries every scope, not this
    ):
        refused = client.post("/v1/privacy/erasure", json=body, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/erasure-needs-unrestricted-client")
    assert client.post("/v1/privacy/erasure", json=body, headers=_vk(tokens)).status_code == 403
    assert _rows(engine) == before
    dpo = tokens.headers("records:erase")
    dry = client.post("/v1/privacy/erasure", json={"pseudonym": pseudonym}, headers=dpo).json()
    assert dry["rows"]["person_link"] == 1 and dry["rows"]["certificate"] == 1
    assert _rows(engine) == before
    done = client.post("/v1/privacy/erasure", json=body, headers=dpo)
    assert done.status_code == 200 and done.json()["rows"] == dry["rows"]
    assert _rows(engine)["person"] == []
