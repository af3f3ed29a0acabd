"""The bulk fast paths (one-pass validation, per-batch pseudonyms) give the item-by-item answers."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from learning_records.ingest.kinds import KINDS
from learning_records.ingest.service import (
    describe_validation_error,
    paused_gc,
    prepare,
    validate,
)
from pilnveide_kit.auth import Principal

Make = Callable[..., dict[str, Any]]
KIND = KINDS["enrolments"]
UNRESTRICTED = Principal(client_id="test", scopes=frozenset({"records:write"}))


def _one_by_one(raw: Any) -> Any:
    try:
        return KIND.item.model_validate(raw)
    except ValidationError as exc:
        return describe_validation_error(exc)


def test_validating_the_whole_list_equals_validating_each_item(make_enrolment: Make) -> None:
    valid = [make_enrolment(n) for n in range(3)]
    assert validate(KIND, valid) == [_one_by_one(raw) for raw in valid]
    mixed = [
        make_enrolment(1),
        make_enrolment(2, status="finished"),
        make_enrolment(3, completed_on="2024-13-01"),
        make_enrolment(4, status="registered"),  # completed_on without completed
    ]
    results = validate(KIND, mixed)
    assert results == [_one_by_one(raw) for raw in mixed]
    assert [type(r) for r in results] == [KIND.item, str, str, str]


def test_the_json_fast_path_gives_the_models_of_the_slow_path(make_enrolment: Make) -> None:
    items = [make_enrolment(n, hours="8", course_code=" C1 ") for n in range(3)]
    fast = list(KIND.list_adapter.validate_json(json.dumps(items)))
    assert fast == [KIND.item.model_validate(raw) for raw in items]
    assert fast[0].course_code == "C1" and fast[0].hours == 8.0


def test_a_repeated_personal_code_is_pseudonymised_once_and_rejected_each_time(
    make_enrolment: Make, make_code: Callable[[int], str]
) -> None:
    bad = "010190-12345"  # wrong check digit
    items = [
        make_enrolment(1, personal_code=make_code(7)),
        make_enrolment(2, personal_code=bad),
        make_enrolment(3, personal_code=make_code(7)),
        make_enrolment(4, personal_code=bad),
    ]
    batch = prepare(KIND, items, principal=UNRESTRICTED, pepper="p" * 16)
    assert [p.index for p in batch.items] == [0, 2]
    assert batch.items[0].pseudonym == batch.items[1].pseudonym
    assert batch.outcomes[1]["reason"] == batch.outcomes[3]["reason"]
    assert "check digit" in batch.outcomes[1]["reason"]


def test_problems_report_lists_only_problems_and_stores_everything_else(
    client: TestClient, writer: dict[str, str], make_enrolment: Make
) -> None:
    items = [make_enrolment(n) for n in range(5)] + [make_enrolment(9, hours=-1)]
    response = client.post(
        "/v1/enrolments/bulk", json=items, headers=writer, params={"report": "problems"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"] == {"accepted": 5, "unchanged": 0, "rejected": 1, "conflict": 0}
    assert [(o["index"], o["status"]) for o in report["items"]] == [(5, "rejected")]
    listed = client.get("/v1/enrolments", headers=writer).json()["data"]
    assert len(listed) == 5 and all(isinstance(e["id"], int) for e in listed)
    replay = client.post("/v1/enrolments/bulk", json=items, headers=writer).json()
    assert replay["counts"] == {"accepted": 0, "unchanged": 5, "rejected": 1, "conflict": 0}
    assert {o["id"] for o in replay["items"][:5]} == {e["id"] for e in listed}


def test_paused_gc_restores_the_collector_as_it_was() -> None:
    was = gc.isenabled()
    try:
        gc.enable()
        with pytest.raises(RuntimeError), paused_gc():
            assert not gc.isenabled()
            raise RuntimeError
        assert gc.isenabled()
        gc.disable()
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_the_batch_code_check_answers_as_each_item_checked_alone() -> None:
    """Cached per institution and per course, the answers equal check_codes item by item."""
    from learning_records.ingest.checks import BatchCodeCheck, check_codes
    from learning_records.ingest.schemas import CourseTagWrite, EnrolmentWrite
    from learning_records.reference.service import ReferenceCodes

    codes = ReferenceCodes(institutions=frozenset({"I1", "I2"}), courses=frozenset({"C1"}))
    items: list[Any] = []
    for n in range(12):
        items.append(
            EnrolmentWrite(
                source_system="s",
                external_id=f"e{n}",
                pseudonym="a" * 64,
                course_code=["C1", "C9"][n % 2],
                institution=["I1", "I2", "I7", None][n % 4],
                status="registered",
                status_date="2026-01-01",
            )
        )
    items += [
        CourseTagWrite(source_system="s", external_id="t1", course_code="C9", tag="x"),
        CourseTagWrite(source_system="s", external_id="t2", course_code="C1", tag="x"),
    ]
    check = BatchCodeCheck(codes)
    answers = [check(item) for item in items]
    assert answers == [check_codes(item, codes) for item in items]
    problems = {i.institution for i, (problem, _f) in zip(items, answers, strict=True) if problem}
    flagged = {item.external_id for item, (_p, flag) in zip(items, answers, strict=True) if flag}
    assert problems == {"I7"}
    assert flagged == {f"e{n}" for n in range(1, 12, 2)}  # C9 is flagged, but not on a tag
