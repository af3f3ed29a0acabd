"""Two institutions side by side in the indicators: B neither reads nor counts A's data, and
changes nothing, through the gateway and directly at the service.

The indicators service reads learning-records with its own unrestricted service client, so the
restriction of the caller holds only where the service applies it (indicators/access.py). A's
and B's worlds are tests/worlds.py's; their courses are tagged to measure 1.6, so indicator
1.6.1 counts A's two learners under VK and B's one under FM. B calls every indicators route (from
the app's OpenAPI document) with every indicators scope it could hold, admin included (for
explain): no answer names A's institution or resort as a row, member or column, nor holds A's
pseudonyms or strings; B's totals are B's own; B's writes of definitions and observations are
refused, and the indicators' rows and A's records stay as they were. An unrestricted reader of
the same stack sees A's figures, so each check can fail.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import text

from .world_items import INDICATOR, A, B
from .worlds import Caller, Stack, a_rows, assert_no_a_data, learners_counted

#: Indicators of every computed kind the worlds touch (people, share, coverage, headcount),
#: a hand-reported one, and the one that counts the worlds' courses.
CODES = (INDICATOR, "1.5.1", "1.1.4", "5.1.3", "1.7.2")
YEAR = "2024"
QUERY = {
    "as_of": "2024-12-31",
    "period": YEAR,
    "year": YEAR,
    "breakdown": "institution,resort,sector,position_group,year",
}
WRITES = {"post", "put", "patch", "delete"}


def indicator_rows(worlds: Stack) -> dict[str, list[tuple[Any, ...]]]:
    """Every definition and observation, straight from the indicators database."""
    with worlds.indicators_engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in ("indicator_definition", "indicator_observation")
        }


def a_institution_shown(answer: httpx.Response) -> list[str]:
    """Where an answer names A's institution (VK is also its resort): a breakdown row's key,
    an explain member's or Annex 3 row's institution, the scope a result was computed over,
    or a CSV cell."""
    if answer.headers.get("content-type", "").startswith("text/csv"):
        cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
        return [f"csv cell {cell!r}" for cell in cells if cell == A]
    if "json" not in answer.headers.get("content-type", ""):
        return []
    found: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                if name in ("key", "institution") and item == A:
                    found.append(f"{where}.{name}")
                if name == "institutions_scope" and isinstance(item, list) and A in item:
                    found.append(f"{where}.{name}")
                walk(item, f"{where}.{name}")
        elif isinstance(value, list):
            for number, item in enumerate(value):
                walk(item, f"{where}[{number}]")

    walk(answer.json(), "$")
    return found


def _explain(caller: Caller) -> dict[str, Any]:
    answer = caller.get(
        f"/v1/indicators/{INDICATOR}/explain",
        params={"as_of": "2024-12-31", "period": YEAR, "limit": 500},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _norms(caller: Caller) -> dict[str, dict[str, Any]]:
    answer = caller.get("/v1/norms", params={"year": YEAR, "as_of": "2025-01-31"})
    assert answer.status_code == 200, answer.text
    return {row["institution"]: row for row in answer.json()["rows"]}


def _summary(caller: Caller) -> dict[str, Any]:
    answer = caller.get(
        "/v1/indicators", params={"measure": "1.6", "as_of": "2024-12-31", "period": YEAR}
    )
    assert answer.status_code == 200, answer.text
    return {item["code"]: item for item in answer.json()["data"]}[INDICATOR]


def test_b_reads_and_counts_only_b_in_indicators(worlds: Stack) -> None:
    """Value and breakdown, list, explain and Annex 3 norms: B's figures are B's institution's;
    an unrestricted reader of the same worlds (asked first, so a cache could leak) sees A's."""
    b, central = worlds.b_indicators, worlds.central_indicators
    a_people = {worlds.pseudonyms["a"], worlds.pseudonyms["shared"]}

    assert learners_counted(central) == (3, {A: 2, B: 1})
    assert learners_counted(b) == (1, {B: 1})

    assert _summary(central)["value"] == 3
    assert _summary(b)["value"] == 1

    everyone = _explain(central)
    assert a_people <= {m["person"] for m in everyone["data"]}
    mine = _explain(b)
    assert mine["count"] == 1
    assert [(m["person"], m["institution"]) for m in mine["data"]] == [(worlds.pseudonyms["b"], B)]

    central_norms, b_norms = _norms(central), _norms(b)
    assert central_norms[A]["hours"] == 16 and central_norms[A]["headcount"] == 400
    assert list(b_norms) == [B]
    assert (b_norms[B]["hours"], b_norms[B]["headcount"]) == (4, 55)


def _definition(worlds: Stack, code: str) -> tuple[dict[str, Any], str]:
    answer = worlds.central_indicators.get(f"/v1/definitions/{code}")
    assert answer.status_code == 200, answer.text
    return answer.json(), answer.headers["ETag"]


def _calls(
    worlds: Stack, method: str, path: str, operation: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(url, query, request arguments) of every call B makes to one operation."""
    names = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    query = {name: QUERY[name] for kind, name in names if kind == "query" and name in QUERY}
    codes = CODES if ("path", "code") in names else ("",)
    for code in codes:
        url = path.replace("{code}", code)
        extra: dict[str, Any] = {}
        if path == "/v1/definitions" and method == "post":
            spec, _etag = _definition(worlds, INDICATOR)
            extra["json"] = {"code": "9.9.9", "plan": spec["plan"], "spec": spec["spec"]}
        elif path == "/v1/definitions/{code}" and method in ("put", "delete"):
            spec, etag = _definition(worlds, code)
            extra["headers"] = {"If-Match": etag}
            if method == "put":
                extra["json"] = {"spec": spec["spec"], "note": "B's version"}
        elif method in WRITES:
            extra["json"] = {"value": 1, "observed_on": "2024-12-31", "source": "B"}
        formats = ("json", "csv") if ("query", "format") in names else (None,)
        for fmt in formats:
            yield url, query | ({"format": fmt} if fmt else {}), extra


def test_every_indicators_route_as_b_shows_counts_and_changes_nothing_of_a(worlds: Stack) -> None:
    """Each route of the indicators app, every code of CODES, JSON and CSV, called by B."""
    document = worlds.indicators.app.openapi()  # type: ignore[attr-defined]
    a_people = (worlds.pseudonyms["a"], worlds.pseudonyms["shared"])
    before_records, before_indicators = a_rows(worlds), indicator_rows(worlds)
    called = refused = 0
    for path, operations in sorted(document["paths"].items()):
        for method, operation in operations.items():
            if method not in ("get", *WRITES):
                continue
            for url, query, extra in _calls(worlds, method, path, operation):
                answer = worlds.b_indicators.request(method.upper(), url, params=query, **extra)
                where = f"{method} {url} {query}: {answer.status_code} {answer.text[:300]}"
                assert answer.status_code < 500, where
                assert_no_a_data(answer, *a_people)
                assert a_institution_shown(answer) == [], where
                if method in WRITES:
                    assert answer.status_code == 403, where
                    assert answer.headers["content-type"] == "application/problem+json", where
                    refused += 1
                called += 1
    assert called > 30 and refused >= 5, "the routes must be found"
    assert a_rows(worlds) == before_records
    assert indicator_rows(worlds) == before_indicators


def test_checks_see_a_where_a_is(worlds: Stack) -> None:
    """The leak checks are not blind: an unrestricted reader's answers name A where it is."""
    central = worlds.central_indicators
    shown = central.get(f"/v1/indicators/{INDICATOR}", params={**QUERY, "breakdown": "institution"})
    assert a_institution_shown(shown) != []
    as_csv = central.get("/v1/norms", params={"year": YEAR, "as_of": "2025-01-31", "format": "csv"})
    assert a_institution_shown(as_csv) != []
    # B's write is refused for its restriction, not for a missing scope: the same request of an
    # unrestricted client with the same scopes is stored.
    spec, etag = _definition(worlds, INDICATOR)
    replaced = central.request(
        "PUT",
        f"/v1/definitions/{INDICATOR}",
        json={"spec": spec["spec"], "note": "central's version"},
        headers={"If-Match": etag},
    )
    assert replaced.status_code == 200, replaced.text
    refused = worlds.b_indicators.request(
        "PUT",
        f"/v1/definitions/{INDICATOR}",
        json={"spec": spec["spec"], "note": "B's version"},
        headers={"If-Match": replaced.headers["ETag"]},
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/global-data")
