"""After a realistic ingest, no table column and no log line holds a raw personal code."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, select
from sqlalchemy.engine import Engine

from learning_records.enrolments.service import LearningEvent, apply_learning_event
from learning_records.models import metadata
from pilnveide_kit.db import session_scope
from pilnveide_kit.testing import TokenFactory


def test_codes_appear_in_no_table_and_no_log_line(
    client: TestClient,
    engine: Engine,
    writer: dict[str, str],
    tokens: TokenFactory,
    pepper: str,
    make_code: Callable[[int], str],
    make_enrolment: Callable[..., dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    codes = [make_code(n) for n in range(20)]
    new_form = "321234-56789"
    for n, code in enumerate(codes[:10]):
        client.post(
            "/v1/people",
            json={
                "source_system": "hr",
                "external_id": f"p{n}",
                "personal_code": code,
                "display_name": f"Person {n}",
            },
            headers=writer,
        )
    client.post(
        "/v1/employment/bulk",
        headers=writer,
        json=[
            {
                "source_system": "hr",
                "external_id": f"e{n}",
                "personal_code": code.replace("-", ""),
                "institution": "VK",
                "sector": "state",
                "valid_from": "2020-01-01",
            }
            for n, code in enumerate(codes)
        ],
    )
    items = [make_enrolment(n) for n in range(20)] + [
        make_enrolment(99, personal_code=new_form),
        make_enrolment(98, personal_code=codes[0][:-1] + "x"),  # malformed: rejected
    ]
    report = client.post("/v1/enrolments/bulk", json=items, headers=writer).json()
    assert report["counts"] == {"accepted": 21, "unchanged": 0, "rejected": 1, "conflict": 0}
    csv_body = (
        "source_system,external_id,personal_code,course_code,attempted_on,passed\n"
        + "".join(f"lms,t{n},{code},INTEG-E,2024-03-01,true\n" for n, code in enumerate(codes))
    )
    client.post(
        "/v1/results/bulk",
        content=csv_body.encode(),
        headers={**writer, "Content-Type": "text/csv"},
    )
    client.post("/v1/enrolments", json=make_enrolment(1, hours=99), headers=writer)  # conflict
    client.post(
        "/v1/enrolments", json=make_enrolment(50, personal_code="999999-99999"), headers=writer
    )
    with session_scope(engine) as session:
        apply_learning_event(
            session,
            LearningEvent(
                "lrs",
                "st-1",
                "DIG-1",
                datetime(2024, 5, 1, tzinfo=UTC),
                "completed",
                personal_code=codes[3],
                passed=True,
                score=1.0,
            ),
            pepper=pepper,
        )
    client.post("/v1/enrolments/bulk", json=items[:3], headers={**writer, "Idempotency-Key": "k1"})
    client.post(
        "/v1/privacy/erasure",
        json={"personal_code": codes[5]},
        headers=tokens.headers("records:erase"),
    )
    client.post(
        "/v1/privacy/erasure",
        json={"personal_code": codes[6], "dry_run": False},
        headers=tokens.headers("records:erase"),
    )

    needles = set()
    for code in [*codes, new_form, "999999-99999"]:
        needles.update({code, code.replace("-", "")})
    found = []
    with session_scope(engine) as session:
        for table in metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not text_columns:
                continue
            for row in session.execute(select(*text_columns)):
                for value in row:
                    if isinstance(value, str) and any(n in value for n in needles):
                        found.append(table.name)
        json_rows = session.execute(
            select(metadata.tables["learning_event"].c.prior_state)
        ).scalars()
        assert not any(any(n in str(v) for n in needles) for v in json_rows)
    assert found == []
    assert caplog.records, "the requests were logged"
    logged = "\n".join(r.getMessage() + str(vars(r)) for r in caplog.records)
    assert not any(n in logged for n in needles)
