"""HTTP implementations of the sources: learning-records and the catalog, with a service token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from indicators.settings import IndicatorsSettings
from indicators.sources.batching import BatchingRecords
from indicators.sources.protocols import ExplainUnavailable, PlanNotFound, SourceUnavailable
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target, YearTarget
from pilnveide_contracts.records import (
    AggregationQuery,
    AggregationResult,
    HeadcountQuery,
    HeadcountResult,
    MembersResult,
)
from pilnveide_kit.http import async_client

PAGE_LIMIT = 500


def _wire(question: BaseModel) -> dict[str, Any]:
    """A contract question's JSON body (nulls left out: an absent key restricts nothing)."""
    return question.model_dump(mode="json", by_alias=True, exclude_none=True)


class ServiceToken:
    """The bearer token this service sends: fixed, or fetched with client credentials."""

    def __init__(
        self, settings: IndicatorsSettings, client: httpx.AsyncClient | None = None
    ) -> None:
        self.fixed = settings.service_token
        self.client_id = settings.client_id
        self.client_secret = settings.client_secret
        self.token_url = settings.token_url
        self.client = client
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def header(self) -> dict[str, str]:
        """The Authorization header (empty when nothing is configured, as in local tests)."""
        if self.fixed:
            return {"Authorization": f"Bearer {self.fixed}"}
        if not (self.client_id and self.client_secret):
            return {}
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    async def _fetch(self) -> None:
        client = self.client or async_client(self.token_url)
        try:
            answer = await client.post(
                self.token_url,
                data={"grant_type": "client_credentials", "scope": "records:read catalog:read"},
                auth=(self.client_id or "", self.client_secret or ""),
            )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
        finally:
            if self.client is None:
                await client.aclose()
        if answer.status_code != 200:
            raise SourceUnavailable(f"token endpoint answered {answer.status_code}")
        body = answer.json()
        self._token = str(body["access_token"])
        # Renew a little before the token expires.
        self._expires_at = time.monotonic() + max(float(body.get("expires_in", 300)) - 30, 5)

    def forget(self) -> None:
        """Drop a token the upstream refused, so the next call fetches a new one."""
        self._token = None


#: Answers that mean "try again shortly" (a database blip upstream, a rate limit).
RETRY_STATUSES = frozenset({429, 503})
#: Attempts per call, and the longest wait between them: an indicator is computed while its
#: reader waits, so a longer Retry-After is answered with our own 503 instead.
RETRY_ATTEMPTS = 3
MAX_RETRY_WAIT_S = 2.0


class _RetryableAnswer(Exception):
    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(f"answered {answer.status_code}")
        self.answer = answer
        try:
            self.retry_after: float | None = max(float(answer.headers["retry-after"]), 0.0)
        except (KeyError, ValueError):
            self.retry_after = None


def _wait(state: RetryCallState) -> float:
    """Exponential backoff, or the upstream's Retry-After when it is longer (up to a bound)."""
    delay = wait_exponential_jitter(multiplier=0.1, max=MAX_RETRY_WAIT_S, jitter=0.1)(state)
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _RetryableAnswer) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return min(delay, MAX_RETRY_WAIT_S)


class _Upstream:
    def __init__(self, name: str, client: httpx.AsyncClient | None, token: ServiceToken) -> None:
        self.name, self.client, self.token = name, client, token

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on 429/503 honouring Retry-After; the last answer otherwise."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_RetryableAnswer),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            wait=_wait,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    answer = await self._authorised(method, path, **kwargs)
                    if answer.status_code in RETRY_STATUSES:
                        raise _RetryableAnswer(answer)
        except _RetryableAnswer as exc:
            return exc.answer
        return answer

    async def _authorised(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        extra = kwargs.pop("headers", {})
        closed_once = False
        for attempt in (1, 2, 3):
            headers = {**extra, **(await self.token.header())}
            if self.client is None:
                raise SourceUnavailable(f"{self.name}: the service has not started its clients")
            try:
                answer = await self.client.request(method, path, headers=headers, **kwargs)
            except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
                # A pooled connection the upstream closed as we reused it (keep-alive expiry):
                # asked again once on a new one; every call here only reads, so that is safe.
                if closed_once:
                    raise SourceUnavailable(
                        f"{self.name} unreachable: {type(exc).__name__}"
                    ) from exc
                closed_once = True
                continue
            except httpx.HTTPError as exc:
                raise SourceUnavailable(f"{self.name} unreachable: {type(exc).__name__}") from exc
            if answer.status_code == 401 and attempt == 1 and self.token.client_id:
                self.token.forget()
                continue
            return answer
        return answer

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.call(method, path, **kwargs)
        if answer.status_code != 200:
            raise SourceUnavailable(f"{self.name} answered {answer.status_code} on {path}")
        return answer.json()

    async def pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            query = {**params, "limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
            body = await self.json("GET", path, params=query, headers={"Accept-Language": "lv"})
            for item in body.get("data", []):
                yield item
            cursor = body.get("next_cursor")
            if not cursor:
                return


class HttpRecordsSource:
    """learning-records over HTTP, exactly as docs/contracts/records-for-indicators.md says."""

    def __init__(self, client: httpx.AsyncClient | None, token: ServiceToken) -> None:
        self.upstream = _Upstream("learning-records", client, token)

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """`POST /v1/aggregations/query`."""
        body = await self.upstream.json("POST", "/v1/aggregations/query", json=_wire(query))
        return AggregationResult.model_validate(body)

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """`POST /v1/aggregations/headcounts`."""
        body = await self.upstream.json("POST", "/v1/aggregations/headcounts", json=_wire(query))
        return HeadcountResult.model_validate(body)

    async def batch(
        self, aggregations: list[AggregationQuery], headcounts: list[HeadcountQuery]
    ) -> tuple[list[AggregationResult], list[HeadcountResult]] | None:
        """`POST /v1/aggregations/batch`: the answers in order (None: not offered there)."""
        body = {
            "aggregations": [_wire(q) for q in aggregations],
            "headcounts": [_wire(q) for q in headcounts],
        }
        answer = await self.upstream.call("POST", "/v1/aggregations/batch", json=body)
        if answer.status_code in (404, 405, 501):
            return None
        if answer.status_code != 200:
            raise SourceUnavailable(f"learning-records answered {answer.status_code}")
        found = answer.json()
        return (
            [AggregationResult.model_validate(a) for a in found["aggregations"]],
            [HeadcountResult.model_validate(h) for h in found["headcounts"]],
        )

    async def head(self) -> int:
        """`GET /v1/changes/head`."""
        body = await self.upstream.json("GET", "/v1/changes/head")
        return int(body.get("last_seq") or 0)

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Proposed `POST /v1/aggregations/members` (404/405 there: not offered)."""
        answer = await self.upstream.call("POST", "/v1/aggregations/members", json=_wire(query))
        if answer.status_code in (404, 405, 501):
            raise ExplainUnavailable("learning-records offers no members endpoint")
        if answer.status_code != 200:
            raise SourceUnavailable(f"learning-records answered {answer.status_code}")
        return MembersResult.model_validate(answer.json())


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("lv") or value.get("en") or "")
    return "" if value is None else str(value)


def target_from_catalog(indicator: dict[str, Any]) -> Target:
    """The catalog's target, baseline and yearly targets as one Target."""
    raw = dict(indicator.get("target") or {})
    kind = raw.pop("kind", None) or indicator.get("target_kind") or "none"
    target = Target.model_validate({**raw, "kind": kind})
    baseline = indicator.get("baseline") or {}
    if isinstance(baseline, dict) and baseline.get("value") is not None:
        target.baseline = float(baseline["value"])
        target.baseline_year = baseline.get("year")
    yearly: list[YearTarget] = []
    for year in indicator.get("yearly") or []:
        if year.get("kind") == "baseline" and target.baseline is None:
            # A baseline without a value ("BV") is measured that year.
            target.baseline_year = int(year["year"])
            if year.get("value") is not None:
                target.baseline = float(year["value"])
        elif year.get("kind") == "not_measured":
            yearly.append(YearTarget(year=int(year["year"]), not_measured=True))
        elif year.get("kind") == "target":
            yearly.append(
                YearTarget(
                    year=int(year["year"]),
                    value=year.get("value"),
                    direction=year.get("direction") or ">=",
                    relative_to_baseline=bool(year.get("relative_to_baseline")),
                    as_written=year.get("as_written"),
                )
            )
    target.yearly = yearly
    scale = indicator.get("scale")
    if isinstance(scale, dict) and scale.get("max") is not None:
        target.scale_max = float(scale["max"])
    return target


class HttpCatalogSource:
    """The catalog over HTTP: a plan's measures (deadlines) and indicators, the institutions."""

    def __init__(self, client: httpx.AsyncClient | None, token: ServiceToken) -> None:
        self.upstream = _Upstream("catalog", client, token)

    async def indicators(self, plan: str) -> list[IndicatorInfo]:
        """Every indicator of a plan with its measure's deadline year and its target."""
        answer = await self.upstream.call(
            "GET", f"/v1/plans/{quote(plan, safe='')}", headers={"Accept-Language": "lv"}
        )
        if answer.status_code == 404:
            raise PlanNotFound(f"The catalog has no plan {plan!r}")
        if answer.status_code != 200:
            raise SourceUnavailable(f"catalog answered {answer.status_code} on /v1/plans")
        detail = answer.json()
        period = detail.get("period") or {}
        start, end = period.get("start") or 2021, period.get("end")
        deadlines: dict[str, int | None] = {}
        async for row in self.upstream.pages("/v1/measures", {"plan": plan}):
            deadlines[str(row["code"])] = row.get("deadline_year")
        found = []
        async for indicator in self.upstream.pages("/v1/indicators", {"plan": plan}):
            measure: str | None = indicator.get("measure")
            found.append(
                IndicatorInfo(
                    code=str(indicator["code"]),
                    title=_text(indicator.get("text")),
                    plan=plan,
                    priority=None
                    if indicator.get("priority") is None
                    else str(indicator["priority"]),
                    measure=measure,
                    deadline_year=deadlines.get(measure) if measure else end,
                    start_year=int(start),
                    target=target_from_catalog(indicator),
                )
            )
        return found

    async def version(self) -> int:
        """`GET /v1/changes/head`: the id of the catalog's latest change."""
        body = await self.upstream.json("GET", "/v1/changes/head")
        return int(body.get("version") or 0)

    async def names(self, list_code: str) -> dict[str, tuple[str, str]]:
        """`GET /v1/reference/{code}`: the list's codes with their Latvian and English names."""
        answer = await self.upstream.call("GET", f"/v1/reference/{quote(list_code, safe='')}")
        if answer.status_code == 404:
            return {}
        if answer.status_code != 200:
            raise SourceUnavailable(f"catalog answered {answer.status_code} on /v1/reference")
        found: dict[str, tuple[str, str]] = {}
        for item in answer.json().get("items") or []:
            name = item.get("name")
            if not isinstance(name, dict):
                name = {"lv": name, "en": name}
            lv = str(name.get("lv") or name.get("en") or item["code"])
            found[str(item["code"])] = (lv, str(name.get("en") or lv))
        return found

    async def institutions(self) -> list[InstitutionInfo]:
        """Every institution with its sector, kind and resort (its parent ministry)."""
        found = []
        async for row in self.upstream.pages("/v1/institutions", {}):
            found.append(
                InstitutionInfo(
                    code=str(row["code"]),
                    name=_text(row.get("name")),
                    sector=row.get("sector"),
                    kind=row.get("kind"),
                    resort=row.get("parent"),
                )
            )
        return found


class HttpSources:
    """Both HTTP sources; their pooled clients are opened and closed by the app's lifespan.

    The clients are created in `open()`, on the event loop that serves the app, and closed on
    that same loop: a pooled connection belongs to the loop that opened it.
    """

    def __init__(self, settings: IndicatorsSettings) -> None:
        self.settings = settings
        token = ServiceToken(settings)
        self.http_records = HttpRecordsSource(None, token)
        self.records = BatchingRecords(self.http_records, settings.records_batch_max)
        self.catalog = HttpCatalogSource(None, token)

    def _client(self, base_url: str) -> httpx.AsyncClient:
        return async_client(
            base_url,
            connect_timeout=self.settings.connect_timeout_s,
            read_timeout=self.settings.read_timeout_s,
        )

    def open(self) -> None:
        """Create the pooled clients (call from the serving loop)."""
        self.http_records.upstream.client = self._client(self.settings.records_url)
        self.catalog.upstream.client = self._client(self.settings.catalog_url)

    async def aclose(self) -> None:
        """Close the pooled clients on the loop that opened them."""
        for upstream in (self.http_records.upstream, self.catalog.upstream):
            if upstream.client is not None:
                await upstream.client.aclose()
                upstream.client = None
