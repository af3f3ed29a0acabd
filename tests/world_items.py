"""Institution A's (VK) and B's (FM) records, as each writes them through its own client.

People links with display names, employment with roles, enrolments, test results, certificates,
feedback, competency assessments and headcounts. One person works in both (each side holds its
own records of them). Used by tests/worlds.py, which builds the stack and writes them.
"""

from __future__ import annotations

from typing import Any

from learning_records.people.pseudonyms import synthetic_personal_code

A, B = "VK", "FM"
A_CODE, SHARED_CODE, B_CODE = (synthetic_personal_code(n) for n in (101, 102, 103))
WRITER_SCOPES = "records:read records:write"
#: Every indicators scope B could hold (admin for explain; the writes are still refused).
INDICATOR_SCOPES = "indicators:read indicators:write admin"
#: The measure A's and B's courses are tagged to, and the indicator that counts its learners.
MEASURE_TAG, INDICATOR = "measure:1.6", "1.6.1"

#: Strings that occur only in A's records: none may reach B in any answer.
A_MARKERS = (
    "hr-vk",
    "lms-vk",
    "vk-emp",
    "Anna Avotiņa",
    "Sandra Ābele",
    "VK-ONLY",
    "vk-analysts",
    "vk-trust",
    "VK-CERT",
    "vk-framework",
    "vk-competency",
)


def a_items() -> dict[str, list[dict[str, Any]]]:
    """A's world, by write kind (every item names A's institution)."""
    a = {"personal_code": A_CODE, "institution": A}
    shared = {"personal_code": SHARED_CODE, "institution": A}
    lms = {"source_system": "lms-vk"}
    return {
        "people": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-1",
                **a,
                "display_name": "Anna Avotiņa",
            },
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-2",
                **shared,
                "display_name": "Sandra Ābele",
            },
        ],
        "employment": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-1-job",
                **a,
                "sector": "state",
                "position_group": "vk-analysts",
                "valid_from": "2020-01-01",
                "roles": [{"role": "vk-trust-person"}],
            },
            {
                "source_system": "hr-vk",
                "external_id": "vk-emp-2-job",
                **shared,
                "sector": "state",
                "valid_from": "2020-01-01",
                "valid_to": "2024-06-30",
            },
        ],
        "enrolments": [
            {
                **lms,
                "external_id": "vk-enr-1",
                **a,
                "course_code": "VK-ONLY-101",
                "status": "completed",
                "completed_on": "2024-03-01",
                "hours": 8,
            },
            {
                **lms,
                "external_id": "vk-enr-2",
                **shared,
                "course_code": "VK-ONLY-101",
                "status": "completed",
                "completed_on": "2024-04-01",
                "hours": 8,
            },
        ],
        "results": [
            {
                **lms,
                "external_id": "vk-test-1",
                **a,
                "course_code": "VK-ONLY-101",
                "attempted_on": "2024-03-01",
                "passed": True,
                "score": 90,
            }
        ],
        "certificates": [
            {
                **lms,
                "external_id": "vk-cert-1",
                **a,
                "course_code": "VK-ONLY-101",
                "certificate_number": "VK-CERT-0001",
                "issued_on": "2024-03-02",
            }
        ],
        "feedback": [
            {
                **lms,
                "external_id": "vk-fb-1",
                **a,
                "course_code": "VK-ONLY-101",
                "kind": "immediate",
                "submitted_on": "2024-03-02",
                "rating": 5,
            }
        ],
        "assessments": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-assess-1",
                **a,
                "framework": "vk-framework",
                "competency": "vk-competency",
                "level": 4,
                "method": "manager",
                "assessed_on": "2024-02-01",
            }
        ],
        "headcounts": [
            {
                "source_system": "hr-vk",
                "external_id": "vk-hc-2024",
                "institution": A,
                "sector": "state",
                "as_of": "2024-01-01",
                "headcount": 400,
            }
        ],
    }


def b_items() -> dict[str, list[dict[str, Any]]]:
    """B's world: its own employee, and its own records of the person both institutions employ."""
    b = {"personal_code": B_CODE, "institution": B}
    shared = {"personal_code": SHARED_CODE, "institution": B}
    return {
        "people": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-1",
                **b,
                "display_name": "Bruno Kalniņš",
            },
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-2",
                **shared,
                "display_name": "S. Ā. (FM)",
            },
        ],
        "employment": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-1-job",
                **b,
                "sector": "state",
                "valid_from": "2021-01-01",
            },
            {
                "source_system": "hr-fm",
                "external_id": "fm-emp-2-job",
                **shared,
                "sector": "state",
                "valid_from": "2024-07-01",
            },
        ],
        "enrolments": [
            {
                "source_system": "lms-fm",
                "external_id": "fm-enr-1",
                **b,
                "course_code": "FM-COURSE-1",
                "status": "completed",
                "completed_on": "2024-05-01",
                "hours": 4,
            }
        ],
        "headcounts": [
            {
                "source_system": "hr-fm",
                "external_id": "fm-hc-2024",
                "institution": B,
                "sector": "state",
                "as_of": "2024-01-01",
                "headcount": 55,
            }
        ],
    }
