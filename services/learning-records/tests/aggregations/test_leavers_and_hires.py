"""Employment as a source: leavers (with reasons, first-year) and hires, with exact values.

Institution A is VK, institution B is FM; each writes its own employment records, and each
restricted reader counts only its own leavers and hires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory

YEAR_2024 = {"period": {"from": "2024-01-01", "to": "2024-12-31"}}
AVOIDABLE = ["own_wish", "mutual_agreement", "transfer_other_institution"]


def _post(client: TestClient, headers: dict[str, str], items: list[dict[str, Any]]) -> None:
    answer = client.post("/v1/employment/bulk", json=items, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] == len(items), answer.text


def _total(client: TestClient, headers: dict[str, str], metric: str, **flt: Any) -> Any:
    answer = client.post(
        "/v1/aggregations/query",
        json={"metric": metric, "filter": flt, "group_by": ["institution"]},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["total"], {g["key"]["institution"]: g["value"] for g in body["groups"]}


@pytest.fixture
def moves(
    client: TestClient, tokens: TokenFactory, make_code: Callable[[int], str]
) -> dict[str, dict[str, str]]:
    """VK (A) and FM (B) write their own people's employments; person 8 moves from A to B."""

    def emp(n: int, ext: str, institution: str, start: str, end: str | None = None, **more: Any):
        return {
            "source_system": "hr",
            "external_id": ext,
            "personal_code": make_code(n),
            "institution": institution,
            "sector": "state",
            "valid_from": start,
            "valid_to": end,
            **more,
        }

    vk = tokens.headers("records:write records:read", institutions=["VK"])
    fm = tokens.headers("records:write records:read", institutions=["FM"])
    _post(
        client,
        vk,
        [
            emp(1, "a1", "VK", "2020-01-01", "2024-03-31", leaving_reason="own_wish"),
            emp(2, "a2", "VK", "2024-02-01", "2024-10-31", leaving_reason="probation_not_passed"),
            emp(3, "a3", "VK", "2022-01-01", "2023-12-31", leaving_reason="mutual_agreement"),
            # A change of position inside VK: neither a leaving nor a hire.
            emp(4, "a4", "VK", "2020-01-01", "2024-05-31"),
            emp(4, "a4b", "VK", "2024-06-01"),
            emp(5, "a5", "VK", "2024-03-01"),
            emp(8, "a8", "VK", "2021-01-01", "2024-08-31",
                leaving_reason="transfer_other_institution"),
        ],
    )  # fmt: skip
    _post(
        client,
        fm,
        [
            emp(6, "b6", "FM", "2023-06-01", "2024-05-31", leaving_reason="own_wish"),
            emp(7, "b7", "FM", "2024-01-01", "2025-02-01", leaving_reason="retirement"),
            emp(8, "b8", "FM", "2024-09-01"),
        ],
    )
    return {"vk": vk, "fm": fm}


def test_leavers_in_the_year_by_reason_and_first_year(
    client: TestClient, writer: dict[str, str], moves: Any
) -> None:
    # 1, 2 and 8 left VK in 2024; 6 left FM; 3 left in 2023 and 7 leaves in 2025; 4 stayed.
    assert _total(client, writer, "leavers", **YEAR_2024) == (4, {"VK": 3, "FM": 1})
    avoidable = _total(client, writer, "leavers", **YEAR_2024, leaving_reasons=AVOIDABLE)
    assert avoidable == (3, {"VK": 2, "FM": 1})  # not 2's failed probation
    # 2 (8 months at VK) and 6 (a year less a day at FM) left within 12 months of starting.
    assert _total(client, writer, "leavers", **YEAR_2024, first_year=True) == (
        2,
        {"VK": 1, "FM": 1},
    )
    assert _total(client, writer, "leavers", **YEAR_2024, first_year=False)[0] == 2
    by_year = client.post(
        "/v1/aggregations/query",
        json={"metric": "leavers", "filter": {}, "group_by": ["year"]},
        headers=writer,
    ).json()
    assert {g["key"]["year"]: g["value"] for g in by_year["groups"]} == {2023: 1, 2024: 4, 2025: 1}


def test_hires_in_the_year(client: TestClient, writer: dict[str, str], moves: Any) -> None:
    # VK hired 2 and 5 (4's second employment continues the first); FM hired 7 and 8.
    assert _total(client, writer, "hires", **YEAR_2024) == (4, {"VK": 2, "FM": 2})


def test_each_institution_counts_only_its_own_leavers_and_hires(
    client: TestClient, tokens: TokenFactory, moves: Any
) -> None:
    vk = tokens.headers("records:read", institutions=["VK"])
    fm = tokens.headers("records:read", institutions=["FM"])
    assert _total(client, vk, "leavers", **YEAR_2024) == (3, {"VK": 3})
    assert _total(client, fm, "leavers", **YEAR_2024) == (1, {"FM": 1})
    assert _total(client, fm, "leavers", **YEAR_2024, institutions=["VK"]) == (0, {})
    assert _total(client, fm, "hires", **YEAR_2024) == (2, {"FM": 2})
    # B's write of a leaving in A's institution is refused and changes nothing of A's.
    answer = client.post(
        "/v1/employment/bulk",
        json=[
            {
                "source_system": "hr",
                "external_id": "b-claims-a",
                "personal_code": "x",
                "institution": "VK",
                "sector": "state",
                "valid_from": "2020-01-01",
                "valid_to": "2024-02-01",
                "leaving_reason": "own_wish",
            }
        ],
        headers=moves["fm"],
    )
    assert answer.status_code in (200, 403, 422)
    assert answer.status_code != 200 or answer.json()["counts"]["accepted"] == 0
    assert _total(client, vk, "leavers", **YEAR_2024) == (3, {"VK": 3})


def test_leaving_filters_belong_to_leavers_and_a_reason_needs_an_end(
    client: TestClient, writer: dict[str, str], make_code: Callable[[int], str]
) -> None:
    for body in (
        {"metric": "people", "filter": {"leaving_reasons": ["own_wish"]}},
        {"metric": "hires", "filter": {"first_year": True}},
        {"metric": "leavers", "filter": {"statuses": ["completed"]}},
    ):
        answer = client.post("/v1/aggregations/query", json=body, headers=writer)
        assert answer.status_code == 422, body
    open_ended = {
        "source_system": "hr",
        "external_id": "no-end",
        "personal_code": make_code(9),
        "institution": "VK",
        "sector": "state",
        "valid_from": "2020-01-01",
        "leaving_reason": "own_wish",
    }
    answer = client.post("/v1/employment/bulk", json=[open_ended], headers=writer)
    outcome = answer.json()
    assert answer.status_code == 422 or outcome["counts"]["accepted"] == 0, answer.text
