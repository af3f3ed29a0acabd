"""Building institutions' worlds for the HR views: catalog copy entries and written records."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from learning_records.people.pseudonyms import synthetic_personal_code
from learning_records.reference.service import apply_changes
from pilnveide_kit.db import session_scope

FRAMEWORK = {
    "code": "FW",
    "version": 1,
    "archived": False,
    "levels": [{"level": n, "title": {"lv": f"L{n}"}} for n in range(1, 6)],
    "competencies": [
        {
            "code": "AREA",
            "kind": "area",
            "title": {"lv": "Joma"},
            "children": [
                {"code": "C1", "title": {"lv": "Pirmā"}, "children": []},
                {"code": "C2", "title": {"lv": "Otrā"}, "children": []},
            ],
        }
    ],
    "requirements": [
        {"position_group": "all_positions", "competency": None, "level": 2},
        {"position_group": "analysts", "competency": "C1", "level": 4},
    ],
}
RULES = [
    {
        "code": "INDUCTION",
        "version": 1,
        "archived": False,
        "title": {"lv": "Ievadmācības", "en": "Induction"},
        "courses": ["IND"],
        "audience": {"everyone": True},
        "within_days_of_start": 180,
        "effective_from": "2021-01-01",
        "requires_passed_test": False,
    },
    {
        "code": "INTEGRITY",
        "version": 1,
        "archived": False,
        "title": {"lv": "Integritāte"},
        "courses": ["INT"],
        "audience": {"civil_servants": True},
        "within_days_of_start": None,
        "effective_from": None,
        "requires_passed_test": True,
    },
]
COURSES = [
    {"code": code, "version": 1, "title": {"lv": title, "en": None}}
    for code, title in (("IND", "Ievadkurss"), ("INT", "Integritātes e-mācības"), ("C", "Kurss"))
]


def load_catalog_copy(engine: Engine, *, framework: dict[str, Any] | None = None) -> None:
    """The catalog copy: one framework, two mandatory learning rules and the courses."""
    changes: list[dict[str, Any]] = []
    entries = [("framework", framework or FRAMEWORK)]
    entries += [("mandatory_learning", r) for r in RULES]
    entries += [("course", c) for c in COURSES]
    for n, (entity, snapshot) in enumerate(entries, start=1):
        changes.append(
            {"id": n, "entity": entity, "entity_code": snapshot["code"], "snapshot": snapshot}
        )
    with session_scope(engine) as session:
        apply_changes(session, changes)


def code(number: int) -> str:
    """A synthetic personal code."""
    return synthetic_personal_code(number)


class World:
    """Writes one institution's records through its own restricted client."""

    def __init__(self, client: TestClient, headers: dict[str, str], institution: str) -> None:
        self.client, self.headers, self.institution = client, headers, institution
        self.hr = f"hr-{institution.lower()}"
        self.count = 0

    def write(self, kind: str, **item: Any) -> None:
        """One item of a kind, with a fresh source id unless given."""
        self.count += 1
        body = {
            "source_system": self.hr,
            "external_id": f"{kind}-{self.count}",
            "institution": self.institution,
            **item,
        }
        answer = self.client.post(f"/v1/{kind}", json=body, headers=self.headers)
        assert answer.status_code == 201, answer.text

    def employee(
        self, number: int, *, start: str, group: str | None = None, **employment: Any
    ) -> str:
        """A person with an HR link (`emp-<n>`) and a current employment; their pseudonym."""
        person = {"personal_code": code(number)}
        self.write("people", **person, external_id=f"emp-{number}", display_name=f"P{number}")
        self.write(
            "employment",
            **person,
            external_id=f"job-{number}",
            sector="state",
            position_group=group,
            valid_from=start,
            **employment,
        )
        found = self.client.post(
            "/v1/people/lookup", json={"personal_code": code(number)}, headers=self.headers
        )
        assert found.status_code == 200, found.text
        return str(found.json()["pseudonym"])
