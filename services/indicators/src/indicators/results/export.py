"""Results written out: CSV of any result (one indicator, a list, plan progress, annex 3 norms),
and a page of whole results as JSON spliced together from their stored texts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from indicators.engine.norms import NormRow, NormsResult
from indicators.engine.results import IndicatorResult

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

RESULT_COLUMNS = [
    "code",
    "definition_version",
    "cutoff_seq",
    "as_of",
    "section",
    "dimension",
    "key",
    "name",
    "value",
    "numerator",
    "denominator",
    "meets",
    "target_kind",
    "status",
]


def _text(rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def csv_response(rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A CSV download."""
    return Response(
        _text(rows),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def result_rows(result: IndicatorResult) -> list[list[Any]]:
    """One indicator as rows: the total, each breakdown row, the series, the shortfall."""
    head = [result.code, result.definition_version, result.cutoff_seq, result.as_of.isoformat()]
    rows: list[list[Any]] = [RESULT_COLUMNS]
    rows.append(
        [
            *head,
            "total",
            "",
            "",
            result.title,
            result.value,
            result.numerator,
            result.denominator,
            "",
            result.target_kind,
            result.status,
        ]
    )
    for breakdown in result.breakdowns:
        for row in breakdown.rows:
            rows.append(
                [
                    *head,
                    "breakdown",
                    breakdown.dimension,
                    row.key,
                    row.name,
                    row.value,
                    row.numerator,
                    row.denominator,
                    row.meets,
                    "",
                    "",
                ]
            )
    for section, points in (("per_year", result.per_year), ("cumulative", result.cumulative)):
        for point in points:
            rows.append(
                [
                    *head,
                    section,
                    "year",
                    point.year,
                    "",
                    point.value,
                    point.numerator,
                    point.denominator,
                    "",
                    "",
                    "",
                ]
            )
    for year in result.yearly_targets:
        rows.append(
            [
                *head,
                "yearly_target",
                "year",
                year.year,
                year.direction,
                year.value,
                "",
                year.target,
                "",
                "",
                year.status,
            ]
        )
    for short in result.shortfall:
        rows.append(
            [
                *head,
                "shortfall",
                short.unit,
                short.code,
                short.name,
                short.value,
                "",
                short.required,
                False,
                "",
                "",
            ]
        )
    return rows


def table_rows(items: Sequence[Any], columns: Sequence[str]) -> list[list[Any]]:
    """Rows of pydantic models' fields, with a header."""
    return [list(columns)] + [[getattr(item, c) for c in columns] for item in items]


def norms_rows(result: NormsResult) -> list[list[Any]]:
    """Annex 3 norms as rows."""
    columns = list(NormRow.model_fields)
    return [["year", *columns]] + [
        [result.year, *[getattr(r, c) for c in columns]] for r in result.rows
    ]


def results_rows(results: Iterable[IndicatorResult]) -> list[list[Any]]:
    """Several indicators as rows: each one's rows as `result_rows`, under one header."""
    return [RESULT_COLUMNS] + [row for result in results for row in result_rows(result)[1:]]


def page_json(texts: Sequence[str], count: int, next_cursor: str | None) -> bytes:
    """A page (`{data, count, next_cursor}`, the shape of `pilnveide_kit.pagination.Page`) of
    items that are JSON texts already: each spliced in as it is, not parsed and serialised
    again (stored results are sent as stored)."""
    tail = json.dumps(next_cursor)
    return f'{{"data":[{",".join(texts)}],"count":{count},"next_cursor":{tail}}}'.encode()
