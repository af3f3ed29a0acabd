"""Query parameters of the results routes and the engine parameters they make: the shared
parameter declarations, their parsing (period, breakdowns, codes, language) and the 400s
they answer."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Header, Path, Query

from indicators.access import results_scope
from indicators.definitions.spec import DEFAULT_BREAKDOWNS
from indicators.engine.compute import Params
from pilnveide_kit.auth import Principal
from pilnveide_kit.errors import BadRequest
from pilnveide_kit.languages import preferred_language
from pilnveide_kit.pagination import MAX_LIMIT

Code = Annotated[str, Path(max_length=40, description="Indicator code, e.g. 1.5.1")]
AsOf = Annotated[date | None, Query(description="Judge and count up to this date (default: today)")]
PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="A year (2024), years (2022..2024) or dates (2024-01-01..2024-06-30)",
    ),
]
Format = Annotated[Literal["json", "csv"] | None, Query(description="csv: a CSV download")]
PlanCode = Annotated[str | None, Query(max_length=64, description="Plan code")]
Measure = Annotated[str | None, Query(max_length=32, description="Measure, e.g. 1.5")]
Priority = Annotated[str | None, Query(max_length=32, description="Priority, e.g. 1")]
Breakdown = Annotated[
    list[str] | None,
    Query(description="Dimensions: institution, resort, sector, position_group, year…"),
]
Series = Annotated[
    bool,
    Query(
        description="Also the cumulative series (from the period's start to each year's "
        "end); false skips it (distinct counts need one records question per year)"
    ),
]
ALL_DIMENSIONS = {*DEFAULT_BREAKDOWNS, "management_level"}


def language(
    accept_language: Annotated[
        str | None,
        Header(description="lv (default) or en: the language of titles and breakdown names"),
    ] = None,
) -> str:
    """lv or en, whichever Accept-Language prefers (lv when it names neither)."""
    return preferred_language(accept_language, ("lv", "en")) or "lv"


Language = Annotated[str, Depends(language)]


class UnknownBreakdown(BadRequest):
    """A breakdown dimension that does not exist."""

    slug, title = "unknown-breakdown", "Unknown Breakdown"


class BadPeriod(BadRequest):
    """A period that cannot be read."""

    slug, title = "bad-period", "Bad Period"


def parse_period(period: str | None) -> tuple[date | None, date | None]:
    """(from, to) of a period parameter."""
    if not period:
        return None, None
    start, _, end = period.partition("..")
    end = end or start
    try:
        if re.fullmatch(r"\d{4}", start) and re.fullmatch(r"\d{4}", end):
            first, last = date(int(start), 1, 1), date(int(end), 12, 31)
        else:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise BadPeriod(
            f"Cannot read the period {period!r}: expected YYYY, YYYY..YYYY, YYYY-MM-DD or "
            "YYYY-MM-DD..YYYY-MM-DD, e.g. 2025 or 2025-01-01..2025-06-30"
        ) from exc
    if first > last:
        raise BadPeriod("The period ends before it starts")
    return first, last


def comma_list(values: list[str]) -> list[str]:
    """The items of repeated or comma-separated query parameters, in the order given."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def parse_breakdowns(values: list[str] | None) -> tuple[str, ...] | None:
    """Breakdown dimensions from repeated or comma-separated parameters."""
    if values is None:
        return None
    chosen = tuple(comma_list(values))
    unknown = [d for d in chosen if d not in ALL_DIMENSIONS]
    if unknown:
        raise UnknownBreakdown(
            f"Unknown breakdown {', '.join(unknown)}", allowed=sorted(ALL_DIMENSIONS)
        )
    return chosen


def params_of(
    principal: Principal,
    as_of: date | None,
    period: str | None,
    breakdown: list[str] | None = None,
    *,
    detail: bool,
    series: bool = False,
    lang: str = "lv",
) -> Params:
    """Engine parameters from query parameters and the caller's institution restriction."""
    start, end = parse_period(period)
    return Params(
        as_of=as_of or date.today(),
        period_from=start,
        period_to=end,
        breakdowns=parse_breakdowns(breakdown),
        detail=detail,
        scope=results_scope(principal),
        series=series,
        lang=lang,
    )


class ChoiceConflict(BadRequest):
    """Indicators picked both by code and from a plan."""

    slug, title = "conflicting-choice", "Conflicting Choice"


def parse_codes(
    values: list[str] | None, plan: str | None, measure: str | None, priority: str | None
) -> list[str] | None:
    """Indicator codes from repeated or comma-separated parameters (in the order given, once
    each); None when none are given."""
    if values is None:
        return None
    if plan is not None or measure is not None or priority is not None:
        raise ChoiceConflict(
            "Pick the indicators either by code or by plan, measure and priority, not both"
        )
    codes = list(dict.fromkeys(comma_list(values)))
    if not codes:
        raise BadRequest("code names no indicator")
    if len(codes) > MAX_LIMIT or any(len(c) > 40 for c in codes):
        raise BadRequest(f"At most {MAX_LIMIT} codes of at most 40 characters each")
    return codes
