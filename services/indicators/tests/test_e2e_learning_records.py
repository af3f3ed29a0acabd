"""End to end: the indicators service computing from the real learning-records app over HTTP.

learning-records runs in-process (its own database, migrated) and is reached through an httpx
ASGI transport with a records:read token, exactly as over the network; only the catalog is the
in-memory stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indicators.main import create_app
from indicators.models import metadata as indicators_metadata
from indicators.settings import IndicatorsSettings
from indicators.sources.batching import BatchingRecords
from indicators.sources.http import HttpRecordsSource, ServiceToken
from indicators.sources.memory import MemoryCatalog
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target
from learning_records.main import create_app as create_records_app
from learning_records.main import migrations as records_migrations
from learning_records.models import metadata as records_metadata
from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.testing import TokenFactory, clear_tables, eventually, temporary_database

A, B, C, D = 1, 2, 3, 4


@pytest.fixture(scope="module")
def records_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("e2e_records")
    with temporary_database(backend, workdir, "e2e_records") as url:
        records_migrations.upgrade(url)
        yield url


@pytest.fixture
def records_client(records_database: str, tokens: TokenFactory) -> Iterator[TestClient]:
    settings = LearningRecordsSettings(
        database_url=records_database,
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )
    application = create_records_app(settings)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client
    clear_tables(application.state.engine, records_metadata)


def _post(client: TestClient, tokens: TokenFactory, kind: str, items: list[dict[str, Any]]) -> None:
    for n, item in enumerate(items):
        item.setdefault("source_system", "e2e")
        item.setdefault("external_id", f"{kind}-{n}-{item.get('personal_code', '')[-4:]}")
    answer = client.post(
        f"/v1/{kind}/bulk", json=items, headers=tokens.headers("records:write records:read")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] == len(items), answer.text


def _person(n: int) -> dict[str, str]:
    return {"personal_code": synthetic_personal_code(n)}


@pytest.fixture
def indicators(
    settings: IndicatorsSettings,
    records_client: TestClient,
    tokens: TokenFactory,
    catalog: MemoryCatalog,
) -> Iterator[TestClient]:
    records_app: FastAPI = records_client.app  # type: ignore[assignment]
    transport = httpx.ASGITransport(app=records_app)
    token = ServiceToken(
        settings.model_copy(
            update={"service_token": tokens.token("records:read", client_id="indicators")}
        )
    )
    # The production stack: questions of one loop turn go in one batch request.
    records = BatchingRecords(
        HttpRecordsSource(httpx.AsyncClient(transport=transport, base_url="http://records"), token),
        max_batch=16,
    )
    catalog.institution_rows = [
        InstitutionInfo(code="VK", name="Valsts kanceleja", sector="state", kind="ministry"),
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(
            code="RIGA-SOC",
            name="Rīgas sociālais dienests",
            sector="municipal",
            kind="municipality",
        ),
    ]
    catalog.indicator_rows = [
        IndicatorInfo(
            code="1.1.2",
            priority="1",
            measure="1.1",
            deadline_year=2026,
            target=Target(kind="min_count", value=3),
        ),
        IndicatorInfo(
            code="2.1.1",
            priority="2",
            measure="2.1",
            deadline_year=2024,
            target=Target(kind="min_share", value=30),
        ),
    ]
    application = create_app(settings, records=records, catalog=catalog)
    with TestClient(application, raise_server_exceptions=False) as client:
        writer = tokens.headers("indicators:write")
        for code, spec in [
            (
                "1.1.2",
                {
                    "kind": "distinct_people",
                    "filter": {"course_tags": ["measure:1.1"], "statuses": ["completed"]},
                    "represented": "institutions",
                },
            ),
            (
                "2.1.1",
                {
                    "kind": "share",
                    "filter": {"course_tags": ["measure:1.1"], "statuses": ["completed"]},
                    "denominator": {"source": "headcount", "filter": {"sectors": ["state"]}},
                },
            ),
        ]:
            assert (
                client.post(
                    "/v1/definitions", json={"code": code, "spec": spec}, headers=writer
                ).status_code
                == 201
            )
        yield client
    clear_tables(application.state.engine, indicators_metadata)


def _load(records_client: TestClient, tokens: TokenFactory) -> None:
    _post(
        records_client,
        tokens,
        "employment",
        [
            {
                **_person(A),
                "institution": "VK",
                "sector": "state",
                "valid_from": "2024-01-01",
                "valid_to": "2024-06-30",
            },
            {**_person(A), "institution": "FM", "sector": "state", "valid_from": "2024-07-01"},
            {
                **_person(B),
                "institution": "RIGA-SOC",
                "municipality": "RIGA",
                "sector": "municipal",
                "valid_from": "2020-01-01",
            },
            {**_person(C), "institution": "VK", "sector": "state", "valid_from": "2020-01-01"},
            {**_person(D), "institution": "FM", "sector": "state", "valid_from": "2020-01-01"},
        ],
    )
    _post(
        records_client,
        tokens,
        "enrolments",
        [
            {
                **_person(A),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-03-01",
                "hours": 4,
            },
            {
                **_person(B),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-05-01",
                "hours": 4,
            },
            {
                **_person(C),
                "course_code": "INTEG-E",
                "status": "registered",
                "status_date": "2024-04-01",
            },
            {
                **_person(D),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-02-02",
                "hours": 4,
            },
        ],
    )
    _post(records_client, tokens, "course-tags", [{"course_code": "INTEG-E", "tag": "measure:1.1"}])
    _post(
        records_client,
        tokens,
        "headcounts",
        [
            {"institution": "VK", "sector": "state", "as_of": "2024-01-01", "headcount": 10},
            {"institution": "FM", "sector": "state", "as_of": "2024-01-01", "headcount": 10},
        ],
    )


def test_indicators_computed_from_the_real_learning_records(
    indicators: TestClient, records_client: TestClient, tokens: TokenFactory
) -> None:
    _load(records_client, tokens)
    reader = tokens.headers("indicators:read")
    people = indicators.get("/v1/indicators/1.1.2?as_of=2024-12-31", headers=reader)
    assert people.status_code == 200, people.text
    body = people.json()
    assert body["value"] == 3 and body["extra"]["institutions_represented"] == 3
    assert body["status"] == "achieved" and body["cutoff_seq"] > 0
    rows = {
        r["key"]: r["value"]
        for b in body["breakdowns"]
        if b["dimension"] == "institution"
        for r in b["rows"]
    }
    assert rows == {"VK": 1, "RIGA-SOC": 1, "FM": 1}  # A counted at VK, where the course was taken

    share = indicators.get("/v1/indicators/2.1.1?as_of=2024-12-31", headers=reader).json()
    assert (share["numerator"], share["denominator"], share["value"]) == (2, 20, 10.0)
    by_institution = {
        r["key"]: (r["numerator"], r["denominator"])
        for b in share["breakdowns"]
        if b["dimension"] == "institution"
        for r in b["rows"]
    }
    assert by_institution == {"FM": (2, 10), "VK": (0, 10)}  # A and D both work at FM on 31 Dec

    cached = indicators.get("/v1/indicators/2.1.1?as_of=2024-12-31", headers=reader)
    assert cached.headers["x-cache"] == "hit"
    _post(
        records_client,
        tokens,
        "enrolments",
        [
            {
                **_person(C),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-10-01",
                "hours": 4,
                "external_id": "c-done",
            },
        ],
    )

    def recomputed() -> Any:  # the refresher follows the feed; reads serve what is stored
        answer = indicators.get("/v1/indicators/2.1.1?as_of=2024-12-31", headers=reader)
        return answer if answer.json()["cutoff_seq"] > share["cutoff_seq"] else None

    moved = eventually(recomputed)
    assert moved.headers["x-cache"] == "hit"
    assert (moved.json()["numerator"], moved.json()["value"]) == (3, 15.0)
    assert moved.json()["cutoff_seq"] > share["cutoff_seq"]

    scoped = indicators.get(
        "/v1/indicators/2.1.1?as_of=2024-12-31",
        headers=tokens.headers("indicators:read", institutions=["VK"]),
    ).json()
    assert (scoped["numerator"], scoped["denominator"]) == (1, 10)


def test_rows_without_employment_have_an_explicit_key_and_rows_are_named_in_the_language(
    indicators: TestClient, records_client: TestClient, tokens: TokenFactory
) -> None:
    _load(records_client, tokens)
    # E learnt but has no employment on record (no institution on the enrolment either).
    _post(
        records_client,
        tokens,
        "enrolments",
        [
            {
                **_person(5),
                "course_code": "INTEG-E",
                "status": "completed",
                "completed_on": "2024-06-01",
                "external_id": "e-unemployed",
            }
        ],
    )

    def rows(language: str | None, dimension: str) -> dict[str, tuple[Any, Any]]:
        headers = tokens.headers("indicators:read")
        if language:
            headers["Accept-Language"] = language
        body = indicators.get("/v1/indicators/1.1.2?as_of=2024-12-31", headers=headers).json()
        assert body["value"] == 4
        breakdown = next(b for b in body["breakdowns"] if b["dimension"] == dimension)
        return {r["key"]: (r["value"], r["name"]) for r in breakdown["rows"]}

    assert rows(None, "sector") == {
        "state": (2, "Valsts pārvalde"),
        "municipal": (1, "Pašvaldības"),
        "no_employment": (1, "Bez nodarbinātības ziņām"),
    }
    assert rows("en-GB,en;q=0.9,lv;q=0.5", "sector")["no_employment"] == (
        1,
        "No employment record",
    )
    assert "None" not in rows("en", "institution")
    assert rows("en", "position_group") == {"unspecified": (4, "Not recorded")}
