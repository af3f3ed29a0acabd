"""The kit's input boundary and cursor rules, on their own."""

from __future__ import annotations

import base64
import json

import pytest

from pilnveide_kit.boundary import (
    MAX_JSON_DEPTH,
    InvalidText,
    NotJson,
    check_form,
    check_path,
    check_query,
    strict_json_loads,
)
from pilnveide_kit.errors import BadRequest
from pilnveide_kit.pagination import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    ("raw", "refusal"),
    [
        (b'{"a": 1, "a": 2}', "twice"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e400}', "out of range"),
        (b'{"a": 9223372036854775808}', "64 bits"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "deeper"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper"),
    ],
    ids=["duplicate-key", "nan", "infinity", "float-overflow", "beyond-int64", "65-deep", "deep"],
)
def test_json_the_services_will_not_read(raw: bytes, refusal: str) -> None:
    with pytest.raises(BadRequest, match=refusal):
        strict_json_loads(raw)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"a": {"b": ["x", "y\\u0000"]}}', "body.a.b.1"),
        (b'{"a": "\\ud800"}', "body.a"),
        (b'[{"k\\u0000": 1}]', "body.0"),
    ],
    ids=["nul", "lone-surrogate", "nul-in-key"],
)
def test_text_that_cannot_round_trip_names_its_field(raw: bytes, field: str) -> None:
    with pytest.raises(InvalidText) as refused:
        strict_json_loads(raw)
    assert refused.value.extra["errors"][0]["name"].startswith(field)


def test_ordinary_json_passes_unchanged() -> None:
    value = {"a": [1, 2.5, "ā\\u0001 \U0001f600", None, True], "b": {"c": -(2**63)}}
    assert strict_json_loads(json.dumps(value).encode()) == value
    assert strict_json_loads(b'{"pair": "\\ud83d\\ude00"}') == {"pair": "\U0001f600"}
    with pytest.raises(NotJson):
        strict_json_loads(b"{not json")


def test_query_path_and_form_text() -> None:
    check_query(b"agent=%7B%0A%22mbox%22%7D&x=%C4%81")  # a line break in a JSON parameter
    for bad in (b"client_id=a%00b", b"x=%01"):
        with pytest.raises(InvalidText):
            check_query(bad)
    with pytest.raises(InvalidText):
        check_path("/v1/courses/\x0c")
    check_form(b"content=%7B%0A%7D&method=PUT")
    with pytest.raises(InvalidText):
        check_form(b"client_secret=a%00")


@pytest.mark.parametrize(
    "key",
    ['{"id": 1e30}', '{"id": null}', '{"id": true}', '{"id": 9223372036854775808}', "[1]"],
    ids=["float", "null", "bool", "beyond-int64", "not-an-object"],
)
def test_tampered_cursors_are_refused(key: str) -> None:
    cursor = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    with pytest.raises(BadRequest):
        decode_cursor(cursor)


def test_our_cursors_decode() -> None:
    assert decode_cursor(encode_cursor({"id": 2**63 - 1, "code": "VK"})) == {
        "id": 2**63 - 1,
        "code": "VK",
    }
