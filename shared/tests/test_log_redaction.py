"""No personal data in logs: query strings, quoted input values, key values and SQL
parameters are kept out of every line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from pilnveide_kit.db import make_engine
from pilnveide_kit.logging import JsonFormatter, redact
from pilnveide_kit.testing import temporary_database

CODE = "010101-12345"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged, formatted as the services format it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_query_strings_and_input_values_are_redacted(log_lines: io.StringIO) -> None:
    log = logging.getLogger("pilnveide.test")
    log.warning("HTTP Request: %s %s", "GET", f"http://records:8002/xapi/agents?agent={CODE}&x=1")
    log.warning("failed", extra={"url": f"/xapi/statements?agent={CODE}", "count": 2})
    try:
        raise ValueError(f"1 validation error [type=x, input_value='{CODE}', input_type=str]")
    except ValueError:
        log.exception("crash")
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert CODE not in log_lines.getvalue()
    assert lines[0]["message"] == "HTTP Request: GET http://records:8002/xapi/agents?<redacted>"
    assert lines[1]["url"] == "/xapi/statements?<redacted>" and lines[1]["count"] == 2
    assert "input_value=<redacted>" in lines[2]["exception"]


def test_database_key_values_are_redacted() -> None:
    detail = f"DETAIL:  Key (person_code)=({CODE}) already exists."
    assert redact(detail) == "DETAIL:  Key (person_code)=(<redacted>) already exists."


def test_sql_parameters_never_reach_error_messages(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path, "kit") as url:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("CREATE TABLE person (code VARCHAR(20) PRIMARY KEY)"))
                connection.execute(text("INSERT INTO person VALUES (:code)"), {"code": CODE})
                with pytest.raises(SQLAlchemyError) as failure:
                    connection.execute(text("INSERT INTO person VALUES (:code)"), {"code": CODE})
            message = redact(str(failure.value))
            assert "parameters hidden" in str(failure.value)
            assert CODE not in message
        finally:
            engine.dispose()
