"""The shipped default definitions count what the plan's text says (review of issue 12).

Each test runs the REAL default definition (from defaults/plan_2021_2027.json) through the
engine over a small hand-built set of records whose course tags are the ones the catalog
derives from its learning offer, and shows the reviewer's case counted as the text says.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from indicators.definitions import service as definitions
from indicators.definitions.spec import ENROLMENT_KINDS, DefinitionSpec
from indicators.engine.compute import Dataset, Params, compute
from indicators.engine.results import IndicatorResult
from indicators.sources.memory import Assessment, Employment, Enrolment, Headcount, MemoryRecords
from indicators.sources.types import IndicatorInfo, InstitutionInfo, Target

OFFER = (
    Path(__file__).resolve().parents[2]
    / "catalog"
    / "src"
    / "catalog"
    / "seed"
    / "learning_offer.json"
)

INSTITUTIONS = {
    i.code: i
    for i in [
        InstitutionInfo(code="VK", name="Valsts kanceleja", sector="state", kind="other"),
        InstitutionInfo(code="KNAB", name="KNAB", sector="state", kind="other"),
        InstitutionInfo(code="FM", name="Finanšu ministrija", sector="state", kind="ministry"),
        InstitutionInfo(code="IUB", name="IUB", sector="state", kind="subordinate", resort="FM"),
        InstitutionInfo(code="UNI", name="Universitāte", sector="state", kind="university"),
        InstitutionInfo(code="VPI", name="valsts pārvaldes iestādes", sector="state", kind="group"),
        InstitutionInfo(code="RIGA", name="Rīga", sector="municipal", kind="municipality"),
    ]
}


def offer_tags() -> dict[str, frozenset[str]]:
    """Course code -> the tags the catalog derives for it (see catalog programmes service)."""
    offer = json.loads(OFFER.read_text(encoding="utf-8"))
    found = {}
    for course in offer["courses"]:
        tags = {f"course:{course['code']}", f"format:{course['format']}"}
        if course.get("programme"):
            tags.add(f"programme:{course['programme']}")
        tags |= {f"measure:{m}" for m in course["measures"]}
        tags |= {f"indicator:{i}" for i in course["indicators"]}
        tags |= {f"target_group:{g}" for g in course["target_groups"]}
        if course.get("provider"):
            tags.add(f"provider:{course['provider']}")
        if course["mandatory"]:
            tags.add("mandatory")
        if course["knowledge_test"]:
            tags.add("knowledge_test")
        tags |= set(course["tags"])
        found[course["code"]] = frozenset(tags)
    # A general (not specialised, not mandatory) course of each measure, as VAS offers many.
    for measure in ("1.1", "1.3", "1.4", "3.1", "3.2"):
        found[f"GENERAL-{measure}"] = frozenset({f"measure:{measure}", "format:information_event"})
    return found


TAGS = offer_tags()
DEFAULTS = {item.code: item.spec for item in definitions.default_definitions()[1]}


def job(person: str, institution: str, **kw: Any) -> Employment:
    return Employment(
        person=person,
        institution=institution,
        valid_from=date(2020, 1, 1),
        valid_to=kw.pop("valid_to", None),
        sector=INSTITUTIONS[institution].sector or "state",
        roles=frozenset(kw.pop("roles", ())),
        **kw,
    )


def took(person: str, course: str, day: str = "2024-03-01", status: str = "completed") -> Enrolment:
    return Enrolment(
        person=person,
        course=course,
        status=status,
        status_date=date.fromisoformat(day),
        course_tags=TAGS[course],
    )


def result(
    code: str,
    records: MemoryRecords,
    *,
    as_of: str = "2024-12-31",
    target: Target | None = None,
    deadline: int = 2026,
    spec: DefinitionSpec | None = None,
) -> IndicatorResult:
    records.course_tags = dict(TAGS)
    info = IndicatorInfo(
        code=code,
        title=code,
        measure=code.rsplit(".", 1)[0],
        deadline_year=deadline,
        target=target or Target(),
    )
    records.institutions = records.institutions or list(INSTITUTIONS.values())
    return asyncio.run(
        compute(
            code,
            spec or DEFAULTS[code],
            1,
            info,
            Params(as_of=date.fromisoformat(as_of), detail=False),
            records,
            Dataset(institutions=INSTITUTIONS),
        )
    )


# ---- every computed default says which statuses count ------------------------------------


def test_every_computed_default_has_a_status_rule_and_quotes_its_text() -> None:
    for code, spec in DEFAULTS.items():
        assert spec.text, f"{code} quotes no text"
        if spec.kind in ENROLMENT_KINDS and spec.source == "enrolments":
            assert spec.counts is not None or spec.filter.statuses is not None, code
            statuses = spec.statuses(("completed", "attended", "passed"))
            assert statuses is not None
            assert not {"registered", "no_show", "cancelled"} & set(statuses), code


def test_the_loader_refuses_a_default_without_a_status_rule(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps(
            {
                "plan": "P",
                "definitions": [
                    {"code": "9.9.1", "spec": {"kind": "distinct_people"}},
                    {"code": "9.9.2", "spec": {"kind": "manual"}},
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(definitions.MissingStatusRule, match=r"9\.9\.1"):
        definitions.default_definitions(path)


def test_1_1_6_counts_no_registered_no_show_cancelled_or_failed_enrolment() -> None:
    # "Pašvaldībās nodarbināto skaits, kas ir apmeklējuši mācības": attended.
    records = MemoryRecords(
        employments=[job(p, "RIGA") for p in ("r1", "r2", "r3", "r4", "r5")],
        enrolments=[
            took("r1", "INTEG-E", status="cancelled"),
            took("r2", "INTEG-E", status="no_show"),
            took("r3", "INTEG-E", status="registered"),
            took("r4", "INTEG-E", status="failed"),
        ],
    )
    assert result("1.1.6", records).value == 0  # was 4 before the status rule
    records.enrolments.append(took("r5", "GENERAL-1.1", status="attended"))
    assert result("1.1.6", records).value == 1


def test_a_completed_verb_does_not_count_mere_attendance() -> None:
    # 1.4.2 "apguvuši specializētās mācības": completed, so attended alone is not enough.
    records = MemoryRecords(
        employments=[job("p1", "FM", position_group="policy_planning")],
        enrolments=[took("p1", "INDUCT-LEGAL", status="attended")],
    )
    assert result("1.4.2", records).value == 0
    records.enrolments.append(took("p1", "INDUCT-LEGAL", day="2024-04-01"))
    assert result("1.4.2", records).value == 1


# ---- each mismatch of the review, now counted as the text says ---------------------------


def test_1_1_1_counts_a_civil_servant_who_took_the_mandatory_test_and_failed() -> None:
    # "Ierēdņu skaits, kuri ir piedalījušies obligātajās mācībās ar zināšanu pārbaudēm".
    records = MemoryRecords(
        employments=[
            job("c1", "FM", civil_servant=True),
            job("c2", "FM", civil_servant=True),
            job("c3", "FM", civil_servant=True),
        ],
        enrolments=[
            took("c1", "INTEG-E", status="failed"),  # took part, failed the test: counts
            took("c2", "INTEG-CTRL"),  # no knowledge test, not mandatory: does not
            took("c3", "INTEG-E", status="registered"),  # did not take part
        ],
    )
    assert result("1.1.1", records).value == 1


def test_1_1_2_employees_are_not_the_civil_servants_of_1_1_1() -> None:
    # "Valsts pārvaldes darbinieku skaits" beside "1. Ierēdņu skaits".
    records = MemoryRecords(
        employments=[job("c1", "FM", civil_servant=True), job("d1", "FM")],
        enrolments=[took("c1", "INTEG-E"), took("d1", "INTEG-E")],
    )
    assert result("1.1.1", records).value == 1
    assert result("1.1.2", records).value == 1  # only d1; c1 is counted in 1.1.1


def test_1_1_3_general_integrity_e_learning_is_not_specialised_training() -> None:
    # "… ir piedalījušies specializētajās mācībās" (INTEG-CTRL, flagged `specialised`).
    role = {"roles": ["control_or_service_function"]}
    records = MemoryRecords(
        employments=[job("k1", "FM", **role), job("k2", "IUB", **role)],
        enrolments=[took("k1", "INTEG-E"), took("k1", "INTEG-TRUST"), took("k2", "INTEG-CTRL")],
    )
    assert result("1.1.3", records).value == 1


def test_1_1_4_trust_persons_trained_in_the_trust_person_course_in_every_state_institution() -> (
    None
):
    # "… no katras valsts pārvaldes iestādes, kopā apmācīti vismaz 200": VK and KNAB count in
    # the set (the plan's "valsts pārvaldes iestādes" group entry does not), and only the
    # trust-person course trains a trust person.
    trust = {"roles": ["trust_person"]}
    records = MemoryRecords(
        employments=[job(f"t{code}", code, **trust) for code in ("VK", "KNAB", "FM", "IUB", "UNI")],
        enrolments=[
            took("tVK", "INTEG-TRUST"),
            took("tKNAB", "INTEG-E"),  # general e-learning: not trained as a trust person
            took("tFM", "INTEG-TRUST"),
            took("tIUB", "INTEG-TRUST"),
        ],
    )
    found = result("1.1.4", records, target=Target(kind="coverage_per_institution"))
    assert (found.value, found.denominator) == (3, 4)  # VK, FM, IUB of VK, KNAB, FM, IUB
    assert [s.code for s in found.shortfall] == ["KNAB"]
    assert found.extra["people_total"] == 3


def test_1_2_1_a_person_given_three_events_a_year_was_given_one_or_two() -> None:
    # "150 … nodarbinātajiem nodrošinātas 1-2 mācības gadā".
    role = {"roles": ["whistleblowing_officer"]}
    records = MemoryRecords(
        employments=[job("w1", "FM", **role), job("w2", "RIGA", **role)],
        enrolments=[
            *[took("w1", "WHISTLE-E", day=f"2024-0{m}-10", status="attended") for m in (1, 2, 3)],
            took("w2", "WHISTLE-E", status="no_show"),
        ],
    )
    assert result("1.2.1", records).value == 1  # w1 (3 events); w2's no-show is not an event


def test_1_3_1_counts_senior_officials_who_completed() -> None:
    # "… politiskās amatpersonas, augstākās amatpersonas un augstākā līmeņu vadītāji ir
    # apguvuši zināšanas".
    records = MemoryRecords(
        employments=[
            job("s1", "FM", roles=["senior_official"]),
            job("s2", "FM", roles=["top_manager"]),
        ],
        enrolments=[took("s1", "POLIT-INTRO"), took("s2", "GENERAL-1.3", status="registered")],
    )
    assert result("1.3.1", records).value == 1


def test_1_3_2_only_the_mandatory_induction_counts() -> None:
    # "Obligātās ievada mācības apmeklējušas vismaz 50 amatpersonas" (POLIT-INTRO).
    role = {"roles": ["political_official"]}
    records = MemoryRecords(
        employments=[job("o1", "FM", **role), job("o2", "FM", **role)],
        enrolments=[took("o1", "GENERAL-1.3"), took("o2", "POLIT-INTRO", status="attended")],
    )
    assert result("1.3.2", records).value == 1


def test_1_3_3_only_executive_directors_and_their_deputies() -> None:
    # "Pašvaldību izpilddirektoru un viņu vietnieku skaits".
    records = MemoryRecords(
        employments=[
            job("m1", "RIGA", management_level="top"),
            job("m2", "RIGA", management_level="top", roles=["executive_director"]),
            job("m3", "RIGA", roles=["deputy_executive_director"]),
        ],
        enrolments=[took(p, "GENERAL-1.3", status="attended") for p in ("m1", "m2", "m3")],
    )
    assert result("1.3.3", records).value == 2


def test_1_4_2_general_basics_are_not_the_specialised_policy_maker_training() -> None:
    # "Politisko veidotāju skaits, kuri ir apguvuši specializētās mācības".
    group = {"position_group": "policy_planning"}
    records = MemoryRecords(
        employments=[job("p1", "FM", **group), job("p2", "FM", **group)],
        enrolments=[took("p1", "INDUCT-STATE"), took("p2", "INDUCT-LEGAL")],
    )
    assert result("1.4.2", records).value == 1


def test_2_1_1_the_denominator_is_direct_state_administration() -> None:
    # "Apmācīti 30 % no valsts tiešajā pārvaldē nodarbinātajiem": a state university's staff
    # are neither in the denominator nor in the numerator.
    records = MemoryRecords(
        employments=[job("f1", "FM"), job("u1", "UNI")],
        enrolments=[
            Enrolment("f1", "SPRINT", "completed", date(2024, 3, 1), frozenset({"measure:2.1"})),
            Enrolment("u1", "SPRINT", "completed", date(2024, 3, 1), frozenset({"measure:2.1"})),
        ],
        headcount_rows=[
            Headcount("FM", date(2024, 1, 1), 4),
            Headcount("UNI", date(2024, 1, 1), 6),
        ],
    )
    found = result("2.1.1", records, target=Target(kind="share", value=30))
    assert (found.numerator, found.denominator, found.value) == (1, 4, 25.0)


def test_2_1_2_more_trainers_than_the_range_is_not_achieved() -> None:
    # "Apmācīti 20 līdz 30 aktīvie treneri": 35 is outside the range.
    trainers = [f"t{i}" for i in range(35)]
    records = MemoryRecords(
        employments=[job(t, "FM", roles=["internal_trainer"]) for t in trainers],
        enrolments=[
            Enrolment(t, "TTT", "completed", date(2024, 3, 1), frozenset({"measure:2.1"}))
            for t in trainers
        ],
    )
    found = result("2.1.2", records, target=Target(kind="range", min=20, max=30))
    assert (found.value, found.status) == (35, "above_range")


def test_3_1_1_counts_assessments_not_registrations_for_the_assessment_course() -> None:
    # "Vismaz 80 % augstākā līmeņa vadītāju ir veikuši kompetenču novērtēšanu atbilstoši
    # kompetenču ietvaram": the stored competency assessments, by others (not a self-check).
    records = MemoryRecords(
        employments=[job(p, "FM", roles=["top_manager"]) for p in ("a1", "a2", "a3", "a4")],
        enrolments=[took("a1", "LEAD-TOP-ASSESS", status="registered")],
        assessments=[
            Assessment("a2", "LEAD-TOP-FW", "360", date(2024, 4, 1)),
            Assessment("a2", "LEAD-TOP-FW", "360", date(2024, 4, 1), competency="C2"),
            Assessment("a3", "DIGCOMP-2.2", "self", date(2024, 4, 1)),  # a digital self-check
            Assessment("a4", "LEAD-TOP-FW", "manager", date(2025, 2, 1)),  # after the as-of
        ],
        headcount_rows=[Headcount("FM", date(2024, 1, 1), 4, role="top_manager")],
    )
    found = result("3.1.1", records)
    assert (found.numerator, found.denominator, found.value) == (1, 4, 25.0)
    assert result("3.1.1", records, as_of="2025-12-31").numerator == 2


def test_3_1_3_municipal_information_events_are_not_the_leadership_programme() -> None:
    # "Augstākā līmeņa vadītāju skaits, kuri piedalījušies Publiskās pārvaldes līderības
    # mācību programmā"; the municipal information events are 3.1.4.
    top = {"management_level": "top"}
    records = MemoryRecords(
        employments=[job("m1", "RIGA", **top), job("s1", "FM", **top)],
        enrolments=[took("m1", "GENERAL-3.1", status="attended"), took("s1", "LEAD-TOP-M1")],
    )
    assert result("3.1.3", records).value == 1
    assert result("3.1.4", records).value == 1


def test_3_2_1_programme_participation_is_not_a_competency_assessment() -> None:
    # "Vismaz 50 % vidējā un zemākā līmeņa vadītāju … ir veikuši kompetenču novērtēšanu".
    records = MemoryRecords(
        employments=[
            job("v1", "FM", roles=["middle_manager"]),
            job("v2", "FM", roles=["lower_manager"]),
        ],
        enrolments=[took("v1", "LEAD-MID-M1"), took("v2", "LEAD-MID-M1")],
        headcount_rows=[
            Headcount("FM", date(2024, 1, 1), 1, role="middle_manager"),
            Headcount("FM", date(2024, 1, 1), 1, role="lower_manager"),
        ],
    )
    assert result("3.2.1", records).value == 0  # was 100 %: any LEAD-MID enrolment counted
    records.assessments.append(Assessment("v2", "LEAD-MID-FW", "manager", date(2024, 6, 1)))
    assert result("3.2.1", records).value == 50


def test_3_2_3_one_module_is_not_the_whole_programme() -> None:
    # "Vidējā un zemākā līmeņa vadītāju skaits, kuri apguvuši moduļu mācību programmu".
    middle = {"management_level": "middle"}
    records = MemoryRecords(
        employments=[job("v1", "FM", **middle), job("v2", "FM", **middle)],
        enrolments=[
            took("v1", "LEAD-MID-M1"),
            took("v2", "LEAD-MID-M1"),
            took("v2", "LEAD-MID-M2", status="attended"),
        ],
    )
    assert result("3.2.3", records).value == 0
    records.enrolments.append(took("v2", "LEAD-MID-M2", day="2024-06-01"))
    assert result("3.2.3", records).value == 1
    # Completed after the as-of date: not yet the whole programme then.
    assert result("3.2.3", records, as_of="2024-05-31").value == 0


# ---- time ----------------------------------------------------------------------------------


def test_a_target_met_after_its_deadline_is_achieved_late() -> None:
    # 1.3.2 "vismaz 50": the 50th official attends in 2025, after the 2024 deadline.
    role = {"roles": ["political_official"]}
    people = [f"o{i}" for i in range(50)]
    records = MemoryRecords(
        employments=[job(p, "FM", **role) for p in people],
        enrolments=[
            took(p, "POLIT-INTRO", day="2025-02-01" if p == "o0" else "2024-02-01") for p in people
        ],
    )
    target = Target(kind="min_count", value=50)
    assert result("1.3.2", records, as_of="2024-12-31", target=target, deadline=2024).status == (
        "at_risk"
    )
    late = result("1.3.2", records, as_of="2025-12-31", target=target, deadline=2024)
    assert (late.value, late.status) == (50, "achieved_late")
    on_time = result("1.3.2", records, as_of="2025-12-31", target=target, deadline=2025)
    assert on_time.status == "achieved"


def test_events_and_tests_after_the_as_of_date_do_not_count() -> None:
    spec = DefinitionSpec.model_validate(
        {"kind": "distinct_people", "counts": "attended", "filter": {"test_passed": True}}
    )
    records = MemoryRecords(
        employments=[job("e1", "FM"), job("e2", "FM")],
        enrolments=[
            Enrolment(
                "e1",
                "INTEG-E",
                "completed",
                date(2024, 3, 1),
                TAGS["INTEG-E"],
                test_passed=True,
                test_passed_on=date(2025, 1, 10),  # passed on a retake after the as-of date
            ),
            took("e2", "INTEG-E", day="2025-01-05"),  # completed after the as-of date
        ],
    )
    assert result("1.1.1", records, spec=spec, as_of="2024-12-31").value == 0
    assert result("1.1.1", records, spec=spec, as_of="2025-12-31").value == 1


def test_a_years_share_counts_people_in_the_role_they_held_that_year() -> None:
    # 1.5.1 per year: s1 was a procurement specialist in 2023 (and learnt then), not in 2024.
    records = MemoryRecords(
        employments=[
            job("s1", "FM", roles=["procurement_specialist"], valid_to=date(2023, 12, 31)),
            Employment("s1", "FM", date(2024, 1, 1), roles=frozenset()),
            job("s2", "FM", roles=["procurement_specialist"]),
        ],
        enrolments=[took("s1", "PROC-CORE", day="2023-05-01")],
        headcount_rows=[
            Headcount("FM", date(2023, 1, 1), 2, role="procurement_specialist"),
            Headcount("FM", date(2024, 1, 1), 1, role="procurement_specialist"),
        ],
    )
    records.course_tags = dict(TAGS)
    info = IndicatorInfo(code="1.5.1", measure="1.5", deadline_year=2026)
    found = asyncio.run(
        compute(
            "1.5.1",
            DEFAULTS["1.5.1"],
            1,
            info,
            Params(as_of=date(2024, 12, 31), breakdowns=("year",)),
            records,
            Dataset(institutions=INSTITUTIONS),
        )
    )
    years = {p.year: (p.numerator, p.denominator) for p in found.per_year}
    assert years[2023] == (1, 2)  # was 0: s1's role was read as of 2024
    assert years[2024] == (0, 1)
    assert found.numerator == 0  # today s1 is no procurement specialist


def test_5_1_3_the_network_is_the_trainers_and_mentors_holding_the_role() -> None:
    # "Iekšējo treneru un mentoru tīkls": the role holders HR reports, not learners.
    records = MemoryRecords(
        headcount_rows=[
            Headcount("FM", date(2024, 1, 1), 3, role="internal_trainer"),
            Headcount("IUB", date(2024, 1, 1), 2, role="mentor"),
            Headcount("FM", date(2025, 1, 1), 9, role="internal_trainer"),  # after the as-of
            Headcount("FM", date(2024, 1, 1), 40),  # everyone, not the network
        ],
    )
    found = result("5.1.3", records, target=Target(kind="milestone"))
    assert (found.value, found.status) == (5, "achieved")
    empty = result("5.1.3", MemoryRecords(), target=Target(kind="milestone"))
    assert (empty.value, empty.status) == (0, "on_track")


def test_2_2_4_and_2_4_1_count_the_sprints_and_events_that_took_place() -> None:
    # "Īstenoto sprintu skaits VK Inovācijas laboratorijā"; "… inovācijas laboratorijas
    # pasākumu skaits": distinct runs (sessions) with someone who attended.
    def sprint(person: str, session: str, status: str = "attended") -> Enrolment:
        return Enrolment(
            person, "INNO-SPRINT", status, date(2024, 3, 1), TAGS["INNO-SPRINT"], session=session
        )

    other_sprint = frozenset({"format:sprint", "provider:LIAA"})
    records = MemoryRecords(
        employments=[job(p, "FM") for p in ("a", "b", "c")],
        enrolments=[
            sprint("a", "S1"),
            sprint("b", "S1", status="completed"),  # the same sprint: counted once
            sprint("c", "S2"),
            sprint("a", "S3", status="no_show"),  # nobody came: did not take place
            sprint("b", "S3", status="cancelled"),
            Enrolment("c", "LIAA-SPRINT", "attended", date(2024, 4, 1), other_sprint, session="L1"),
        ],
    )
    assert result("2.2.4", records).value == 2
    assert result("2.4.1", records).value == 2
