"""CSV exports as operations of their own: `<path>.csv` beside a route answering JSON or CSV.

One operation answering JSON or CSV by a query parameter cannot be described to a client
generator (it parses the first media type declared: asking for CSV then fails on a JSON
decode). The `.csv` twin runs the same endpoint, forced to CSV, and is documented as
`text/csv` only; `?format=csv` and `Accept: text/csv` keep working on the JSON route.

A route that can answer CSV takes `format: CsvFormat = None` and a `Request`, declares
`responses=ALSO_CSV`, answers `csv_response(...)` when `csv_requested(request, format)`, and
its router calls `add_csv_exports(router, "<path>", ...)` after the routes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute

CSV_SUFFIX = ".csv"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
#: The `format` query parameter of a route answering JSON or CSV (the `.csv` twin hides it).
CsvFormat = Annotated[
    Literal["json", "csv"] | None,
    Query(description="json or csv (default: by the Accept header, else json)"),
]
#: The `responses` of the JSON route: CSV too, beside the response model's JSON.
ALSO_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
#: Marks a twin's operation for pilnveide_kit.openapi (text/csv only, no `format` parameter).
CSV_EXPORT_FLAG = "x-csv-export"
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "CSV (UTF-8, a header row first)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def csv_requested(request: Request, format_: str | None) -> bool:
    """True on a `.csv` twin, for ?format=csv, or an Accept header preferring text/csv."""
    if getattr(request.state, "csv_export", False):
        return True
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def csv_response(
    rows: Iterable[Mapping[str, Any]],
    fieldnames: Sequence[str],
    *,
    filename: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Rows as a CSV attachment: a header row of fieldnames, then one line a row (keys not in
    fieldnames are left out, None is empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fieldnames), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(
        out.getvalue(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})},
    )


def _force_csv(request: Request) -> None:
    request.state.csv_export = True


def add_csv_exports(router: APIRouter, *paths: str) -> None:
    """For each GET route of the router at one of paths (prefix included), add `<path>.csv`.

    The twins come first in the router, so `/v1/indicators/1.5.1.csv` is the export of 1.5.1,
    not an indicator coded "1.5.1.csv". Their operation id is the route's name with `_csv`.
    """
    twins: list[APIRoute] = []
    for route in router.routes:
        if isinstance(route, APIRoute) and route.path in paths and "GET" in (route.methods or ()):
            twins.append(
                APIRoute(
                    route.path + CSV_SUFFIX,
                    route.endpoint,
                    methods=["GET"],
                    name=f"{route.name}_csv",
                    summary=f"{route.summary or route.name} (CSV)",
                    description=route.description,
                    dependencies=[*route.dependencies, Depends(_force_csv)],
                    tags=list(route.tags),
                    response_model=None,
                    response_class=Response,
                    responses=CSV_RESPONSES,
                    openapi_extra={CSV_EXPORT_FLAG: True},
                )
            )
    missing = set(paths) - {t.path.removesuffix(CSV_SUFFIX) for t in twins}
    if missing:
        raise ValueError(f"no GET route to export as CSV at {sorted(missing)}")
    router.routes[0:0] = twins
