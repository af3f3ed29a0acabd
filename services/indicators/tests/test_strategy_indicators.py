"""The strategies' computed indicators (seeds 002 and 004) on small hand-built datasets.

The definitions are the shipped defaults; the values are exact and judged against the yearly
targets as the catalog holds them (a "+5 %" against a baseline measured in a later year too).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from indicators.definitions import service as definitions
from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute
from indicators.engine.results import IndicatorResult
from indicators.sources.memory import Assessment, Employment, Enrolment, Headcount, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target, YearTarget

INSTITUTIONS = {
    "VK": InstitutionInfo(code="VK", name="Valsts kanceleja", sector="state", kind="other"),
    "LM": InstitutionInfo(
        code="LM", name="Labklājības ministrija", sector="state", kind="ministry"
    ),
    "FM": InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
}
SPECS: dict[str, DefinitionSpec] = {
    item.code: item.spec
    for path in definitions.STRATEGY_DEFAULTS
    for item in definitions.default_definitions(path)[1]
}


def d(day: str) -> date:
    return date.fromisoformat(day)


def job(person: str, where: str, start: str, end: str | None = None, **kw: Any) -> Employment:
    return Employment(person, where, d(start), d(end) if end else None, **kw)


def yearly(*targets: tuple[int, float, str], **kw: Any) -> Target:
    return Target(
        kind="yearly",
        yearly=[
            YearTarget(year=y, value=v, direction=direction, as_written=f"{direction}{v} %")
            for y, v, direction in targets
        ],
        **kw,
    )


def run(
    code: str,
    records: MemoryRecords,
    target: Target,
    *,
    as_of: str,
    plan: str,
    **params: Any,
) -> IndicatorResult:
    info = IndicatorInfo(
        code=code, title=code, plan=plan, deadline_year=2029, start_year=2024, target=target
    )
    return asyncio.run(
        compute(
            code,
            SPECS[code],
            1,
            info,
            Params(as_of=d(as_of), **params),
            records,
            Dataset(institutions=INSTITUTIONS),
        )
    )


def _turnover_world() -> MemoryRecords:
    """VK (A) and LM (B) side by side, each with leavers inside and outside 2025, first-year
    leavers, avoidable and unavoidable reasons, and a change of position that is no leaving."""
    return MemoryRecords(
        employments=[
            # VK
            job("v1", "VK", "2019-01-01", "2025-03-31", leaving_reason="own_wish"),
            job("v2", "VK", "2015-01-01", "2025-06-30", leaving_reason="retirement"),
            job("v3", "VK", "2025-02-01", "2025-09-30", leaving_reason="probation_not_passed"),
            job("v4", "VK", "2018-01-01", "2024-11-30", leaving_reason="own_wish"),  # 2024
            job("v5", "VK", "2018-01-01", "2026-02-28", leaving_reason="own_wish"),  # 2026
            job("v6", "VK", "2018-01-01", "2025-05-31"),  # a new position from June:
            job("v6", "VK", "2025-06-01"),  # not a leaving
            job("v7", "VK", "2025-04-01"),
            job("v8", "VK", "2025-05-01"),
            job("v9", "VK", "2025-07-01"),
            job("v10", "VK", "2026-03-01"),
            job("v11", "VK", "2026-04-01"),
            # LM
            job("l1", "LM", "2019-01-01", "2025-03-31", leaving_reason="own_wish"),
            job("l2", "LM", "2019-01-01", "2025-04-30", leaving_reason="mutual_agreement"),
            job("l3", "LM", "2010-01-01", "2025-05-31", leaving_reason="retirement"),
            job("l4", "LM", "2025-02-01", "2025-09-30", leaving_reason="probation_not_passed"),
            job("l5", "LM", "2024-06-01", "2025-03-01", leaving_reason="own_wish"),
            job("l6", "LM", "2025-03-01"),
            job("l7", "LM", "2025-04-01"),
            job("l8", "LM", "2025-10-01"),
            # FM, outside both strategies
            job("f1", "FM", "2019-01-01", "2025-03-31", leaving_reason="own_wish"),
        ],
        headcount_rows=[
            Headcount("VK", d("2025-01-01"), 20),
            Headcount("VK", d("2025-12-31"), 20),
            Headcount("VK", d("2026-12-31"), 22),
            Headcount("LM", d("2025-01-01"), 40),
            Headcount("LM", d("2025-12-31"), 60),
            Headcount("FM", d("2025-01-01"), 500),
        ],
    )


def test_vk_turnover_is_leavers_over_the_average_headcount_judged_against_the_year() -> None:
    target = yearly((2025, 12, "<="), (2026, 10, "<="), baseline=15, baseline_year=2024)
    result = run("M2.3.8", _turnover_world(), target, as_of="2025-12-31", plan="VK-2025-2029")
    # v1, v2, v3 left VK in 2025 (v4 in 2024, v5 in 2026, v6 changed position; f1 is FM's).
    assert (result.numerator, result.denominator, result.value) == (3, 20, 15)
    assert [(y.year, y.value, y.target, y.status) for y in result.yearly_targets] == [
        (2025, 15, 12, "at_risk"),
        (2026, None, 10, "no_data"),
    ]
    assert result.status == "at_risk"


def test_a_caller_restricted_to_another_institution_counts_none_of_vks_leavers() -> None:
    target = yearly((2025, 12, "<="))
    result = run(
        "M2.3.8",
        _turnover_world(),
        target,
        as_of="2025-12-31",
        plan="VK-2025-2029",
        scope=frozenset({"FM"}),
    )
    assert result.numerator == 0 and result.denominator is None and result.value is None


def test_lm_avoidable_turnover_counts_only_avoidable_reasons() -> None:
    target = yearly((2025, 11, "<="), baseline=10, baseline_year=2023)
    result = run("1.1", _turnover_world(), target, as_of="2025-12-31", plan="LM-2024-2027")
    # l1 (own wish), l2 (mutual agreement), l5 (own wish) are avoidable; l3 retired, l4 failed
    # probation. The average headcount is (40 + 60) / 2.
    assert (result.numerator, result.denominator, result.value) == (3, 50, 6)
    assert result.status == "achieved"


def test_lm_first_year_turnover_is_over_the_years_hires() -> None:
    target = yearly((2025, 25, "<="))
    result = run("2.2", _turnover_world(), target, as_of="2025-12-31", plan="LM-2024-2027")
    # Hired in 2025: l4, l6, l7, l8. Left within 12 months of starting in 2025: l4 (8 months)
    # and l5 (hired 2024-06-01, left 2025-03-01); l1-l3 had been there for years.
    assert (result.numerator, result.denominator, result.value) == (2, 4, 50)
    assert result.status == "at_risk"


def test_vk_first_year_retention_against_a_baseline_measured_in_2025() -> None:
    target = Target(
        kind="yearly",
        baseline_year=2025,
        yearly=[YearTarget(year=2026, value=5, relative_to_baseline=True, as_written="+5 %")],
    )
    result = run(
        "M2.1.4",
        _turnover_world(),
        target,
        as_of="2026-12-31",
        plan="VK-2025-2029",
        period_from=d("2025-01-01"),
    )
    # 2025: hired v3, v7, v8, v9; v3 left within the year: retention 75 %. 2026: v10 and v11
    # hired, none left (v5 had been there since 2018): 100 %, against 75 × 1.05 = 78.75.
    assert [(p.year, p.numerator, p.denominator, p.value) for p in result.per_year] == [
        (2025, 1, 4, 75),
        (2026, 0, 2, 100),
    ]
    assert [(y.year, y.target, y.status) for y in result.yearly_targets] == [
        (2026, 78.75, "achieved")
    ]


def test_vk_climate_training_share_counts_those_who_took_part_in_the_year() -> None:
    tag = frozenset({"topic:climate-neutrality"})
    people = [job(f"v{n}", "VK", "2020-01-01") for n in range(10)]
    attended = [Enrolment(f"v{n}", "CLIM", "attended", d("2025-04-01"), tag) for n in range(6)]
    records = MemoryRecords(
        employments=[*people, job("f1", "FM", "2020-01-01")],
        enrolments=[
            *attended,
            Enrolment("v6", "CLIM", "completed", d("2025-05-01"), tag),
            Enrolment("v7", "CLIM", "registered", d("2025-05-01"), tag),  # not yet
            Enrolment("v8", "CLIM", "no_show", d("2025-05-01"), tag),  # did not come
            Enrolment("v9", "CLIM", "completed", d("2024-05-01"), tag),  # last year
            Enrolment("f1", "CLIM", "completed", d("2025-05-01"), tag),  # FM's
            Enrolment("v9", "OTHER", "completed", d("2025-05-01")),  # another course
        ],
        headcount_rows=[Headcount("VK", d("2025-12-31"), 10)],
    )
    target = yearly((2025, 70, ">="))
    result = run("M2.8.5", records, target, as_of="2025-12-31", plan="VK-2025-2029")
    assert (result.numerator, result.denominator, result.value) == (7, 10, 70)
    assert result.status == "achieved"


def test_lm_digital_self_assessment_share_counts_self_assessments_only() -> None:
    records = MemoryRecords(
        employments=[job(p, "LM", "2020-01-01") for p in ("a", "b", "c", "e")],
        assessments=[
            Assessment("a", "DIGCOMP-2.2", "self", d("2025-03-01")),
            Assessment("a", "DIGCOMP-2.2", "self", d("2025-03-01"), competency="C2"),
            Assessment("b", "DIGCOMP-2.2", "manager", d("2025-03-01")),  # not a self-assessment
            Assessment("c", "LEAD-MID-FW", "self", d("2025-03-01")),  # another framework
            Assessment("e", "DIGCOMP-2.2", "self", d("2024-03-01")),  # last year
        ],
        headcount_rows=[Headcount("LM", d("2025-12-31"), 4)],
    )
    result = run("1.2", records, Target(), as_of="2025-12-31", plan="LM-2024-2027")
    assert (result.numerator, result.denominator, result.value) == (1, 4, 25)


@pytest.mark.parametrize("code", sorted(SPECS))
def test_every_strategy_default_cites_its_text_and_says_its_plan(code: str) -> None:
    assert SPECS[code].text
    plans = {
        definitions.default_definitions(path)[0]: {
            i.code for i in definitions.default_definitions(path)[1]
        }
        for path in definitions.STRATEGY_DEFAULTS
    }
    assert sum(code in codes for codes in plans.values()) == 1
    assert set(plans) == {"VK-2025-2029", "LM-2024-2027"}


def test_an_increase_without_a_figure_is_judged_against_the_measured_baseline() -> None:
    # LM 1.2: "2027. gadā pieaug" against the share measured in 2025 ("Mērījums no 2025. gada").
    records = MemoryRecords(
        employments=[job(p, "LM", "2020-01-01") for p in ("a", "b", "c", "e")],
        assessments=[
            Assessment("a", "DIGCOMP-2.2", "self", d("2025-03-01")),
            Assessment("a", "DIGCOMP-2.2", "self", d("2027-03-01")),
            Assessment("b", "DIGCOMP-2.2", "self", d("2027-03-01")),
        ],
        headcount_rows=[Headcount("LM", d("2025-12-31"), 4)],
    )
    target = Target(
        kind="yearly",
        baseline_year=2025,
        yearly=[YearTarget(year=2027, direction=">", relative_to_baseline=True)],
    )
    result = run(
        "1.2",
        records,
        target,
        as_of="2027-12-31",
        plan="LM-2024-2027",
        period_from=d("2025-01-01"),
    )
    assert [(p.year, p.value) for p in result.per_year] == [(2025, 25), (2026, 0), (2027, 50)]
    assert [(y.year, y.target, y.status) for y in result.yearly_targets] == [(2027, 25, "achieved")]


def test_5_1_5_transfer_is_the_share_of_follow_ups_in_the_window_that_apply_it_at_work() -> None:
    from indicators.sources.memory import Feedback

    spec = {item.code: item.spec for item in definitions.default_definitions()[1]}["5.1.5"]
    done = [Enrolment(p, "INTEG-E", "completed", d("2024-01-15")) for p in ("a", "b", "c", "e")]
    records = MemoryRecords(
        employments=[job(p, "FM", "2020-01-01") for p in ("a", "b", "c")]
        + [job("e", "LM", "2020-01-01")],
        enrolments=done,
        feedback=[
            Feedback("a", "INTEG-E", "follow_up", d("2024-09-01"), True),  # 8 months, applied
            Feedback("b", "INTEG-E", "follow_up", d("2024-12-01"), False),  # 11 months, not
            Feedback("c", "INTEG-E", "follow_up", d("2024-03-01"), True),  # 2 months: early
            Feedback("c", "INTEG-E", "immediate", d("2024-01-16")),  # not a follow-up
            Feedback("e", "INTEG-E", "follow_up", d("2024-10-01"), True),  # LM's, applied
        ],
    )
    info = IndicatorInfo(code="5.1.5", title="t", plan="LAP-2021-2027", deadline_year=2027)

    def result(**params: Any) -> IndicatorResult:
        return asyncio.run(
            compute(
                "5.1.5",
                spec,
                1,
                info,
                Params(as_of=d("2024-12-31"), **params),
                records,
                Dataset(institutions=INSTITUTIONS),
            )
        )

    every = result()
    assert (every.numerator, every.denominator) == (2, 3)  # a and e of a, b, e
    institutions = next(b for b in every.breakdowns if b.dimension == "institution")
    assert {r.key: (r.numerator, r.denominator) for r in institutions.rows} == {
        "FM": (1, 2),
        "LM": (1, 1),
    }
    fm_only = result(scope=frozenset({"FM"}))
    assert (fm_only.numerator, fm_only.denominator, fm_only.value) == (1, 2, 50)
