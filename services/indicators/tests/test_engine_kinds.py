"""Every computation kind on small hand-built datasets, with exact expected values."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute
from indicators.engine.results import IndicatorResult, Observation
from indicators.sources.memory import Employment, Enrolment, Headcount, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target

INSTITUTIONS = {
    i.code: i
    for i in [
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(code="VID", name="VID", sector="state", kind="agency", resort="FM"),
        InstitutionInfo(code="IUB", name="IUB", sector="state", kind="agency", resort="FM"),
        InstitutionInfo(code="TM", name="Tieslietu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(
            code="RIGA", name="Rīgas valstspilsēta", sector="municipal", kind="municipality"
        ),
        InstitutionInfo(code="CESIS", name="Cēsu novads", sector="municipal", kind="municipality"),
    ]
}


def job(
    person: str, institution: str, start: str = "2020-01-01", end: str | None = None, **kw: Any
) -> Employment:
    sector = INSTITUTIONS[institution].sector or "state"
    return Employment(
        person=person,
        institution=institution,
        valid_from=date.fromisoformat(start),
        valid_to=date.fromisoformat(end) if end else None,
        sector=sector,
        roles=frozenset(kw.pop("roles", ())),
        **kw,
    )


def course(person: str, code: str, day: str, status: str = "completed", **kw: Any) -> Enrolment:
    return Enrolment(
        person=person,
        course=code,
        status=status,
        status_date=date.fromisoformat(day),
        course_tags=frozenset(kw.pop("tags", ())),
        **kw,
    )


def info(code: str = "1.1.1", deadline: int = 2026, target: Target | None = None) -> IndicatorInfo:
    return IndicatorInfo(
        code=code,
        title="t",
        priority="1",
        measure=code.rsplit(".", 1)[0],
        deadline_year=deadline,
        target=target or Target(),
    )


def run(
    spec: dict[str, Any],
    records: MemoryRecords,
    *,
    as_of: str = "2024-12-31",
    indicator: IndicatorInfo | None = None,
    observations: list[Observation] | None = None,
    **params: Any,
) -> IndicatorResult:
    # Records resolves resorts from its own copy of the catalog: the same institutions.
    records.institutions = records.institutions or list(INSTITUTIONS.values())
    return asyncio.run(
        compute(
            (indicator or info()).code,
            DefinitionSpec.model_validate(spec),
            1,
            indicator or info(),
            Params(as_of=date.fromisoformat(as_of), **params),
            records,
            Dataset(institutions=INSTITUTIONS, observations=observations or []),
        )
    )


def rows(result: IndicatorResult, dimension: str) -> dict[str, Any]:
    breakdown = next(b for b in result.breakdowns if b.dimension == dimension)
    return {
        r.key: (r.value if r.denominator is None else (r.numerator, r.denominator))
        for r in breakdown.rows
    }


# ---- distinct people -----------------------------------------------------------------------


def test_distinct_people_counts_each_person_once_and_a_mover_in_both_institutions() -> None:
    records = MemoryRecords(
        employments=[
            job("p1", "VID", "2020-01-01", "2024-06-30", position_group="analyst"),
            job("p1", "IUB", "2024-07-01", position_group="lawyer"),
            job("p2", "TM", position_group="lawyer"),
            job("p3", "RIGA", position_group="analyst"),
        ],
        enrolments=[
            course("p1", "INTEG-E", "2024-03-10", tags=["measure:1.1"]),
            course("p1", "INTEG-K", "2024-09-10", tags=["measure:1.1"]),
            course("p2", "INTEG-E", "2023-05-01", tags=["measure:1.1"]),
            course("p2", "INTEG-E", "2024-05-01", tags=["measure:1.1"]),
            course("p3", "OTHER", "2024-05-01", tags=["measure:4.1"]),
        ],
    )
    spec = {
        "kind": "distinct_people",
        "filter": {"course_tags": ["measure:1.1"]},
        "represented": "institutions",
    }
    result = run(spec, records, series=True)
    assert result.value == 2
    assert result.extra["institutions_represented"] == 3
    # The mover counts under the institution of each learning event; the total stays distinct.
    assert rows(result, "institution") == {"VID": 1, "IUB": 1, "TM": 1}
    # VID and IUB are both in FM's resort: the mover is one person of it, not one per row.
    assert rows(result, "resort") == {"FM": 1, "TM": 1}
    assert rows(result, "position_group") == {"analyst": 1, "lawyer": 2}
    assert rows(result, "sector") == {"state": 2}
    assert [(p.year, p.value) for p in result.per_year] == [
        (2021, 0),
        (2022, 0),
        (2023, 1),
        (2024, 2),
    ]
    assert [(p.year, p.value) for p in result.cumulative] == [
        (2021, 0),
        (2022, 0),
        (2023, 1),
        (2024, 2),
    ]
    assert result.cutoff_seq == records.seq


def test_people_attributed_as_of_the_date_put_a_mover_in_one_institution() -> None:
    records = MemoryRecords(
        employments=[job("p1", "VID", "2020-01-01", "2024-06-30"), job("p1", "IUB", "2024-07-01")],
        enrolments=[course("p1", "A", "2024-03-10"), course("p1", "B", "2024-09-10")],
    )
    result = run({"kind": "distinct_people", "attribute_people_at": "as_of"}, records)
    assert result.value == 1
    assert rows(result, "institution") == {"IUB": 1}


def test_a_failed_then_passed_test_counts_once_when_passed() -> None:
    records = MemoryRecords(
        employments=[job("p1", "TM"), job("p2", "TM")],
        enrolments=[
            course("p1", "INTEG-E", "2024-02-01", status="failed", test_passed=False),
            course("p1", "INTEG-E", "2024-03-01", test_passed=True),
            course("p2", "INTEG-E", "2024-02-01", status="failed", test_passed=False),
        ],
    )
    spec = {"kind": "distinct_people", "filter": {"courses": ["INTEG-E"], "test_passed": True}}
    assert run(spec, records).value == 1
    assert run(spec, records, as_of="2024-02-15").value == 0
    failed = {"kind": "distinct_people", "filter": {"courses": ["INTEG-E"], "test_passed": False}}
    assert run(failed, records).value == 2


def test_an_erased_person_is_never_counted() -> None:
    records = MemoryRecords(
        employments=[job("p1", "TM"), job("p2", "TM")],
        enrolments=[course("p1", "A", "2024-02-01"), course("p2", "A", "2024-02-01")],
        headcount_rows=[Headcount("TM", date(2024, 1, 1), 4)],
        erased={"p2"},
    )
    assert run({"kind": "distinct_people"}, records).value == 1
    share = run({"kind": "share", "denominator": {"source": "headcount"}}, records)
    assert (share.numerator, share.denominator, share.value) == (1, 4, 25.0)


def test_period_and_non_cumulative_definitions_limit_the_dates() -> None:
    records = MemoryRecords(
        employments=[job("p1", "TM"), job("p2", "TM")],
        enrolments=[course("p1", "A", "2022-02-01"), course("p2", "A", "2024-02-01")],
    )
    assert run({"kind": "distinct_people"}, records).value == 2
    assert run({"kind": "distinct_people", "cumulative": False}, records).value == 1
    assert (
        run(
            {"kind": "distinct_people"},
            records,
            period_from=date(2022, 1, 1),
            period_to=date(2022, 12, 31),
        ).value
        == 1
    )
    assert run({"kind": "distinct_people"}, records, as_of="2021-12-31").value == 0


# ---- institutions and municipalities -------------------------------------------------------


def test_distinct_institutions_and_municipalities() -> None:
    records = MemoryRecords(
        employments=[job("p1", "RIGA"), job("p2", "CESIS"), job("p3", "CESIS"), job("p4", "TM")],
        enrolments=[course(p, "A", "2024-02-01") for p in ("p1", "p2", "p3", "p4")],
    )
    municipalities = run({"kind": "distinct_institutions", "unit": "municipalities"}, records)
    assert municipalities.value == 2
    institutions = run({"kind": "distinct_institutions"}, records)
    assert institutions.value == 3
    assert rows(institutions, "sector") == {"municipal": 2, "state": 1}


# ---- shares ---------------------------------------------------------------------------------


def procurement() -> MemoryRecords:
    staff = [
        job(f"s{i}", "FM" if i < 5 else "VID", roles=["procurement_specialist"]) for i in range(10)
    ]
    return MemoryRecords(
        employments=[*staff, job("x1", "FM")],
        enrolments=[course(f"s{i}", "PROC", "2022-06-01") for i in range(7)]
        + [course("s7", "PROC", "2023-12-31"), course("x1", "PROC", "2022-06-01")],
        headcount_rows=[
            Headcount("FM", date(2021, 1, 1), 5, role="procurement_specialist"),
            Headcount("VID", date(2021, 1, 1), 5, role="procurement_specialist"),
            Headcount("FM", date(2021, 1, 1), 300),
        ],
    )


SHARE = {
    "kind": "share",
    "filter": {"courses": ["PROC"], "statuses": ["completed"]},
    "denominator": {"source": "headcount", "filter": {"roles": ["procurement_specialist"]}},
}


def test_share_is_numerator_over_headcount_with_breakdowns_as_sums() -> None:
    result = run(
        SHARE,
        procurement(),
        as_of="2023-12-31",
        indicator=info("1.5.1", 2023, Target(kind="min_share", value=80)),
        series=True,
    )
    # x1 is not a procurement specialist: the denominator's population limits the numerator.
    assert (result.numerator, result.denominator, result.value) == (8, 10, 80.0)
    assert rows(result, "institution") == {"FM": (5, 5), "VID": (3, 5)}
    assert rows(result, "resort") == {"FM": (8, 10)}
    assert [(p.year, p.numerator, p.denominator) for p in result.per_year] == [
        (2021, 0, 10),
        (2022, 7, 10),
        (2023, 1, 10),
    ]
    assert [(p.year, p.numerator) for p in result.cumulative] == [(2021, 0), (2022, 7), (2023, 8)]


def test_share_crossing_its_target_exactly_at_the_deadline() -> None:
    target = Target(kind="min_share", value=0.8)
    on_deadline = run(
        SHARE, procurement(), as_of="2023-12-31", indicator=info("1.5.1", 2023, target)
    )
    assert on_deadline.value == 80.0
    assert on_deadline.status == "achieved"
    day_before = run(
        SHARE, procurement(), as_of="2023-12-30", indicator=info("1.5.1", 2023, target)
    )
    assert day_before.value == 70.0
    assert day_before.status == "at_risk"
    late = procurement()
    late.enrolments[-2] = course("s7", "PROC", "2024-01-01")
    after = run(SHARE, late, as_of="2024-01-01", indicator=info("1.5.1", 2023, target))
    # Met on 1 January after the deadline year: met, but late.
    assert after.value == 80.0 and after.status == "achieved_late"
    assert "2023-12-31" in after.status_reason
    # A period asked for that starts after the deadline is not judged late.
    later = run(
        SHARE,
        late,
        as_of="2024-12-31",
        period_from=date(2024, 1, 1),
        indicator=info("1.5.1", 2023, Target(kind="min_share", value=0.1)),
    )
    assert later.status == "achieved"
    assert run(SHARE, late, as_of="2023-12-31", indicator=info("1.5.1", 2023, target)).value == 70.0
    assert (
        run(
            SHARE,
            late,
            as_of="2024-01-01",
            period_to=date(2023, 12, 31),
            indicator=info("1.5.1", 2023, target),
        ).status
        == "not_achieved"
    )


def test_share_without_a_denominator_has_no_data_not_an_error() -> None:
    spec = {**SHARE, "denominator": {"source": "headcount", "filter": {"roles": ["nobody"]}}}
    result = run(
        spec, procurement(), indicator=info("1.5.1", 2023, Target(kind="min_share", value=80))
    )
    assert result.value is None and result.denominator == 0
    assert result.status == "no_data"
    assert all(r.value is None for b in result.breakdowns for r in b.rows)


def test_share_with_a_hand_entered_population() -> None:
    spec = {
        **SHARE,
        "filter": {"courses": ["PROC"], "roles": ["procurement_specialist"]},
        "denominator": {"source": "manual", "value": 40, "reference": "IUB survey 2021"},
    }
    result = run(spec, procurement())
    assert (result.numerator, result.denominator, result.value) == (8, 40, 20.0)
    assert result.extra["denominator_reference"] == "IUB survey 2021"
    restricted = run(spec, procurement(), scope=frozenset({"FM"}))
    assert restricted.numerator == 5 and restricted.value is None and restricted.status == "no_data"


def test_a_restricted_caller_sees_only_its_institutions() -> None:
    result = run(SHARE, procurement(), scope=frozenset({"VID"}))
    assert (result.numerator, result.denominator) == (3, 5)
    assert rows(result, "institution") == {"VID": (3, 5)}
    assert run(SHARE, procurement(), scope=frozenset()).numerator == 0


# ---- coverage -------------------------------------------------------------------------------


def trust_people() -> MemoryRecords:
    return MemoryRecords(
        employments=[
            job("t1", "FM"),
            job("t2", "VID"),
            job("t3", "VID"),
            job("t4", "RIGA"),
            job("t5", "TM", "2020-01-01", "2023-12-31"),
        ],
        enrolments=[course(p, "TRUST", "2023-06-01") for p in ("t1", "t2", "t3", "t4", "t5")],
    )


def test_coverage_per_institution_lists_who_falls_short() -> None:
    spec = {
        "kind": "coverage_per_institution",
        "filter": {"courses": ["TRUST"]},
        "coverage": {"per_unit_min": 1, "institution_set": {"sectors": ["state"]}, "total_min": 4},
    }
    target = Target(kind="coverage_per_institution", per_institution_min=1, total_min=4)
    result = run(spec, trust_people(), indicator=info("1.1.4", 2026, target))
    # t5 left TM before the as-of date: TM has nobody now.
    assert (result.value, result.numerator, result.denominator) == (2, 2, 4)
    assert [(s.code, s.value) for s in result.shortfall] == [("IUB", 0), ("TM", 0)]
    assert result.extra["people_total"] == 3
    assert result.extra["progress_percent"] == 50.0
    assert result.status == "at_risk"


def test_coverage_per_resort() -> None:
    spec = {
        "kind": "coverage_per_resort",
        "filter": {"courses": ["TRUST"]},
        "coverage": {"per_unit_min": 2, "institution_set": {"sectors": ["state"]}},
    }
    result = run(
        spec, trust_people(), indicator=info("1.5.2", 2023, Target(kind="coverage_per_resort"))
    )
    assert (result.value, result.denominator) == (1, 2)
    assert rows(result, "resort") == {"FM": 3, "TM": 0}
    assert [s.code for s in result.shortfall] == ["TM"]
    assert result.status == "not_achieved"


# ---- frequency and events -------------------------------------------------------------------


def test_people_with_one_or_two_trainings_a_year() -> None:
    records = MemoryRecords(
        employments=[job("w1", "TM"), job("w2", "TM"), job("w3", "RIGA")],
        enrolments=[
            course("w1", "WB", "2024-01-10"),
            course("w2", "WB", "2024-01-10"),
            course("w2", "WB", "2024-02-10"),
            course("w2", "WB", "2024-03-10"),
            course("w3", "WB", "2024-05-10"),
            course("w3", "WB", "2023-05-10"),
        ],
    )
    spec = {"kind": "people_with_frequency", "frequency": {"min_per_year": 1, "max_per_year": 2}}
    result = run(spec, records, indicator=info("1.2.1", 2026, Target(kind="frequency", value=2)))
    assert result.value == 2  # w1 and w3 in 2024; w2 had three
    assert [(p.year, p.value) for p in result.per_year][-2:] == [(2023, 1), (2024, 2)]
    assert rows(result, "sector") == {"municipal": 1, "state": 1}
    assert result.status == "achieved"


def test_count_events_adds_up_and_is_cumulative() -> None:
    records = MemoryRecords(
        employments=[job("e1", "TM"), job("e2", "FM")],
        enrolments=[
            course("e1", "LAB", "2023-01-10", hours=4),
            course("e1", "LAB", "2024-01-10", hours=2),
            course("e2", "LAB", "2024-01-10", hours=1.5),
        ],
    )
    events = run({"kind": "count_events", "filter": {"courses": ["LAB"]}}, records)
    assert events.value == 3
    assert [(p.year, p.value) for p in events.cumulative][-2:] == [(2023, 1), (2024, 3)]
    hours = run({"kind": "count_events", "metric": "hours"}, records)
    assert hours.value == 7.5
    assert rows(hours, "resort") == {"FM": 1.5, "TM": 6}


# ---- hand-reported ------------------------------------------------------------------------


def test_manual_value_is_the_latest_observation_up_to_the_date() -> None:
    observations = [
        Observation(
            value=0, observed_on=date(2023, 3, 1), source="VK report", entered_by="vk-admin"
        ),
        Observation(
            value=1,
            observed_on=date(2024, 9, 1),
            source="Handbook published",
            entered_by="vk-admin",
        ),
    ]
    spec = {"kind": "manual", "value_kind": "milestone"}
    indicator = info("1.7.2", 2026, Target(kind="milestone"))
    before = run(
        spec, MemoryRecords(), as_of="2024-01-01", indicator=indicator, observations=observations
    )
    assert before.value == 0 and before.status == "on_track" and before.cutoff_seq is None
    after = run(spec, MemoryRecords(), indicator=indicator, observations=observations)
    assert after.value == 1 and after.status == "achieved"
    assert after.observation is not None and after.observation.source == "Handbook published"
    empty = run(spec, MemoryRecords(), indicator=indicator)
    assert empty.status == "no_data"


# ---- how many records questions ------------------------------------------------------------


def test_each_indicator_asks_one_question_for_its_total_and_every_breakdown() -> None:
    records = MemoryRecords(
        employments=[job("p1", "VID", position_group="analyst"), job("p2", "RIGA")],
        enrolments=[course("p1", "A", "2024-03-10"), course("p2", "A", "2023-03-10")],
        headcount_rows=[Headcount(institution="VID", as_of=date(2021, 1, 1), value=4)],
    )
    breakdowns = ("institution", "resort", "sector", "position_group", "year")
    counted = run({"kind": "distinct_people"}, records, breakdowns=breakdowns)
    assert records.calls == 1
    assert rows(counted, "institution") == {"VID": 1, "RIGA": 1}
    assert rows(counted, "year") == {"2023": 1, "2024": 1}
    records.calls = 0
    frequency = run(
        {"kind": "people_with_frequency", "frequency": {"min_per_year": 1}},
        records,
        breakdowns=breakdowns,
    )
    assert records.calls == 1 and rows(frequency, "sector") == {"state": 1}
    records.calls = 0
    share = {"kind": "share", "denominator": {"source": "headcount"}}
    shared = run(share, records, as_of="2021-12-31", breakdowns=breakdowns)
    # Numerator (total, breakdowns, years) and denominator (total, breakdowns): two questions,
    # plus the headcount at each year's end the per-year series needs.
    assert records.calls == 2 + len(shared.per_year)
    coverage = {
        "kind": "coverage_per_institution",
        "coverage": {"per_unit_min": 1, "institution_set": {"sectors": ["state"]}},
    }
    records.calls = 0
    covered = run(coverage, records)
    assert records.calls == 1 and covered.value == 1


def test_title_and_row_names_in_the_asked_language() -> None:
    records = MemoryRecords(
        employments=[job("p1", "TM", management_level="top")],
        enrolments=[course("p1", "X", "2024-03-01")],
    )
    spec = {
        "kind": "distinct_people",
        "title": "Top managers trained",
        "text": "Augstākā līmeņa vadītāju skaits",
        "counts": "completed",
        "breakdowns": ["sector", "management_level", "year"],
    }
    latvian = run(spec, records)
    assert latvian.title == "Augstākā līmeņa vadītāju skaits"
    assert {r.name for b in latvian.breakdowns for r in b.rows} == {
        "Valsts pārvalde",
        "Augstākā līmeņa vadītāji",
        "2024",
    }
    english = run(spec, records, lang="en")
    assert english.title == "Top managers trained"
    assert {r.name for b in english.breakdowns for r in b.rows} == {
        "State administration",
        "Top managers",
        "2024",
    }
