"""Stored results: reads serve what was computed, the refresher follows the feed, replicas share.

Two institutions' worlds side by side (FM: a and b; TM: c), results broken down by institution;
a caller restricted to one institution has its own stored result and never sees the other's.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indicators.main import create_app
from indicators.results.service import IndicatorsService
from indicators.settings import IndicatorsSettings
from indicators.sources.memory import Employment, Enrolment, MemoryCatalog, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo
from pilnveide_contracts.records import AggregationQuery, AggregationResult
from pilnveide_kit.testing import TokenFactory, eventually

PLAN = "LAP-2021-2027"
PATH = "/v1/indicators/2.4.1?as_of=2024-12-31&breakdown=institution"


@dataclass
class GatedRecords(MemoryRecords):
    """learning-records whose aggregations can be held, to catch a computation in the middle."""

    hold: bool = False
    held: int = 0

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        if self.hold:
            self.held += 1
            while self.hold:  # noqa: ASYNC110 (released from the test's thread, not this loop)
                await asyncio.sleep(0.01)
        return await super().aggregate(query)


@pytest.fixture
def records() -> GatedRecords:
    """Two institutions' people and enrolments."""
    people = {"a": "FM", "b": "FM", "c": "TM"}
    return GatedRecords(
        employments=[
            Employment(person=p, institution=i, valid_from=date(2020, 1, 1))
            for p, i in people.items()
        ],
        enrolments=[_enrolment(p) for p in people],
    )


def _enrolment(person: str) -> Enrolment:
    return Enrolment(
        person=person,
        course="INTEG",
        status="completed",
        status_date=date(2024, 3, 1),
        course_tags=frozenset({"measure:2.4"}),
    )


@pytest.fixture
def plan(client: TestClient, tokens: TokenFactory, catalog: MemoryCatalog) -> TestClient:
    catalog.institution_rows = [
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(code="TM", name="Tieslietu ministrija", sector="state", kind="ministry"),
    ]
    catalog.indicator_rows = [
        IndicatorInfo(code="2.4.1", title="People", priority="2", measure="2.4", plan=PLAN)
    ]
    spec = {"kind": "distinct_people", "filter": {"course_tags": ["measure:2.4"]}}
    answer = client.post(
        "/v1/definitions",
        json={"code": "2.4.1", "plan": PLAN, "spec": spec},
        headers=tokens.headers("indicators:write"),
    )
    assert answer.status_code == 201, answer.text
    return client


def _read(client: TestClient, tokens: TokenFactory, **claims: Any) -> Any:
    answer = client.get(PATH, headers=tokens.headers("indicators:read", **claims))
    assert answer.status_code == 200, answer.text
    return answer


def _rows(body: dict[str, Any]) -> dict[str, float]:
    return {r["key"]: r["value"] for b in body["breakdowns"] for r in b["rows"]}


def _service(app: FastAPI) -> IndicatorsService:
    found: IndicatorsService = app.state.indicators
    return found


def test_a_write_in_records_becomes_readable_through_the_refresher(
    plan: TestClient, tokens: TokenFactory, records: GatedRecords
) -> None:
    first = _read(plan, tokens).json()
    assert (first["value"], _rows(first)) == (3, {"FM": 2, "TM": 1})
    only_tm = _read(plan, tokens, institutions=["TM"]).json()
    assert (only_tm["value"], _rows(only_tm)) == (1, {"TM": 1})  # stored for its scope

    records.employments.append(
        Employment(person="d", institution="TM", valid_from=date(2020, 1, 1))
    )
    records.enrolments.append(_enrolment("d"))
    records.change()

    def moved(**claims: Any) -> dict[str, Any] | None:
        body: dict[str, Any] = _read(plan, tokens, **claims).json()
        return body if body["cutoff_seq"] == records.seq else None

    after = eventually(moved)
    assert (after["value"], _rows(after)) == (4, {"FM": 2, "TM": 2})
    after_tm = eventually(lambda: moved(institutions=["TM"]))
    assert (after_tm["value"], _rows(after_tm)) == (2, {"TM": 2})
    after_fm = _read(plan, tokens, institutions=["FM"]).json()  # never asked: computed now
    assert (after_fm["value"], _rows(after_fm)) == (2, {"FM": 2})  # nothing of TM's


def test_a_read_during_a_recomputation_gets_the_previous_result_at_once(
    plan: TestClient, tokens: TokenFactory, records: GatedRecords
) -> None:
    before = _read(plan, tokens)
    seq = records.seq
    records.hold = True
    records.employments.append(
        Employment(person="e", institution="FM", valid_from=date(2020, 1, 1))
    )
    records.enrolments.append(_enrolment("e"))
    records.change()
    eventually(lambda: records.held or None)  # the refresher is inside the computation

    during = _read(plan, tokens)  # answered while the computation is held
    assert during.headers["x-cache"] == "hit"
    assert during.json()["cutoff_seq"] == seq and during.json()["value"] == 3
    assert during.headers["x-computed-at"] == before.headers["x-computed-at"]

    records.hold = False
    after = eventually(lambda: ((b := _read(plan, tokens).json())["value"] == 4 and b) or None)
    assert _rows(after) == {"FM": 3, "TM": 1} and after["cutoff_seq"] == records.seq


def test_two_instances_on_one_database_compute_each_result_once(
    plan: TestClient,
    app: FastAPI,
    settings: IndicatorsSettings,
    tokens: TokenFactory,
    records: GatedRecords,
    catalog: MemoryCatalog,
) -> None:
    second_app = create_app(settings, records=records, catalog=catalog)
    with TestClient(second_app, raise_server_exceptions=False) as second:
        records.hold = True  # the first computation waits, so the second read finds it claimed
        with ThreadPoolExecutor(2) as pool:
            one = pool.submit(_read, plan, tokens)
            eventually(lambda: records.held or None)
            two = pool.submit(_read, second, tokens)
            records.hold = False
            bodies = [one.result().json(), two.result().json()]
        assert bodies[0] == bodies[1] and bodies[0]["value"] == 3
        services = [_service(app), _service(second_app)]
        assert sum(s.computations for s in services) == 1

        records.employments.append(
            Employment(person="f", institution="TM", valid_from=date(2020, 1, 1))
        )
        records.enrolments.append(_enrolment("f"))
        records.change()
        for client in (plan, second):
            eventually(lambda c=client: _read(c, tokens).json()["value"] == 4 or None)
        # both refreshers saw the feed move; one computed, the other found it done or claimed
        assert sum(s.computations for s in services) == 2


def test_a_refresher_that_keeps_failing_backs_off_and_logs_one_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """learning-records down: the refresher waited 1 s and printed a whole traceback each time
    (CI's output filled with them); now the waits double and the traceback comes once."""
    from types import SimpleNamespace

    from indicators.results.refresher import Refresher

    settings = SimpleNamespace(refresh_interval_s=0.001, refresh_keep_s=60, refresh_concurrency=1)
    refresher = Refresher(SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    calls = 0

    async def tick() -> None:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise ConnectionError("learning-records unreachable")
        refresher.stop()

    refresher.tick = tick  # type: ignore[method-assign]
    with caplog.at_level("INFO", logger="indicators.refresher"):
        asyncio.run(refresher.run())
    assert calls == 4
    with_traceback = [r for r in caplog.records if r.exc_info]
    assert len(with_traceback) == 1 and "failed" in with_traceback[0].getMessage()
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "after 3 failed tries" in caplog.records[-1].getMessage()


LIST = f"/v1/indicators?plan={PLAN}&as_of=2024-12-31"
PROGRESS = f"/v1/plan/progress?plan={PLAN}&as_of=2024-12-31"


def _set_stored(app: FastAPI, **values: str | None) -> None:
    from sqlalchemy import update
    from sqlmodel import Session

    from indicators.results.models import StoredResult

    with Session(_service(app).store.engine) as session:
        session.execute(update(StoredResult).values(**values))
        session.commit()


def test_plan_list_and_progress_read_the_stored_summary_not_the_whole_result(
    plan: TestClient, app: FastAPI, tokens: TokenFactory
) -> None:
    """The whole stored result (all breakdown rows) is neither read nor parsed by a list: with
    it replaced by something that is no result, the list and progress answer as before."""
    headers = tokens.headers("indicators:read")
    listed = plan.get(LIST, headers=headers)
    progress = plan.get(PROGRESS, headers=headers)
    assert listed.status_code == 200 and progress.status_code == 200, listed.text
    item = listed.json()["data"][0]
    assert (item["value"], item["status"], item["unit"]) == (3, "no_target", "people")
    computations = _service(app).computations

    _set_stored(app, result="not a result")
    assert plan.get(LIST, headers=headers).json() == listed.json()
    assert plan.get(PROGRESS, headers=headers).json() == progress.json()
    assert _service(app).computations == computations  # served stored, not computed again


def test_results_stored_before_summaries_are_listed_from_their_whole_json(
    plan: TestClient, app: FastAPI, tokens: TokenFactory
) -> None:
    """Rows stored before the summary column (null there) still list the same figures."""
    headers = tokens.headers("indicators:read")
    listed = plan.get(LIST, headers=headers).json()
    progress = plan.get(PROGRESS, headers=headers).json()
    computations = _service(app).computations

    _set_stored(app, summary=None)
    assert plan.get(LIST, headers=headers).json() == listed
    assert plan.get(PROGRESS, headers=headers).json() == progress
    assert _service(app).computations == computations
