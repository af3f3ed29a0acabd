"""The hostile requests of test_hostile_input.py: where each goes, what it carries, and what
must come back (a 4xx problem+json, with this status and naming this field where given)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from learning_records.people.pseudonyms import synthetic_personal_code

XAPI = {"X-Experience-API-Version": "1.0.3"}
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:learner@example.lv"})
STATE = f"/xapi/activities/state?activityId=http://example.lv/a&stateId=s1&agent={AGENT}"
DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


def _cursor(key: dict[str, Any] | str) -> str:
    raw = key if isinstance(key, str) else json.dumps(key)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _enrolment(number: int, **overrides: object) -> dict[str, object]:
    item: dict[str, object] = {
        "source_system": "mps",
        "external_id": f"enr-{number}",
        "personal_code": synthetic_personal_code(number),
        "course_code": "INTEG-E",
        "institution": "VK",
        "status": "completed",
        "completed_on": "2024-03-01",
        "hours": 8,
    }
    item.update(overrides)
    return item


def statement(**overrides: Any) -> dict[str, Any]:
    """A well-formed xAPI statement; keyword arguments replace its top-level properties."""
    body: dict[str, Any] = {
        "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.lv", "name": "Learner"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "http://example.lv/activities/intro", "objectType": "Activity"},
    }
    body.update(overrides)
    return body


@dataclass(frozen=True)
class Case:
    """One hostile request: where it goes, what it carries, what must come back."""

    name: str
    owner: str  # catalog, records, indicators, or gateway (its own routes)
    method: str
    path: str  # as the owner sees it (xAPI paths keep their /xapi prefix)
    body: bytes | None = None
    content_type: str = "application/json"
    status: int | None = None  # None: any 4xx
    mentions: str | None = None  # a name the problem must mention
    headers: dict[str, str] = field(default_factory=dict)
    direct: bool = True
    via_gateway: bool = True

    def __str__(self) -> str:
        return self.name


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = [
    # --- text PostgreSQL or JSON cannot round-trip: 422 naming the field ---
    Case(
        "nul-in-enrolment-external-id",
        "records",
        "POST",
        "/v1/enrolments",
        _json(_enrolment(1, external_id="a\u0000b")),
        status=422,
        mentions="external_id",
    ),
    Case(
        "nul-in-bulk-item",
        "records",
        "POST",
        "/v1/enrolments/bulk",
        _json([_enrolment(2), _enrolment(3, course_code="X\u0000")]),
        status=422,
        mentions="course_code",
    ),
    Case(
        "nul-in-query-parameter",
        "records",
        "GET",
        "/v1/enrolments?cursor=a%00b",
        status=422,
        mentions="cursor",
    ),
    Case("nul-in-path", "catalog", "GET", "/v1/courses/%00", via_gateway=False, status=422),
    Case(
        "lone-surrogate-in-catalog-title",
        "catalog",
        "POST",
        "/v1/courses",
        b'{"code": "HOSTILE-1", "title": {"lv": "\\ud800"}, "format": "online"}',
        status=422,
        mentions="title",
    ),
    Case(
        "nul-in-xapi-actor-name",
        "records",
        "POST",
        "/xapi/statements",
        _json(statement(actor={"mbox": "mailto:a@example.lv", "name": "a\u0000b"})),
        status=422,
        mentions="actor",
        headers=XAPI,
    ),
    Case(
        "lone-surrogate-in-xapi-actor-name",
        "records",
        "POST",
        "/xapi/statements",
        _json(statement()).replace(b'"Learner"', b'"\\udc00"'),
        status=422,
        mentions="actor",
        headers=XAPI,
    ),
    Case(
        "nul-escaped-in-xapi-agent-parameter",
        "records",
        "PUT",
        STATE.replace("mailto:learner@example.lv", "mailto:learner@example.lv\\u0000")
        .replace("{", "%7B")
        .replace("}", "%7D"),
        b'{"progress": 1}',
        status=422,
        mentions="agent",
        headers=XAPI,
    ),
    Case(
        "nul-in-audit-client-id",
        "gateway",
        "GET",
        "/admin/audit?client_id=a%00b",
        status=422,
        mentions="client_id",
    ),
    # --- JSON bounded before it is trusted: depth, duplicate keys, NaN ---
    Case("deep-json-bulk", "records", "POST", "/v1/enrolments/bulk", DEEP, status=400),
    Case(
        "deep-ndjson-bulk",
        "records",
        "POST",
        "/v1/enrolments/bulk",
        DEEP + b"\n",
        content_type="application/x-ndjson",
        status=400,
    ),
    Case(
        "deep-xapi-statement",
        "records",
        "POST",
        "/xapi/statements",
        DEEP_OBJECT,
        status=400,
        headers=XAPI,
    ),
    Case("deep-xapi-state-merge", "records", "POST", STATE, DEEP_OBJECT, status=400, headers=XAPI),
    Case(
        "nan-in-xapi-document",
        "records",
        "PUT",
        STATE,
        b'{"progress": NaN}',
        status=400,
        headers=XAPI,
    ),
    Case(
        "duplicate-keys-make-no-admin",
        "gateway",
        "POST",
        "/admin/clients",
        b'{"client_id": "dup", "name": "dup", "scopes": ["catalog:read"], "scopes": ["admin"]}',
        status=400,
    ),
    Case(
        "duplicate-keys-in-enrolment",
        "records",
        "POST",
        "/v1/enrolments",
        _json(_enrolment(4))[:-1] + b', "hours": 99}',
        status=400,
    ),
    # --- integers and cursors validated before any query ---
    Case(
        "change-feed-after-beyond-bigint",
        "records",
        "GET",
        "/v1/changes?after=9223372036854775808",
        status=422,
    ),
    *[
        Case(
            f"{owner}{path.replace('/', '-')}-cursor-{label}",
            owner,
            "GET",
            f"{path}?cursor={_cursor(key)}",
            status=400,
        )
        for owner, path in (
            ("records", "/v1/enrolments"),
            ("catalog", "/v1/institutions"),
            ("catalog", "/v1/measures"),
            ("gateway", "/admin/audit"),
        )
        for label, key in (
            ("float-1e30", '{"id": 1e30, "code": 1e30, "p": 1e30, "s": 1e30}'),
            ("null", {"id": None, "code": None, "p": None, "s": None}),
            ("sql", {"id": "1 OR 1=1", "code": 7, "p": 7, "s": "x"}),
        )
    ],
    Case(
        "xapi-more-token-a-1e20",
        "records",
        "GET",
        "/xapi/statements?more=" + _cursor('{"p": {}, "a": 1e20, "b": 1}'),
        status=400,
        headers=XAPI,
    ),
    Case(
        "indicator-version-beyond-int32",
        "indicators",
        "GET",
        "/v1/definitions/1.1.1?version=99999999999",
        status=422,
    ),
    # --- oversize values caught by limits that match the columns ---
    Case(
        "xapi-activity-id-of-1-mb",
        "records",
        "POST",
        "/xapi/statements",
        _json(statement(object={"id": "http://example.lv/" + "a" * 1_000_000})),
        status=400,
        headers=XAPI,
    ),
    Case(
        "aggregation-filter-of-100000-institutions",
        "records",
        "POST",
        "/v1/aggregations/query",
        _json({"metric": "people", "filter": {"institutions": [f"I{n}" for n in range(100_000)]}}),
        status=422,
        mentions="institutions",
    ),
    # --- unknown things are not found, not an outage ---
    Case("unknown-plan-progress", "indicators", "GET", "/v1/plan/progress?plan=NOPE", status=404),
    # --- paths the gateway cannot forward ---
    Case("proxied-form-feed", "catalog", "GET", "/v1/courses/%0C", direct=False, status=400),
    Case("proxied-soh", "records", "GET", "/v1/hr/%01/updates", direct=False, status=400),
    Case("proxied-double-slash", "records", "GET", "//v1/changes", direct=False, status=400),
    Case(  # audited (a write): the audit log stores the path without its NUL
        "proxied-nul-in-a-write",
        "catalog",
        "POST",
        "/v1/courses/%00/archive",
        status=400,
        direct=False,
    ),
]
