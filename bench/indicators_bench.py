"""Indicator benchmark: every computable plan indicator with its breakdowns, on PostgreSQL.

Builds a scratch database (dropped at the end) with 1,000,000 enrolments, 100,000 people and
2,000 institutions (ministries, their subordinate institutions, municipalities), courses tagged
with the measure they serve, roles, position groups and management levels drawn like the plan's
participant groups, movers who change institution mid-2024, and HR headcounts per institution,
role and position group.

It then computes the 49 computable default definitions through the indicators engine, with the
default breakdowns (institution, resort, sector, position group, year), and, in the same run,
with one hand-written SQL statement per indicator computing the same numbers (GROUPING SETS
over the same join). The engine reaches the data through the records contract: here through
`SqlRecords`, the contract's aggregations written over this scratch schema (learning-records'
own aggregation SQL is not yet loaded with benchmark data; see docs/indicators.md). Figures
printed:

- cold: the whole plan computed with an empty result cache;
- warm: the whole plan served as the service serves it when nothing changed (one change-feed
  head question, then the result cache);
- recompute: the whole plan computed again with an empty result cache (database buffers warm);
- hand-written SQL: the same numbers, warm, with the same number of connections;
- the ratio recompute / hand-written SQL.

Every total the engine computed is checked against the hand-written SQL's.

    python bench/indicators_bench.py [--records 1000000] [--people 100000] [--institutions 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from indicators.definitions.service import default_definitions
from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute, resort_of
from indicators.engine.results import IndicatorResult
from indicators.results.service import ResultCache
from indicators.sources.types import (
    AggregationQuery,
    AggregationResult,
    Group,
    HeadcountQuery,
    HeadcountResult,
    IndicatorInfo,
    InstitutionInfo,
    MembersResult,
)

ADMIN_URL = os.environ.get(
    "PILNVEIDE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AS_OF = date(2025, 12, 31)
CONNECTIONS = 4
MEASURES = [
    "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2",
    "3.3", "3.4", "4.1", "4.2", "4.3", "5.1", "5.2", "5.3", "5.4", "5.5",
]  # fmt: skip
ROLES = {
    "procurement_specialist": 0.05, "whistleblowing_officer": 0.02, "trust_person": 0.02,
    "internal_trainer": 0.01, "mentor": 0.01, "control_function": 0.10,
    "service_delivery": 0.10, "client_service_centre": 0.03, "eu_funds_management": 0.03,
    "resort_procurement_expert": 0.005, "executive_director": 0.005,
    "deputy_executive_director": 0.005,
}  # fmt: skip
POSITION_GROUPS = [
    "policy_planning", "procurement", "it", "hr", "client_service", "audit", "lawyers", "other",
]  # fmt: skip

SCHEMA = """
CREATE TABLE institution (code text PRIMARY KEY, sector text, kind text, resort text);
CREATE TABLE employment (person int, institution text, sector text, position_group text,
  management_level text, roles text[], civil_servant bool, valid_from date, valid_to date);
CREATE TABLE course (code text PRIMARY KEY, tags text[]);
CREATE TABLE enrolment (person int, course text, tags text[], status text, status_date date,
  test_passed bool, hours real);
CREATE TABLE headcount (institution text, sector text, as_of date, role text,
  position_group text, value int);
"""


def _data_sql(records: int, people: int, institutions: int) -> list[str]:
    ministries = 20
    municipal = institutions * 2 // 5
    role_exprs = ", ".join(f"CASE WHEN random() < {p} THEN '{r}' END" for r, p in ROLES.items())
    groups = "ARRAY[" + ", ".join(f"'{g}'" for g in POSITION_GROUPS) + "]"
    tags = []
    for n, measure in enumerate(MEASURES):
        for k in range(10):
            extra = ""
            if measure == "3.1" and k == 0:
                extra = ", 'competency_assessment:top'"
            if measure == "3.2" and k == 0:
                extra = ", 'competency_assessment:middle'"
            tags.append(f"('C{n:02d}{k}', ARRAY['measure:{measure}'{extra}])")
    return [
        f"""INSERT INTO institution
            SELECT 'I' || lpad(i::text, 4, '0'),
                   CASE WHEN i > {institutions - municipal} THEN 'municipal' ELSE 'state' END,
                   CASE WHEN i <= {ministries} THEN 'ministry'
                        WHEN i > {institutions - municipal} THEN 'municipality'
                        ELSE 'subordinate' END,
                   CASE WHEN i <= {ministries} THEN 'I' || lpad(i::text, 4, '0')
                        WHEN i > {institutions - municipal} THEN NULL
                        ELSE 'I' || lpad((1 + i % {ministries})::text, 4, '0') END
            FROM generate_series(1, {institutions}) i""",
        f"""INSERT INTO employment
            SELECT p, inst.code, inst.sector,
                   CASE WHEN lvl = 'top' THEN 'top_managers' WHEN lvl = 'middle' THEN
                   'middle_managers' WHEN lvl = 'lower' THEN 'lower_managers'
                   ELSE ({groups})[1 + floor(random() * {len(POSITION_GROUPS)})::int] END,
                   lvl, array_remove(ARRAY[{role_exprs}], NULL), random() < 0.6,
                   DATE '2018-01-01', NULL
            FROM (SELECT p, 1 + floor(power(random(), 2) * {institutions})::int AS i,
                         CASE WHEN r < 0.02 THEN 'top' WHEN r < 0.10 THEN 'middle'
                              WHEN r < 0.20 THEN 'lower' WHEN r < 0.205 THEN 'political'
                              WHEN r < 0.21 THEN 'senior_official' END AS lvl
                  FROM (SELECT p, random() AS r FROM generate_series(1, {people}) p) x) y
            JOIN institution inst ON inst.code = 'I' || lpad(y.i::text, 4, '0')""",
        # 5 % of people move to another institution on 1 July 2024.
        f"""INSERT INTO employment
            SELECT e.person, inst.code, inst.sector, e.position_group, e.management_level,
                   e.roles, e.civil_servant, DATE '2024-07-01', NULL
            FROM employment e
            JOIN institution inst
              ON inst.code = 'I' || lpad((1 + (e.person * 7919) % {institutions})::text, 4, '0')
            WHERE e.person % 20 = 0""",
        "UPDATE employment SET valid_to = DATE '2024-06-30' "
        "WHERE person % 20 = 0 AND valid_from = DATE '2018-01-01'",
        "INSERT INTO course VALUES " + ", ".join(tags),
        f"""INSERT INTO enrolment
            SELECT 1 + floor(random() * {people})::int, c.code, c.tags,
                   CASE WHEN s < 0.70 THEN 'completed' WHEN s < 0.75 THEN 'attended'
                        WHEN s < 0.83 THEN 'failed' WHEN s < 0.90 THEN 'no_show'
                        ELSE 'enrolled' END,
                   DATE '2021-01-01' + floor(random() * 1826)::int,
                   CASE WHEN s < 0.83 THEN random() < 0.75 END,
                   1 + floor(random() * 16)
            FROM (SELECT n, random() AS s, 1 + floor(random() * 230)::int AS c
                  FROM generate_series(1, {records}) n) x
            JOIN (SELECT code, tags, row_number() OVER (ORDER BY code) AS k FROM course) c
              ON c.k = x.c""",
        """INSERT INTO headcount
            SELECT e.institution, e.sector, d, NULL, NULL, count(*)
            FROM employment e, unnest(ARRAY[DATE '2021-01-01', DATE '2022-01-01',
              DATE '2023-01-01', DATE '2024-01-01', DATE '2025-01-01']) d
            WHERE d BETWEEN e.valid_from AND COALESCE(e.valid_to, DATE '9999-12-31')
            GROUP BY 1, 2, 3""",
        """INSERT INTO headcount
            SELECT e.institution, e.sector, DATE '2021-01-01', r, NULL, count(*)
            FROM employment e, unnest(e.roles) r
            WHERE e.valid_from = DATE '2018-01-01' GROUP BY 1, 2, 4""",
        """INSERT INTO headcount
            SELECT e.institution, e.sector, DATE '2021-01-01', NULL, e.position_group, count(*)
            FROM employment e WHERE e.valid_from = DATE '2018-01-01' GROUP BY 1, 2, 5""",
        "CREATE INDEX ON employment (person, valid_from)",
        "CREATE INDEX ON enrolment USING gin (tags)",
        "CREATE INDEX ON enrolment (course)",
        "ANALYZE",
    ]


class Pool:
    """A handful of async connections handed out in turn."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self.free: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()

    async def open(self) -> None:
        """Open the connections."""
        for _ in range(self.size):
            connection = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, row_factory=dict_row
            )
            await self.free.put(connection)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Borrow a connection."""
        connection = await self.free.get()
        try:
            yield connection
        finally:
            await self.free.put(connection)

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of one statement."""
        async with self.connection() as connection:
            cursor = await connection.execute(sql, params)  # type: ignore[arg-type]
            return list(await cursor.fetchall())

    async def close(self) -> None:
        """Close every connection."""
        while not self.free.empty():
            await (await self.free.get()).close()


DIMENSION_SQL = {
    "institution": "m.institution",
    "sector": "m.sector",
    "position_group": "m.position_group",
    "management_level": "m.management_level",
    "year": "extract(year FROM e.status_date)::int",
}
MEASURE_SQL = {
    "people": "count(DISTINCT e.person)",
    "institutions": "count(DISTINCT m.institution)",
    "municipalities": "count(DISTINCT m.institution) FILTER (WHERE m.sector = 'municipal')",
    "enrolments": "count(*)",
    "hours": "sum(e.hours)",
}


def matching_sql(query_filter: Any, params: dict[str, Any]) -> str:
    """FROM … WHERE of the enrolments a contract filter matches, joined to employment."""
    day = "e.status_date"
    if query_filter.employment_as_of is not None:
        params["employment_as_of"] = query_filter.employment_as_of
        day = "%(employment_as_of)s::date"
    where = [f"{day} BETWEEN m.valid_from AND COALESCE(m.valid_to, DATE '9999-12-31')"]
    for key, column, operator in [
        ("courses", "e.course", "= ANY"),
        ("course_tags", "e.tags", "&&"),
        ("statuses", "e.status", "= ANY"),
        ("institutions", "m.institution", "= ANY"),
        ("sectors", "m.sector", "= ANY"),
        ("roles", "m.roles", "&&"),
        ("position_groups", "m.position_group", "= ANY"),
        ("management_levels", "m.management_level", "= ANY"),
    ]:
        value = getattr(query_filter, key)
        if value is not None:
            params[key] = list(value)
            where.append(
                f"{column} {operator}(%({key})s)" if "ANY" in operator else f"{column} && %({key})s"
            )
    if query_filter.test_passed is not None:
        params["test_passed"] = query_filter.test_passed
        where.append("COALESCE(e.test_passed, false) = %(test_passed)s")
    if query_filter.civil_servant is not None:
        params["civil_servant"] = query_filter.civil_servant
        where.append("m.civil_servant = %(civil_servant)s")
    period = query_filter.period
    if period is not None and period.from_ is not None:
        params["period_from"] = period.from_
        where.append("e.status_date >= %(period_from)s")
    if period is not None and period.to is not None:
        params["period_to"] = period.to
        where.append("e.status_date <= %(period_to)s")
    return "FROM enrolment e JOIN employment m ON m.person = e.person WHERE " + " AND ".join(where)


class SqlRecords:
    """The records contract's aggregations over the bench schema (one statement each)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.queries = 0

    async def aggregate(self, query: AggregationQuery) -> AggregationResult:
        """`POST /v1/aggregations/query`; `group_by_sets` here costs one statement per set."""
        if query.group_by_sets is None:
            return await self._aggregate(query)
        answer = await self._aggregate(query.model_copy(update={"group_by_sets": None}))
        for index, keys in enumerate(query.group_by_sets):
            one = await self._aggregate(
                query.model_copy(update={"group_by": keys, "group_by_sets": None})
            )
            answer.groups += [g.model_copy(update={"set": index}) for g in one.groups]
        return answer

    async def _aggregate(self, query: AggregationQuery) -> AggregationResult:
        self.queries += 1
        params: dict[str, Any] = {}
        source = matching_sql(query.filter, params)
        dims = list(query.group_by)
        if query.metric == "people_with_frequency":
            frequency = query.frequency
            low = frequency.min_per_year if frequency and frequency.min_per_year is not None else 0
            high = (
                frequency.max_per_year
                if frequency and frequency.max_per_year is not None
                else 10**9
            )
            dims = dims or ["year"]
            inner = ", ".join(f"{DIMENSION_SQL[d]} AS {d}" for d in dims if d != "year")
            sql = (
                f"WITH py AS (SELECT e.person, extract(year FROM e.status_date)::int AS year"
                f"{', ' + inner if inner else ''}, count(*) OVER (PARTITION BY e.person, "
                f"extract(year FROM e.status_date)) AS n {source}) "
                f"SELECT {', '.join(dims)}, count(DISTINCT person) AS value, "
                f"grouping({', '.join(dims)}) AS g FROM py WHERE n BETWEEN {low} AND {high} "
                f"GROUP BY GROUPING SETS (({', '.join(dims)}), ())"
            )
        else:
            select = ", ".join(f"{DIMENSION_SQL[d]} AS {d}" for d in dims)
            grouping = (
                f"GROUP BY GROUPING SETS (({', '.join(DIMENSION_SQL[d] for d in dims)}), ())"
                if dims
                else ""
            )
            marker = (
                f", grouping({', '.join(DIMENSION_SQL[d] for d in dims)}) AS g"
                if dims
                else ", 1 AS g"
            )
            head = f"{select}, " if select else ""
            measure = MEASURE_SQL[query.metric]
            sql = f"SELECT {head}{measure} AS value{marker} {source} {grouping}"
        rows = await self.pool.fetch(sql, params)
        total = 0.0
        groups = []
        for row in rows:
            value = float(row["value"] or 0)
            if not dims or row["g"] != 0:
                total = value
            else:
                groups.append(Group(key={d: row[d] for d in dims}, value=value))
        return AggregationResult(metric=query.metric, groups=groups, total=total, cutoff_seq=1)

    async def headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """`POST /v1/aggregations/headcounts`; `group_by_sets` costs one statement per set."""
        if query.group_by_sets is None:
            return await self._headcounts(query)
        answer = await self._headcounts(query.model_copy(update={"group_by_sets": None}))
        for index, keys in enumerate(query.group_by_sets):
            one = await self._headcounts(
                query.model_copy(update={"group_by": keys, "group_by_sets": None})
            )
            answer.groups += [g.model_copy(update={"set": index}) for g in one.groups]
        return answer

    async def _headcounts(self, query: HeadcountQuery) -> HeadcountResult:
        """`POST /v1/aggregations/headcounts`: latest row per series on or before as_of."""
        self.queries += 1
        chosen = query.filter
        by_group = "position_group" in query.group_by or chosen.position_groups is not None
        by_role = "role" in query.group_by or chosen.roles is not None
        params: dict[str, Any] = {"as_of": query.as_of}
        where = [
            "as_of <= %(as_of)s",
            f"position_group IS {'NOT ' if by_group else ''}NULL",
            f"role IS {'NOT ' if by_role else ''}NULL",
        ]
        for key, column in [
            ("institutions", "institution"),
            ("sectors", "sector"),
            ("position_groups", "position_group"),
            ("roles", "role"),
        ]:
            value = getattr(chosen, key)
            if value is not None:
                params[key] = list(value)
                where.append(f"{column} = ANY(%({key})s)")
        dims = list(query.group_by)
        sql = (
            "WITH latest AS (SELECT DISTINCT ON (institution, role, position_group) * FROM "
            f"headcount WHERE {' AND '.join(where)} "
            "ORDER BY institution, role, position_group, as_of DESC) "
            f"SELECT {', '.join(dims) + ', ' if dims else ''}sum(value) AS value"
            f"{', grouping(' + ', '.join(dims) + ') AS g' if dims else ', 1 AS g'} FROM latest "
            f"{'GROUP BY GROUPING SETS ((' + ', '.join(dims) + '), ())' if dims else ''}"
        )
        rows = await self.pool.fetch(sql, params)
        total, groups = 0.0, []
        for row in rows:
            if not dims or row["g"] != 0:
                total = float(row["value"] or 0)
            else:
                groups.append(Group(key={d: row[d] for d in dims}, value=float(row["value"])))
        return HeadcountResult(groups=groups, total=total, as_of=query.as_of, cutoff_seq=1)

    async def head(self) -> int:
        """The change feed does not move during the benchmark."""
        return 1

    async def members(self, query: AggregationQuery) -> MembersResult:
        """Not used by the benchmark."""
        raise NotImplementedError


# ---- hand-written SQL: one statement per indicator --------------------------------------


def hand_sql(spec: DefinitionSpec, resorts: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """One statement computing an indicator's total and breakdowns the way the engine does."""
    from indicators.sources.types import Period, RecordsFilter

    chosen: RecordsFilter = spec.filter.model_copy(deep=True)
    chosen.period = Period(from_=date(2021, 1, 1), to=AS_OF)
    params: dict[str, Any] = {}
    year = "extract(year FROM e.status_date)::int"
    sets = f"(), (m.institution), (m.sector), (m.position_group), ({year})"
    cols = (
        "m.institution AS institution, m.sector AS sector, m.position_group AS position_group, "
        "extract(year FROM e.status_date)::int AS year, "
        f"grouping(m.institution, m.sector, m.position_group, {year}) AS g"
    )
    if spec.kind == "share":
        assert spec.denominator is not None
        population = spec.denominator.filter
        for key in ("roles", "position_groups", "sectors"):
            if getattr(chosen, key) is None and getattr(population, key) is not None:
                setattr(chosen, key, list(getattr(population, key)))
        chosen.employment_as_of = AS_OF
        source = matching_sql(chosen, params)
        return (
            f"SELECT {cols}, count(DISTINCT e.person) AS value {source} "
            f"GROUP BY GROUPING SETS ({sets})",
            params,
        )
    if spec.kind in ("coverage_per_institution", "coverage_per_resort"):
        assert spec.coverage is not None
        chosen.employment_as_of = AS_OF
        source = matching_sql(chosen, params)
        params["per_unit_min"] = spec.coverage.per_unit_min
        unit = "i.resort" if spec.kind == "coverage_per_resort" else "i.code"
        sectors = spec.coverage.institution_set.sectors
        kinds = spec.coverage.institution_set.kinds
        params["set_sectors"] = sectors or ["state", "municipal", "other"]
        params["set_kinds"] = kinds or [
            "ministry",
            "subordinate",
            "municipality",
            "university",
            "group",
            "other",
        ]
        return (
            f"WITH counted AS (SELECT m.institution, count(DISTINCT e.person) AS n {source} "
            "GROUP BY m.institution), units AS (SELECT "
            f"{unit} AS unit, sum(COALESCE(c.n, 0)) AS n FROM institution i LEFT JOIN counted c "
            "ON c.institution = i.code WHERE i.sector = ANY(%(set_sectors)s) "
            f"AND i.kind = ANY(%(set_kinds)s) AND {unit} IS NOT NULL GROUP BY {unit}) "
            "SELECT NULL AS institution, NULL AS sector, NULL AS position_group, NULL AS year, "
            "1 AS g, count(*) FILTER (WHERE n >= %(per_unit_min)s) AS value FROM units",
            params,
        )
    if spec.kind == "people_with_frequency":
        assert spec.frequency is not None
        source = matching_sql(chosen, params)
        low = spec.frequency.min_per_year or 0
        high = spec.frequency.max_per_year or 10**9
        return (
            "WITH py AS (SELECT e.person, m.institution, m.sector, m.position_group, "
            "extract(year FROM e.status_date)::int AS year, count(*) OVER (PARTITION BY "
            f"e.person, extract(year FROM e.status_date)) AS n {source}) "
            "SELECT institution, sector, position_group, year, grouping(institution, sector, "
            "position_group, year) AS g, count(DISTINCT person) AS value FROM py "
            f"WHERE n BETWEEN {low} AND {high} AND year = {AS_OF.year} GROUP BY GROUPING SETS "
            "((), (institution, year), (sector, year), (position_group, year), (year))",
            params,
        )
    if spec.attribute_people_at == "as_of":
        chosen.employment_as_of = AS_OF
    source = matching_sql(chosen, params)
    measure = (
        "count(DISTINCT e.person)" if spec.kind == "distinct_people" else MEASURE_SQL[spec.unit]
    )
    extra = ""
    if spec.represented:
        extra = f", {MEASURE_SQL[spec.represented]} AS represented"
    return (
        f"SELECT {cols}, {measure} AS value{extra} {source} GROUP BY GROUPING SETS ({sets})",
        params,
    )


async def run_hand_sql(
    pool: Pool, specs: dict[str, DefinitionSpec], resorts: dict[str, str]
) -> dict[str, float]:
    """Totals of every indicator by hand-written SQL (breakdowns computed in the same pass)."""
    totals: dict[str, float] = {}

    async def one(code: str, spec: DefinitionSpec) -> None:
        sql, params = hand_sql(spec, resorts)
        rows = await pool.fetch(sql, params)
        by_institution: dict[str, float] = {}
        total = 0.0
        for row in rows:
            if spec.kind == "people_with_frequency":
                if row["g"] == 15:
                    continue
                if (
                    row["g"] == 14
                    and row["institution"] is None
                    and row["sector"] is None
                    and row["position_group"] is None
                ):
                    total = float(row["value"])
                continue
            if row["g"] == 15 or spec.kind.startswith("coverage"):
                total = float(row["value"] or 0)
            elif row["institution"] is not None:
                by_institution[row["institution"]] = float(row["value"])
        # Resort rows as sums of institution rows, exactly as the engine adds them up.
        per_resort: dict[str, float] = {}
        for institution, value in by_institution.items():
            resort = resorts.get(institution, "-")
            per_resort[resort] = per_resort.get(resort, 0.0) + value
        if spec.kind == "share":
            assert spec.denominator is not None
            await headcount_for(pool, spec)
        totals[code] = total

    await asyncio.gather(*(one(code, spec) for code, spec in specs.items()))
    return totals


async def headcount_for(pool: Pool, spec: DefinitionSpec) -> None:
    """A share's denominators by hand: total and per institution, sector, position group."""
    assert spec.denominator is not None
    population = spec.denominator.filter
    by_role = population.roles is not None
    by_group = population.position_groups is not None
    params: dict[str, Any] = {"as_of": AS_OF}
    where = [
        "as_of <= %(as_of)s",
        f"position_group IS {'NOT ' if by_group else ''}NULL",
        f"role IS {'NOT ' if by_role else ''}NULL",
    ]
    if by_role:
        params["roles"] = population.roles
        where.append("role = ANY(%(roles)s)")
    if by_group:
        params["groups"] = population.position_groups
        where.append("position_group = ANY(%(groups)s)")
    if population.sectors is not None:
        params["sectors"] = population.sectors
        where.append("sector = ANY(%(sectors)s)")
    await pool.fetch(
        "WITH latest AS (SELECT DISTINCT ON (institution, role, position_group) * FROM headcount "
        f"WHERE {' AND '.join(where)} ORDER BY institution, role, position_group, as_of DESC) "
        "SELECT institution, sector, sum(value) FROM latest GROUP BY GROUPING SETS "
        "((), (institution), (sector))",
        params,
    )


# ---- the run -------------------------------------------------------------------------------


async def compute_plan(
    records: SqlRecords,
    specs: dict[str, DefinitionSpec],
    infos: dict[str, IndicatorInfo],
    dataset: Dataset,
    cache: ResultCache,
) -> dict[str, IndicatorResult]:
    """The whole plan with breakdowns, as the service computes it (result cache included)."""
    head = await records.head()
    params = Params(as_of=AS_OF, detail=True)
    results: dict[str, IndicatorResult] = {}
    semaphore = asyncio.Semaphore(CONNECTIONS * 2)

    async def one(code: str, spec: DefinitionSpec) -> None:
        key = (code, 1, params, head)
        cached = cache.get(key)
        if cached is None:
            async with semaphore:
                cached = await compute(code, spec, 1, infos[code], params, records, dataset)
            cache.put(key, cached)
        results[code] = cached

    await asyncio.gather(*(one(code, spec) for code, spec in specs.items()))
    return results


async def main_async(args: argparse.Namespace) -> int:
    """Build the data, time the engine and the hand-written SQL, print the figures."""
    name = f"bench_indicators_{uuid.uuid4().hex[:8]}"
    admin_url = make_url(ADMIN_URL.replace("postgresql+psycopg", "postgresql"))
    admin = psycopg.connect(ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    pool = Pool(url, CONNECTIONS)
    try:
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(SCHEMA)
            for statement in _data_sql(args.records, args.people, args.institutions):
                connection.execute(statement)  # type: ignore[arg-type]
            counts = connection.execute(
                "SELECT (SELECT count(*) FROM enrolment), (SELECT count(DISTINCT person) FROM "
                "employment), (SELECT count(*) FROM institution), (SELECT count(*) FROM employment "
                "WHERE valid_from = DATE '2024-07-01')"
            ).fetchone()
            institution_rows = connection.execute(
                "SELECT code, sector, kind, resort FROM institution"
            ).fetchall()
        assert counts is not None
        print(
            f"data: {counts[0]:,} enrolments, {counts[1]:,} people, {counts[2]:,} institutions, "
            f"{counts[3]:,} movers; built in {time.perf_counter() - started:.1f} s"
        )
        institutions = {
            code: InstitutionInfo(code=code, sector=sector, kind=kind, resort=resort)
            for code, sector, kind, resort in institution_rows
        }
        resorts = {code: resort_of(info) for code, info in institutions.items()}
        _plan, items = default_definitions()
        specs = {item.code: item.spec for item in items if item.spec.computed}
        infos = {code: IndicatorInfo(code=code, deadline_year=2027) for code in specs}
        dataset = Dataset(institutions=institutions)
        await pool.open()
        records = SqlRecords(pool)
        cache = ResultCache(10_000)

        started = time.perf_counter()
        cold = await compute_plan(records, specs, infos, dataset, cache)
        cold_s = time.perf_counter() - started
        queries = records.queries

        started = time.perf_counter()
        warm = await compute_plan(records, specs, infos, dataset, cache)
        warm_s = time.perf_counter() - started
        assert all(warm[c] is cold[c] for c in specs)

        started = time.perf_counter()
        again = await compute_plan(records, specs, infos, dataset, ResultCache(10_000))
        recompute_s = time.perf_counter() - started

        await run_hand_sql(pool, specs, resorts)  # prime the same buffers once
        started = time.perf_counter()
        by_hand = await run_hand_sql(pool, specs, resorts)
        hand_s = time.perf_counter() - started

        mismatches = [
            (
                code,
                again[code].value
                if again[code].kind.startswith("coverage")
                else again[code].numerator,
                by_hand[code],
            )
            for code in specs
            if (
                again[code].value
                if again[code].kind.startswith("coverage")
                else again[code].numerator
            )
            != by_hand[code]
        ]
        rows = sum(len(b.rows) for r in cold.values() for b in r.breakdowns)
        print(f"indicators computed: {len(specs)} (of 71; the rest are hand-reported)")
        print(f"breakdown rows: {rows:,}; records questions asked: {queries}")
        print(f"engine, cold (empty result cache):        {cold_s:8.3f} s   target < 5 s")
        print(f"engine, warm (head check + result cache): {warm_s:8.3f} s   target < 1 s")
        print(f"engine, recomputed (buffers warm):        {recompute_s:8.3f} s")
        print(f"hand-written SQL, same numbers:           {hand_s:8.3f} s")
        print(
            f"ratio engine recompute / hand-written:    {recompute_s / hand_s:8.2f} x"
            "  target <= 1.5 x"
        )
        print(f"ratio engine cold / hand-written:         {cold_s / hand_s:8.2f} x")
        print(
            f"totals equal to the hand-written SQL's:   {len(specs) - len(mismatches)}/{len(specs)}"
        )
        for code, engine_value, hand_value in mismatches[:10]:
            print(f"  {code}: engine {engine_value} vs hand-written {hand_value}")
        return 1 if mismatches else 0
    finally:
        await pool.close()
        if not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments (unknown ones from bench/run_all.py are ignored) and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--institutions", type=int, default=2_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args, _unknown = parser.parse_known_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
