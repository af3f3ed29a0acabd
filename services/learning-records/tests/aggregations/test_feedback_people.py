"""Feedback as a source: people who gave feedback, the follow-up 6–12 months after learning.

Institution A (VK) and B (FM) each write their own enrolments and feedback; each restricted
reader counts only its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory


def _post(client: TestClient, headers: dict[str, str], kind: str, items: list[Any]) -> None:
    answer = client.post(f"/v1/{kind}/bulk", json=items, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["accepted"] == len(items), answer.text


def _people(client: TestClient, headers: dict[str, str], **flt: Any) -> tuple[Any, dict[str, Any]]:
    answer = client.post(
        "/v1/aggregations/query",
        json={"metric": "feedback_people", "filter": flt, "group_by": ["institution"]},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["total"], {g["key"]["institution"]: g["value"] for g in body["groups"]}


@pytest.fixture
def feedback(client: TestClient, tokens: TokenFactory, make_code: Callable[[int], str]) -> None:
    for institution, people in (("VK", (1, 2, 3)), ("FM", (4, 5))):
        writer = tokens.headers("records:write records:read", institutions=[institution])
        base = {"source_system": "hr", "institution": institution, "sector": "state"}
        _post(
            client,
            writer,
            "employment",
            [
                {**base, "external_id": f"e{n}", "personal_code": make_code(n),
                 "valid_from": "2020-01-01"}
                for n in people
            ],
        )  # fmt: skip
        lms = {"source_system": "lms", "institution": institution, "course_code": "INTEG-E"}
        _post(
            client,
            writer,
            "enrolments",
            [
                {**lms, "external_id": f"c{n}", "personal_code": make_code(n),
                 "status": "completed", "completed_on": "2024-01-15"}
                for n in people
            ],
        )  # fmt: skip
    rows = {
        # person: (institution, kind, submitted_on, applied_at_work)
        1: ("VK", "immediate", "2024-01-16", None),
        2: ("VK", "follow_up", "2024-09-01", True),  # 8 months after: in the window
        3: ("VK", "follow_up", "2024-03-01", True),  # 2 months after: too early
        4: ("FM", "follow_up", "2024-12-01", False),  # 11 months after, not applied
        5: ("FM", "follow_up", "2025-03-01", True),  # 14 months after: too late
    }
    for institution in ("VK", "FM"):
        writer = tokens.headers("records:write records:read", institutions=[institution])
        _post(
            client,
            writer,
            "feedback",
            [
                {"source_system": "survey", "external_id": f"f{n}", "institution": where,
                 "personal_code": make_code(n), "course_code": "INTEG-E", "kind": kind,
                 "submitted_on": day, "rating": 4, "applied_at_work": applied}
                for n, (where, kind, day, applied) in rows.items()
                if where == institution
            ],
        )  # fmt: skip


def test_follow_ups_in_the_6_to_12_month_window(
    client: TestClient, writer: dict[str, str], feedback: None
) -> None:
    assert _people(client, writer) == (5, {"VK": 3, "FM": 2})
    follow_up = {"feedback_kinds": ["follow_up"], "follow_up_window": True}
    assert _people(client, writer, **follow_up) == (2, {"VK": 1, "FM": 1})  # 2 and 4
    applied = {**follow_up, "applied_at_work": True}
    assert _people(client, writer, **applied) == (1, {"VK": 1})  # 2
    assert _people(client, writer, feedback_kinds=["immediate"]) == (1, {"VK": 1})
    year = {"period": {"from": "2024-01-01", "to": "2024-12-31"}}
    assert _people(client, writer, **year, feedback_kinds=["follow_up"])[0] == 3  # not 5's


def test_each_institution_counts_only_its_own_feedback(
    client: TestClient, tokens: TokenFactory, feedback: None
) -> None:
    vk = tokens.headers("records:read", institutions=["VK"])
    fm = tokens.headers("records:read", institutions=["FM"])
    window = {"feedback_kinds": ["follow_up"], "follow_up_window": True}
    assert _people(client, vk, **window) == (1, {"VK": 1})
    assert _people(client, fm, **window) == (1, {"FM": 1})
    assert _people(client, fm, institutions=["VK"]) == (0, {})


def test_feedback_keys_filter_only_feedback(client: TestClient, writer: dict[str, str]) -> None:
    for body in (
        {"metric": "people", "filter": {"applied_at_work": True}},
        {"metric": "feedback_people", "filter": {"statuses": ["completed"]}},
        {"metric": "leavers", "filter": {"feedback_kinds": ["follow_up"]}},
    ):
        answer = client.post("/v1/aggregations/query", json=body, headers=writer)
        assert answer.status_code == 422, body
