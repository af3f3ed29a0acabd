"""The HTTP sources speak the contract's wire format and authenticate as configured."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import httpx
import pytest

from indicators.settings import IndicatorsSettings
from indicators.sources.http import HttpCatalogSource, HttpRecordsSource, ServiceToken
from indicators.sources.protocols import ExplainUnavailable, PlanNotFound, SourceUnavailable
from pilnveide_contracts.records import AggregationFilter, AggregationQuery, HeadcountQuery, Period


class Upstream:
    """A scripted upstream that remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/auth/token":
            self.tokens_issued += 1
            return httpx.Response(
                200, json={"access_token": f"tok{self.tokens_issued}", "expires_in": 900}
            )
        if path == "/v1/aggregations/query":
            return httpx.Response(
                200,
                json={
                    "metric": "people",
                    "groups": [{"key": {"institution": "VK"}, "value": 3}],
                    "total": 3,
                    "cutoff_seq": 42,
                },
            )
        if path == "/v1/aggregations/headcounts":
            return httpx.Response(
                200, json={"groups": [], "total": 120, "as_of": "2024-12-31", "cutoff_seq": 42}
            )
        if path == "/v1/changes/head":
            return httpx.Response(200, json={"last_seq": 42})
        if path == "/v1/plans/LAP-2021-2027":
            return httpx.Response(
                200, json={"code": "LAP-2021-2027", "period": {"start": 2021, "end": 2027}}
            )
        if path == "/v1/measures":
            return httpx.Response(
                200, json={"data": [{"code": "1.5", "deadline_year": 2023}], "next_cursor": None}
            )
        if path == "/v1/indicators":
            if "cursor" not in request.url.params:
                return httpx.Response(
                    200,
                    json={
                        "data": [
                            {
                                "code": "1.5.1",
                                "priority": "1",
                                "measure": "1.5",
                                "text": {"lv": "Iepirkumi", "en": "Procurement"},
                                "target_kind": "min_share",
                                "target": {"kind": "min_share", "value": 80},
                                "yearly": [],
                            }
                        ],
                        "next_cursor": "c2",
                    },
                )
            return httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "code": "VK.1",
                            "priority": "G1",
                            "measure": None,
                            "text": "Turnover",
                            "target": None,
                            "baseline": {"year": 2024, "value": 15},
                            "yearly": [
                                {"year": 2025, "kind": "target", "value": 12, "direction": "<="},
                                {"year": 2026, "kind": "not_measured"},
                            ],
                        }
                    ],
                    "next_cursor": None,
                },
            )
        if path == "/v1/institutions":
            return httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "code": "VID",
                            "name": {"lv": "VID"},
                            "kind": "subordinate",
                            "sector": "state",
                            "parent": "FM",
                        }
                    ],
                    "next_cursor": None,
                },
            )
        if path == "/v1/reference/position_groups":
            return httpx.Response(
                200,
                json={
                    "code": "position_groups",
                    "items": [
                        {"code": "procurement", "name": {"lv": "Iepirkumi", "en": "Procurement"}},
                        {"code": "audit", "name": "Audits"},
                    ],
                },
            )
        return httpx.Response(404, json={"status": 404})


def _client(upstream: Upstream) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url="http://upstream", transport=httpx.MockTransport(upstream.handle)
    )


def test_records_source_sends_the_contract_body_with_a_fixed_token() -> None:
    upstream = Upstream()
    token = ServiceToken(IndicatorsSettings(service_token="fixed-token"))
    source = HttpRecordsSource(_client(upstream), token)
    query = AggregationQuery(
        metric="people",
        filter=AggregationFilter(
            course_tags=["measure:1.5"],
            period=Period(from_=date(2021, 1, 1), to=date(2024, 12, 31)),
            test_passed=True,
        ),
        group_by=["institution"],
    )
    answer = asyncio.run(source.aggregate(query))
    assert (answer.total, answer.cutoff_seq, answer.groups[0].key) == (3, 42, {"institution": "VK"})
    sent = json.loads(upstream.requests[0].content)
    assert sent == {
        "metric": "people",
        "filter": {
            "course_tags": ["measure:1.5"],
            "test_passed": True,
            "period": {"from": "2021-01-01", "to": "2024-12-31"},
        },
        "group_by": ["institution"],
    }
    assert upstream.requests[0].headers["authorization"] == "Bearer fixed-token"
    headcount = asyncio.run(
        source.headcounts(HeadcountQuery(as_of=date(2024, 12, 31), group_by=["institution"]))
    )
    assert headcount.total == 120
    assert json.loads(upstream.requests[1].content) == {
        "as_of": "2024-12-31",
        "filter": {},
        "group_by": ["institution"],
    }
    assert asyncio.run(source.head()) == 42
    with pytest.raises(ExplainUnavailable):
        asyncio.run(source.members(query))


def test_client_credentials_token_is_fetched_once_and_reused() -> None:
    upstream = Upstream()
    settings = IndicatorsSettings(
        client_id="indicators", client_secret="s3cret", token_url="http://upstream/auth/token"
    )
    client = _client(upstream)
    token = ServiceToken(settings, client)
    source = HttpRecordsSource(client, token)

    async def twice() -> None:
        await source.head()
        await source.head()

    asyncio.run(twice())
    token_requests = [r for r in upstream.requests if r.url.path == "/auth/token"]
    assert len(token_requests) == 1
    assert b"grant_type=client_credentials" in token_requests[0].content
    assert token_requests[0].headers["authorization"].startswith("Basic ")
    assert [
        r.headers["authorization"] for r in upstream.requests if r.url.path == "/v1/changes/head"
    ] == ["Bearer tok1"] * 2


def test_catalog_source_reads_deadlines_targets_yearly_targets_and_resorts() -> None:
    upstream = Upstream()
    source = HttpCatalogSource(_client(upstream), ServiceToken(IndicatorsSettings()))
    indicators = asyncio.run(source.indicators("LAP-2021-2027"))
    first, strategy = indicators
    assert (
        first.code,
        first.title,
        first.deadline_year,
        first.target.kind,
        first.target.value,
    ) == ("1.5.1", "Iepirkumi", 2023, "min_share", 80)
    assert strategy.deadline_year == 2027 and strategy.target.baseline == 15
    assert [(y.year, y.value, y.direction, y.not_measured) for y in strategy.target.yearly] == [
        (2025, 12, "<=", False),
        (2026, None, ">=", True),
    ]
    institutions = asyncio.run(source.institutions())
    assert [(i.code, i.resort, i.sector) for i in institutions] == [("VID", "FM", "state")]


def test_an_unreachable_upstream_is_a_source_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.AsyncClient(base_url="http://upstream", transport=httpx.MockTransport(refuse))
    with pytest.raises(SourceUnavailable):
        asyncio.run(HttpRecordsSource(client, ServiceToken(IndicatorsSettings())).head())


def test_a_connection_closed_on_reuse_is_asked_again_once() -> None:
    closes: list[int] = []

    def close_then_answer(request: httpx.Request) -> httpx.Response:
        if len(closes) < 1:
            closes.append(1)
            raise httpx.ReadError("connection closed", request=request)
        return httpx.Response(200, json={"last_seq": 7})

    client = httpx.AsyncClient(
        base_url="http://upstream", transport=httpx.MockTransport(close_then_answer)
    )
    assert asyncio.run(HttpRecordsSource(client, ServiceToken(IndicatorsSettings())).head()) == 7

    def always_closed(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection closed", request=request)

    client = httpx.AsyncClient(
        base_url="http://upstream", transport=httpx.MockTransport(always_closed)
    )
    with pytest.raises(SourceUnavailable, match="ReadError"):
        asyncio.run(HttpRecordsSource(client, ServiceToken(IndicatorsSettings())).head())


def test_production_needs_credentials() -> None:
    with pytest.raises(ValueError, match="INDICATORS_SERVICE_TOKEN"):
        IndicatorsSettings(environment="production")
    assert IndicatorsSettings(environment="production", service_token="t").service_token == "t"


class Blipping(Upstream):
    """The records service answers 503 with Retry-After `blips` times (its database blipped)."""

    def __init__(self, blips: int) -> None:
        super().__init__()
        self.blips = blips

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/changes/head" and self.blips:
            self.blips -= 1
            self.requests.append(request)
            return httpx.Response(
                503,
                headers={"Retry-After": "0", "Content-Type": "application/problem+json"},
                json={"status": 503, "title": "Service Unavailable"},
            )
        return super().handle(request)


def test_records_source_retries_a_503_until_it_answers() -> None:
    upstream = Blipping(blips=2)
    source = HttpRecordsSource(_client(upstream), ServiceToken(IndicatorsSettings()))
    assert asyncio.run(source.head()) == 42
    assert len(upstream.requests) == 3


def test_records_source_gives_up_after_its_attempts() -> None:
    upstream = Blipping(blips=10)
    source = HttpRecordsSource(_client(upstream), ServiceToken(IndicatorsSettings()))
    with pytest.raises(SourceUnavailable, match="503"):
        asyncio.run(source.head())
    assert len(upstream.requests) == 3


def test_an_unknown_plan_is_not_found_rather_than_unavailable() -> None:
    source = HttpCatalogSource(_client(Upstream()), ServiceToken(IndicatorsSettings()))
    with pytest.raises(PlanNotFound):
        asyncio.run(source.indicators("NOPE"))


def test_catalog_source_reads_a_reference_lists_names_in_both_languages() -> None:
    upstream = Upstream()
    source = HttpCatalogSource(_client(upstream), ServiceToken(IndicatorsSettings()))
    assert asyncio.run(source.names("position_groups")) == {
        "procurement": ("Iepirkumi", "Procurement"),
        "audit": ("Audits", "Audits"),
    }
    assert asyncio.run(source.names("no_such_list")) == {}
