"""The status rule and yearly judgements of institution strategies."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from indicators.engine.status import elapsed, judge, judge_years, overall_of_years
from indicators.sources.types import Target, YearTarget


def _judge(value: float | None, target: Target | None, as_of: str, deadline: int = 2024) -> str:
    status, _expected, _reason = judge(
        None if value is None else Fraction(str(value)),
        target,
        as_of=date.fromisoformat(as_of),
        start_year=2021,
        deadline_year=deadline,
    )
    return status


@pytest.mark.parametrize(
    ("value", "as_of", "expected"),
    [
        (None, "2022-01-01", "no_data"),
        (300, "2022-01-01", "achieved"),
        (300, "2030-01-01", "achieved"),
        (299, "2025-01-01", "not_achieved"),
        (150, "2021-12-31", "on_track"),  # half the way (31 Dec 2021 of 2021-2022) is 150
        (149, "2021-12-31", "at_risk"),
        (0, "2021-01-01", "at_risk"),
    ],
)
def test_trajectory_rule(value: float | None, as_of: str, expected: str) -> None:
    assert _judge(value, Target(kind="min_count", value=300), as_of, deadline=2022) == expected


def test_linear_trajectory_is_exact() -> None:
    assert elapsed(date(2021, 12, 31), 2021, 2022) == Fraction(365, 730)
    assert elapsed(date(2020, 5, 1), 2021, 2022) == 0
    assert elapsed(date(2023, 5, 1), 2021, 2022) == 1


def test_shares_targets_written_as_fractions_or_percent_are_the_same() -> None:
    assert _judge(80, Target(kind="min_share", value=0.8), "2024-12-31") == "achieved"
    assert _judge(80, Target(kind="min_share", value=80), "2024-12-31") == "achieved"
    assert _judge(79.99, Target(kind="min_share", value=80), "2024-12-31") == "at_risk"


def test_no_target_range_milestone_and_coverage() -> None:
    assert _judge(5, Target(kind="count"), "2022-01-01") == "no_target"
    assert _judge(5, None, "2022-01-01") == "no_target"
    assert _judge(20, Target(kind="range", min=20, max=30), "2022-01-01") == "achieved"
    assert _judge(0, Target(kind="milestone"), "2023-06-01") == "on_track"
    assert _judge(0, Target(kind="milestone"), "2024-06-01") == "at_risk"
    assert _judge(1, Target(kind="milestone"), "2024-06-01") == "achieved"
    assert _judge(100, Target(kind="coverage_per_institution"), "2022-01-01") == "achieved"


def test_lower_is_better_directions() -> None:
    assert _judge(12, Target(kind="share", value=12, direction="<="), "2022-01-01") == "achieved"
    assert _judge(12, Target(kind="share", value=12, direction="<"), "2025-01-01") == "not_achieved"


def test_each_strategy_year_is_judged_against_its_own_target() -> None:
    # Turnover 15 % baseline; <= 12 % in 2025, < 10 % in 2026, 2027 not measured, 2028 baseline - 6.
    target = Target(
        kind="share",
        baseline=15,
        yearly=[
            YearTarget(year=2025, value=12, direction="<="),
            YearTarget(year=2026, value=10, direction="<"),
            YearTarget(year=2027, not_measured=True),
            YearTarget(
                year=2028,
                value=-6,
                direction="<=",
                relative_to_baseline=True,
                as_written="-6 procentpunkti",
            ),
        ],
    )
    values = {2025: Fraction(12), 2026: Fraction(10), 2028: Fraction(9)}
    years = judge_years(values, target, as_of=date(2028, 12, 31))
    assert [(y.year, y.status, y.target) for y in years] == [
        (2025, "achieved", 12.0),
        (2026, "not_achieved", 10.0),
        (2027, "not_measured", None),
        (2028, "achieved", 9.0),
    ]
    assert overall_of_years(years, date(2028, 12, 31)) == "achieved"
    midway = judge_years({2026: Fraction(11)}, target, as_of=date(2026, 6, 30))
    assert [(y.year, y.status) for y in midway] == [
        (2025, "no_data"),
        (2026, "at_risk"),
        (2027, "not_measured"),
        (2028, "no_data"),
    ]
    assert overall_of_years(midway, date(2026, 6, 30)) == "at_risk"


def test_a_growing_yearly_share_is_on_track_within_its_year() -> None:
    target = Target(kind="share", yearly=[YearTarget(year=2025, value=70)])
    half = judge_years({2025: Fraction(36)}, target, as_of=date(2025, 7, 2))
    assert half[0].status == "on_track"
    assert judge_years({2025: Fraction(30)}, target, as_of=date(2025, 7, 2))[0].status == "at_risk"


def test_a_relative_target_is_in_percent_of_the_baseline_unless_written_in_points() -> None:
    # Staff who feel they grow: baseline 50 %; "+10 %" is 55 %, "+10 p.p." is 60 %.
    def year(as_written: str) -> Target:
        return Target(
            kind="share",
            baseline=50,
            yearly=[
                YearTarget(year=2026, value=10, relative_to_baseline=True, as_written=as_written)
            ],
        )

    relative = judge_years({2026: Fraction(56)}, year("+10 %"), as_of=date(2026, 12, 31))
    assert (relative[0].target, relative[0].status) == (55.0, "achieved")
    points = judge_years({2026: Fraction(56)}, year("+10 p.p."), as_of=date(2026, 12, 31))
    assert (points[0].target, points[0].status) == (60.0, "at_risk")


def test_a_range_is_judged_against_both_bounds() -> None:
    # 2.1.2: "Apmācīti 20 līdz 30 aktīvie treneri".
    trainers = Target(kind="range", min=20, max=30)
    assert _judge(30, trainers, "2022-01-01") == "achieved"
    assert _judge(35, trainers, "2022-01-01") == "above_range"
    assert _judge(35, trainers, "2030-01-01") == "above_range"
    assert _judge(19, trainers, "2030-01-01") == "not_achieved"
