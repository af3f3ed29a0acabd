"""The status rule: where a value stands against its target on a date (see docs/indicators.md).

1. No value (nothing to count, no denominator, no observation): **no_data**.
2. No numeric target: **no_target** (the figure is reported, not judged).
3. The target is met (>=, <=, <, > compared exactly, never through floats): **achieved**, on
   any date, even before the deadline; **achieved_late** when it was not yet met on 31
   December of the deadline year (the engine computes that date's value to tell). A range
   (2.1.2's "20 līdz 30") is met within both bounds; above the upper one: **above_range**.
4. Not met and the as-of date is after 31 December of the deadline year: **not_achieved**.
5. Otherwise, against a straight line from the baseline (0 when none) on 1 January of the
   plan's first year to the target on 31 December of the deadline year: **on_track** when the
   value is at or past where the line is on the as-of date, **at_risk** when it is behind.
   Milestones have no line: **on_track** before the deadline year, **at_risk** during it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from indicators.engine.results import Status, YearJudgement
from indicators.sources.types import Target

#: Target kinds whose value is a share: a value of at most 1 is read as a fraction.
SHARE_KINDS = {"share", "min_share", "max_share"}
MILESTONE_KINDS = {"milestone"}
COVERAGE_KINDS = {"coverage_per_institution", "coverage_per_resort"}


@dataclass(frozen=True)
class Goal:
    """A target reduced to one comparison: value `direction` goal."""

    goal: Fraction
    direction: str = ">="
    baseline: Fraction = Fraction(0)
    milestone: bool = False
    #: A range's upper bound (inclusive); the goal is then its lower bound.
    upper: Fraction | None = None


def exact(value: float | int | Fraction | None) -> Fraction | None:
    """An exact number from a float as it was written (0.1 stays 1/10)."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return value
    return Fraction(str(value))


def share_percent(value: float) -> Fraction:
    """A share target in percent (0.8 and 80 both mean 80 %)."""
    number = exact(value)
    assert number is not None
    return number * 100 if number <= 1 else number


def goal_of(target: Target | None) -> Goal | None:
    """The comparison a target asks for; None when it has no numeric target."""
    if target is None:
        return None
    kind = target.kind
    if kind in MILESTONE_KINDS:
        return Goal(Fraction(1), milestone=True)
    if kind in COVERAGE_KINDS:
        # Coverage results carry a progress value: 100 when every unit is covered.
        return Goal(Fraction(100))
    number = target.value if target.value is not None else target.min
    if number is None:
        return None
    goal = share_percent(number) if kind in SHARE_KINDS else exact(number)
    assert goal is not None
    baseline = exact(target.baseline) or Fraction(0)
    if kind in SHARE_KINDS and target.baseline is not None:
        baseline = share_percent(target.baseline)
    upper = None
    if target.value is None and target.min is not None and target.max is not None:
        upper = share_percent(target.max) if kind in SHARE_KINDS else exact(target.max)
    return Goal(goal, target.direction, baseline, upper=upper)


def meets(value: Fraction, goal: Fraction, direction: str) -> bool:
    """Whether a value satisfies `value direction goal`."""
    if direction == ">=":
        return value >= goal
    if direction == ">":
        return value > goal
    if direction == "<=":
        return value <= goal
    if direction == "<":
        return value < goal
    return value == goal


def elapsed(as_of: date, start_year: int, deadline_year: int) -> Fraction:
    """The share of the time from 1 Jan of the first year to 31 Dec of the deadline year gone."""
    start = date(start_year, 1, 1)
    end = date(deadline_year, 12, 31)
    total = (end - start).days + 1
    gone = (as_of - start).days + 1
    return min(Fraction(1), max(Fraction(0), Fraction(gone, total)))


def judge(
    value: Fraction | None,
    target: Target | None,
    *,
    as_of: date,
    start_year: int,
    deadline_year: int | None,
) -> tuple[Status, Fraction | None, str]:
    """(status, expected value on the as-of date, reason) for a value against its target."""
    if value is None:
        return (
            "no_data",
            None,
            "nothing to compute from (no records, no denominator, no observation)",
        )
    goal = goal_of(target)
    if goal is None:
        return "no_target", None, "the indicator has no numeric target"
    if goal.upper is not None and value > goal.upper:
        return (
            "above_range",
            goal.upper,
            f"{_fmt(value)} above the range {_fmt(goal.goal)}–{_fmt(goal.upper)}",
        )
    if meets(value, goal.goal, goal.direction):
        if goal.upper is not None:
            return (
                "achieved",
                goal.goal,
                f"{_fmt(goal.goal)} <= {_fmt(value)} <= {_fmt(goal.upper)}",
            )
        return "achieved", goal.goal, f"{_fmt(value)} {goal.direction} {_fmt(goal.goal)}"
    if deadline_year is None:
        return "at_risk", goal.goal, "target not met and no deadline year to plan towards"
    if as_of > date(deadline_year, 12, 31):
        return "not_achieved", goal.goal, f"target not met by the end of {deadline_year}"
    if goal.milestone:
        if as_of.year < deadline_year:
            return "on_track", None, f"milestone due in {deadline_year}"
        return "at_risk", goal.goal, f"milestone due this year ({deadline_year}) and not reached"
    share_gone = elapsed(as_of, start_year, deadline_year)
    expected = goal.baseline + (goal.goal - goal.baseline) * share_gone
    if meets(value, expected, goal.direction):
        return "on_track", expected, f"{_fmt(value)} at or past the trajectory ({_fmt(expected)})"
    return "at_risk", expected, f"{_fmt(value)} behind the trajectory ({_fmt(expected)})"


def relative_goal(baseline: Fraction | None, change: Fraction, *, points: bool) -> Fraction | None:
    """A "+x" target against a baseline: x percent of it, or x points when the text says so."""
    if baseline is None:
        return None
    if points:
        return baseline + change
    return baseline * (1 + change / 100)


def judge_years(
    values: dict[int, Fraction | None], target: Target, *, as_of: date
) -> list[YearJudgement]:
    """Each year's value against that year's target (institution strategies)."""
    judgements: list[YearJudgement] = []
    baseline = exact(target.baseline)
    for year_target in sorted(target.yearly, key=lambda t: t.year):
        year = year_target.year
        if year_target.not_measured:
            judgements.append(YearJudgement(year=year, status="not_measured"))
            continue
        goal = exact(year_target.value)
        if goal is not None and year_target.relative_to_baseline:
            goal = relative_goal(baseline, goal, points=year_target.in_points)
        elif year_target.relative_to_baseline and year_target.direction in (">", "<"):
            # "Pieaug" / "samazinās" with no figure: above (below) the baseline.
            goal = baseline
        value = values.get(year)
        direction = year_target.direction
        row = YearJudgement(
            year=year,
            value=None if value is None else float(value),
            target=None if goal is None else float(goal),
            direction=direction,
            status="no_data",
        )
        if value is None or goal is None or year > as_of.year:
            judgements.append(row)
            continue
        if meets(value, goal, direction):
            row.status = "achieved"
        elif year < as_of.year:
            row.status = "not_achieved"
        elif direction in (">=", ">"):
            in_year = elapsed(as_of, year, year)
            row.status = "on_track" if value >= goal * in_year else "at_risk"
        else:
            row.status = "at_risk"
        judgements.append(row)
    return judgements


def overall_of_years(judgements: list[YearJudgement], as_of: date) -> Status:
    """A strategy indicator's status: that of the latest measured year up to the as-of year."""
    measured = [
        j
        for j in judgements
        if j.status not in ("not_measured", "no_data") and j.year <= as_of.year
    ]
    if not measured:
        return "no_data"
    status = measured[-1].status
    assert status != "not_measured"
    return status


def _fmt(number: Fraction) -> str:
    return f"{float(number):.4g}"
