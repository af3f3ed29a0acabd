"""The conformance harness reads the ADL suite's and schemathesis' outputs right: a failure is
never lost, and the categories of issue 13's hostile inputs are recognised."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "conformance"))

import adl
import fuzz

SERVER_ERROR = "not_a_server_error"


@pytest.mark.parametrize(
    ("uri", "body", "category"),
    [
        ("http://gw/catalog/v1/courses/%00", b"", "nul"),
        ("http://gw/records/v1/enrolments", b'{"external_id": "a\\u0000b"}', "nul"),
        ("http://gw/catalog/v1/courses", b'{"title": {"lv": "\\ud800"}}', "surrogate"),
        ("http://gw/xapi/statements", b"[" * 100 + b"]" * 100, "deep-json"),
        ("http://gw/records/v1/changes?after=9223372036854775808", b"", "huge-int"),
        ("http://gw/catalog/v1/courses?cursor=eyJpZCI6IDFlMzB9", b"", "cursor"),
        ("http://gw/catalog/v1/courses/%0C", b"", "proxy-path"),
        ("http://gw/catalog//v1/courses", b"", "proxy-path"),
        # A long run of zeros in a code is not a huge integer, an empty cursor not a tampered one.
        ("http://gw/indicators/v1/plan/progress?plan=" + "0" * 64, b"", "other"),
        ("http://gw/catalog/v1/courses?cursor=&limit=5", b"", "other"),
    ],
)
def test_server_errors_are_put_in_their_category(uri: str, body: bytes, category: str) -> None:
    assert fuzz.categorise(SERVER_ERROR, uri, body) == category


def test_a_schema_violation_is_never_tolerated_as_a_known_input() -> None:
    uri = "http://gw/catalog/v1/courses/%00"
    assert fuzz.categorise("response_schema_conformance", uri, b"") == "other"


def test_findings_are_read_from_the_ndjson_stream(tmp_path: Path) -> None:
    def encoded(text: str) -> dict[str, str]:
        return {"$base64": base64.b64encode(text.encode()).decode()}

    scenario = {
        "ScenarioFinished": {
            "status": "failure",
            "recorder": {
                "label": "GET /catalog/v1/courses/{code}",
                "checks": {
                    "c1": [
                        {
                            "name": SERVER_ERROR,
                            "status": "failure",
                            "failure_info": {"failure": {"title": "Server error", "message": ""}},
                        },
                        {"name": "response_schema_conformance", "status": "success"},
                    ]
                },
                "interactions": {
                    "c1": {
                        "request": {"method": "GET", "uri": "http://gw/catalog/v1/courses/%00"},
                        "response": {"status_code": 500, "content": encoded('{"status":500}')},
                    }
                },
            },
        }
    }
    passed = {"ScenarioFinished": {"status": "success", "recorder": {}}}
    error = {
        "NonFatalError": {
            "label": "GET /indicators/v1/indicators",
            "value": {"type": "ReadTimeout"},
        }
    }
    stream = tmp_path / "events.ndjson"
    stream.write_text("\n".join(json.dumps(e) for e in (scenario, passed, error)))
    found = list(fuzz.findings(stream))
    assert [(f.operation, f.check, f.status, f.category) for f in found] == [
        ("GET /catalog/v1/courses/{code}", SERVER_ERROR, 500, "nul"),
        ("GET /indicators/v1/indicators", "network error", None, "network-error"),
    ]
    assert '{"status":500}' in found[0].describe()


def test_tolerated_categories_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILNVEIDE_FUZZ_TOLERATE", "")
    assert fuzz.tolerated() == set()
    monkeypatch.setenv("PILNVEIDE_FUZZ_TOLERATE", "nul, cursor")
    assert fuzz.tolerated() == {"nul", "cursor"}


def test_the_adl_summary_must_show_every_test_passed() -> None:
    summary = adl._summary('{"total":1442,"passed":1442,"failed":0,"version":"2.0.0"}')
    assert adl.Outcome("2.0.0", summary).passed
    partial = adl._summary('{"total":1442,"passed":1400,"failed":0,"version":"2.0.0"}')
    assert not adl.Outcome("2.0.0", partial).passed  # stopped early: not a pass
    assert not adl.Outcome("2.0.0", None).passed
    assert adl._summary("Tests completed in 3 seconds") is None


def test_failed_adl_tests_are_listed_by_name() -> None:
    log = {
        "title": "root",
        "status": "failed",
        "tests": [
            {"title": "Statements", "status": "passed", "tests": []},
            {
                "title": "Alternate syntax",
                "status": "failed",
                "tests": [
                    {
                        "title": "PUT through a form",
                        "status": "failed",
                        "error": "Expected 204 got 401\n  at stack",
                    }
                ],
            },
        ],
    }
    assert adl._failed_tests(log) == [
        "Alternate syntax > PUT through a form\n      Expected 204 got 401"
    ]


def test_the_suite_is_found_beside_a_parent_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADL_SUITE_DIR", raising=False)
    suite = tmp_path / "shared" / "vendor" / adl.SUITE_NAME
    suite.mkdir(parents=True)
    (suite / "package.json").write_text("{}")
    assert adl.find_suite(tmp_path / "wt" / "repo") == suite
    assert adl.find_suite(tmp_path / "elsewhere" / "x" / "y") == suite
    monkeypatch.setenv("ADL_SUITE_DIR", str(tmp_path / "missing"))
    assert adl.find_suite(tmp_path / "wt" / "repo") is None
