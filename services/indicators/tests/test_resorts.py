"""Resorts from the catalog's parent links: a ministry or an institution others are placed under
(the State Chancellery) heads its own resort, so its own staff count in it (1.5.2)."""

from __future__ import annotations

import asyncio
from datetime import date

from indicators.definitions.spec import DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute, resort_of, with_resorts
from indicators.sources.memory import Employment, Enrolment, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target

# As the catalog serves them: `resort` holds the catalog's `parent`.
SERVED = [
    InstitutionInfo(code="VK", sector="state", kind="other"),
    InstitutionInfo(code="VAS", sector="state", kind="subordinate", resort="VK"),
    InstitutionInfo(code="KNAB", sector="state", kind="other", resort="VK"),
    InstitutionInfo(code="FM", sector="state", kind="ministry"),
    InstitutionInfo(code="IUB", sector="state", kind="subordinate", resort="FM"),
    InstitutionInfo(code="IUB-X", sector="state", kind="subordinate", resort="IUB"),
    InstitutionInfo(code="ALONE", sector="state", kind="other"),
    InstitutionInfo(code="ORPHAN", sector="state", kind="subordinate", resort="GONE"),
    InstitutionInfo(code="PS-RIGA", sector="municipal", kind="municipality"),
]


def test_each_institution_gets_the_head_of_its_resort() -> None:
    found = with_resorts(SERVED)
    assert {code: resort_of(i) for code, i in found.items()} == {
        "VK": "VK",  # heads the resort others are placed under
        "VAS": "VK",
        "KNAB": "VK",
        "FM": "FM",
        "IUB": "FM",
        "IUB-X": "FM",  # the top of the chain, not the direct parent
        "ALONE": "-",  # neither a ministry nor anyone's parent
        "ORPHAN": "GONE",  # a parent the catalog does not list is kept
        "PS-RIGA": "-",
    }
    assert with_resorts(found.values()) == found  # resolving again changes nothing


def test_the_chancellerys_own_expert_covers_its_resort() -> None:
    def job(person: str, institution: str) -> Employment:
        return Employment(
            person=person,
            institution=institution,
            valid_from=date(2020, 1, 1),
            valid_to=None,
            sector="state",
            roles=frozenset(),
        )

    records = MemoryRecords(
        employments=[job("p1", "VK"), job("p2", "IUB")],
        institutions=SERVED,
        enrolments=[
            Enrolment(person=p, course="PROC", status="completed", status_date=date(2023, 5, 1))
            for p in ("p1", "p2")
        ],
    )
    spec = DefinitionSpec.model_validate(
        {
            "kind": "coverage_per_resort",
            "filter": {"courses": ["PROC"]},
            "coverage": {"per_unit_min": 1, "institution_set": {"sectors": ["state"]}},
        }
    )
    indicator = IndicatorInfo(
        code="1.5.2", title="t", priority="1", measure="1.5", deadline_year=2023,
        target=Target(kind="coverage_per_resort"),
    )  # fmt: skip
    result = asyncio.run(
        compute(
            "1.5.2",
            spec,
            1,
            indicator,
            Params(as_of=date(2024, 12, 31)),
            records,
            Dataset(institutions=with_resorts(SERVED)),
        )
    )
    covered = {r.key: r.value for r in result.breakdowns[0].rows}
    assert covered == {"FM": 1, "GONE": 0, "VK": 1}
    assert (result.numerator, result.denominator) == (2, 3)
