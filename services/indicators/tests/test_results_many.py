"""Many indicators' whole results in one read (`GET /v1/results`): each one as its single read
answers it (same parameters, same institution scope, stored JSON sent as stored), the stored
ones read in one query, paged like every list, unknown codes a 404.

Two institutions (FM: a and b; TM: c), three defined indicators of the plan (two computed, one
hand-reported with an observation) and one the catalog lists without a definition.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from sqlmodel import Session

from indicators.results.models import StoredResult
from indicators.results.service import IndicatorsService
from indicators.sources.memory import Employment, Enrolment, MemoryCatalog, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target
from pilnveide_kit.testing import TokenFactory

PLAN = "LAP-2021-2027"
READ = "indicators:read"
QUERY = "as_of=2024-12-31&breakdown=institution"
PEOPLE = {"a": "FM", "b": "FM", "c": "TM"}
#: A read of stored results by key (SQLite quotes the column, PostgreSQL does not).
KEYED = re.compile(r'indicator_result\."?key"? IN')
DEFINED = ["1.7.2", "2.4.1", "2.4.2"]  # in code order; 2.4.3 has no definition
TAGGED = {"course_tags": ["measure:2.4"]}


@pytest.fixture
def records() -> MemoryRecords:
    """Three people learning in two institutions."""
    return MemoryRecords(
        employments=[
            Employment(person=p, institution=i, valid_from=date(2020, 1, 1))
            for p, i in PEOPLE.items()
        ],
        enrolments=[
            Enrolment(
                person=p,
                course="INTEG",
                status="completed",
                status_date=date(2024, 3, 1),
                course_tags=frozenset({"measure:2.4"}),
            )
            for p in PEOPLE
        ],
    )


@pytest.fixture
def plan(client: TestClient, tokens: TokenFactory, catalog: MemoryCatalog) -> TestClient:
    catalog.institution_rows = [
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(code="TM", name="Tieslietu ministrija", sector="state", kind="ministry"),
    ]
    catalog.indicator_rows = [
        IndicatorInfo(code=code, title=code, priority=code[0], measure=code[:3], plan=PLAN)
        for code in ("2.4.3", "2.4.2", "2.4.1")
    ] + [
        IndicatorInfo(
            code="1.7.2", title="Handbook", priority="1", measure="1.7", plan=PLAN,
            target=Target(kind="milestone"),
        )
    ]  # fmt: skip
    writer = tokens.headers("indicators:write")
    for code, spec in [
        ("2.4.1", {"kind": "distinct_people", "filter": TAGGED}),
        ("2.4.2", {"kind": "distinct_institutions", "filter": TAGGED}),
        ("1.7.2", {"kind": "manual", "value_kind": "milestone"}),
    ]:
        answer = client.post(
            "/v1/definitions", json={"code": code, "plan": PLAN, "spec": spec}, headers=writer
        )
        assert answer.status_code == 201, answer.text
    observed = client.post(
        "/v1/indicators/1.7.2/observations",
        json={"value": 1, "observed_on": "2024-09-01", "source": "Handbook published"},
        headers=writer,
    )
    assert observed.status_code == 201, observed.text
    return client


def _service(app: FastAPI) -> IndicatorsService:
    found: IndicatorsService = app.state.indicators
    return found


def _get(client: TestClient, tokens: TokenFactory, path: str, **claims: Any) -> Any:
    answer = client.get(path, headers=tokens.headers(READ, **claims))
    assert answer.status_code == 200, answer.text
    return answer


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    # A hand-reported result is computed from its observations on every read (never stored),
    # so only its computed_at differs from one read to the next.
    if result["kind"] == "manual":
        return {k: v for k, v in result.items() if k != "computed_at"}
    return result


@pytest.mark.parametrize("institutions", [None, ["FM"]], ids=["unrestricted", "restricted"])
def test_the_whole_plan_in_one_read_equals_the_single_reads(
    plan: TestClient, app: FastAPI, tokens: TokenFactory, institutions: list[str] | None
) -> None:
    claims = {} if institutions is None else {"institutions": institutions}
    answer = _get(plan, tokens, f"/v1/results?{QUERY}&limit=1000", **claims)
    assert answer.headers["content-type"] == "application/json"
    page = answer.json()
    assert (page["count"], page["next_cursor"]) == (3, None)
    assert [r["code"] for r in page["data"]] == DEFINED  # 2.4.3 has no definition: no result
    computations = _service(app).computations

    singles = [_get(plan, tokens, f"/v1/indicators/{code}?{QUERY}", **claims) for code in DEFINED]
    # the computed ones were stored by the whole read under the single reads' own keys
    assert [s.headers["x-cache"] for s in singles] == ["miss", "hit", "hit"]
    assert _service(app).computations == computations + 1  # the hand-reported one only
    assert [_comparable(r) for r in page["data"]] == [_comparable(s.json()) for s in singles]

    people = page["data"][1]
    rows = {r["key"]: r["value"] for b in people["breakdowns"] for r in b["rows"]}
    if institutions is None:
        assert (people["value"], rows, people["institutions_scope"]) == (
            3,
            {"FM": 2, "TM": 1},
            None,
        )
    else:  # computed over FM only, as its single read: no TM row, no TM person in the total
        assert (people["value"], rows, people["institutions_scope"]) == (2, {"FM": 2}, ["FM"])


def test_single_reads_first_then_the_whole_plan_is_served_stored(
    plan: TestClient, app: FastAPI, tokens: TokenFactory
) -> None:
    singles = [_get(plan, tokens, f"/v1/indicators/{code}?{QUERY}").json() for code in DEFINED]
    computations = _service(app).computations
    page = _get(plan, tokens, f"/v1/results?{QUERY}").json()
    assert _service(app).computations == computations + 1  # the hand-reported one only
    assert [_comparable(r) for r in page["data"]] == [_comparable(s) for s in singles]


@contextmanager
def _statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's database is asked meanwhile."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = _service(app).store.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_stored_results_are_read_in_one_query_and_sent_as_stored(
    plan: TestClient, app: FastAPI, tokens: TokenFactory
) -> None:
    """The stored texts are spliced into the page as they are: replaced by other JSON in the
    database, the page carries that JSON (nothing parsed it into a result and wrote it again)."""
    _get(plan, tokens, f"/v1/results?{QUERY}&code=2.4.1,2.4.2")  # computes and stores both
    with Session(_service(app).store.engine) as session:
        session.execute(update(StoredResult).values(result='{"sent": "as stored"}'))
        session.commit()
    with _statements(app) as statements:
        page = _get(plan, tokens, f"/v1/results?{QUERY}&code=2.4.1,2.4.2").json()
    assert page["data"] == [{"sent": "as stored"}, {"sent": "as stored"}]
    # reads of stored results by key (the refresher's scan for stale ones runs beside)
    reads = [s for s in statements if s.lstrip().startswith("SELECT") and KEYED.search(s)]
    assert len(reads) == 1, reads
    single = _get(plan, tokens, f"/v1/indicators/2.4.1?{QUERY}").json()
    assert single == {"sent": "as stored"}  # what the single read sends too


def test_codes_pick_indicators_in_code_order_and_unknown_ones_are_a_404(
    plan: TestClient, tokens: TokenFactory
) -> None:
    picked = _get(plan, tokens, f"/v1/results?{QUERY}&code=2.4.2&code=1.7.2,2.4.2").json()
    assert [r["code"] for r in picked["data"]] == ["1.7.2", "2.4.2"] and picked["count"] == 2

    headers = tokens.headers(READ)
    unknown = plan.get(f"/v1/results?{QUERY}&code=2.4.1,2.4.3,9.9.9", headers=headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    problem = unknown.json()
    assert problem["type"].endswith("/definition-not-found") and problem["codes"] == [
        "2.4.3",
        "9.9.9",
    ]
    both = plan.get("/v1/results?code=2.4.1&measure=2.4", headers=headers)
    assert both.status_code == 400 and both.json()["type"].endswith("/conflicting-choice")
    assert plan.get("/v1/results?code=,", headers=headers).status_code == 400
    assert plan.get(f"/v1/results?code={'x' * 41}", headers=headers).status_code == 400
    assert plan.get("/v1/results?limit=1001", headers=headers).status_code == 422
    assert plan.get("/v1/results?breakdown=shoe_size", headers=headers).status_code == 400
    assert plan.get("/v1/results", headers=tokens.headers("indicators:write")).status_code == 403


def test_pages_count_and_filters_as_the_plan_list(plan: TestClient, tokens: TokenFactory) -> None:
    first = _get(plan, tokens, f"/v1/results?{QUERY}&limit=2").json()
    assert [r["code"] for r in first["data"]] == DEFINED[:2]
    assert first["count"] == 3 and first["next_cursor"]
    rest = _get(plan, tokens, f"/v1/results?{QUERY}&limit=2&cursor={first['next_cursor']}")
    assert [r["code"] for r in rest.json()["data"]] == DEFINED[2:]
    assert rest.json()["count"] == 3 and rest.json()["next_cursor"] is None
    measure = _get(plan, tokens, f"/v1/results?{QUERY}&measure=2.4").json()
    assert [r["code"] for r in measure["data"]] == ["2.4.1", "2.4.2"] and measure["count"] == 2
    priority = _get(plan, tokens, f"/v1/results?{QUERY}&priority=1").json()
    assert [r["code"] for r in priority["data"]] == ["1.7.2"]
    empty = _get(plan, tokens, f"/v1/results?{QUERY}&measure=3.1").json()
    assert empty == {"data": [], "count": 0, "next_cursor": None}


def test_csv_is_every_chosen_result_s_rows_under_one_header(
    plan: TestClient, tokens: TokenFactory
) -> None:
    def table(path: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(_get(plan, tokens, path).text)))

    singles = [table(f"/v1/indicators/{code}.csv?{QUERY}") for code in DEFINED]
    whole = table(f"/v1/results.csv?{QUERY}&limit=1")  # all of them: CSV is not paged
    assert whole == [singles[0][0]] + [row for single in singles for row in single[1:]]
    assert table(f"/v1/results?{QUERY}&format=csv") == whole
