"""The plan as data over HTTP: counts, deadlines, exact texts, structured and yearly targets.

Expected values were read in ../shared/seeds/001_54f0f7c72769cbd2.txt (annex 2),
002_d1c01627a5716afa.txt (State Chancellery 2025-2029) and 004_b709c0abc84ebe87.txt
(Ministry of Welfare 2024-2027), not copied from the data file under test.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pilnveide_kit.pagination import MAX_LIMIT
from pilnveide_kit.testing import TokenFactory

PLAN = "LAP-2021-2027"

#: Annex 2, column "Izpildes termiņš", for every measure.
DEADLINES = {
    "1.1": 2026, "1.2": 2023, "1.3": 2027, "1.4": 2023, "1.5": 2023, "1.6": 2026, "1.7": 2026,
    "2.1": 2024, "2.2": 2027, "2.3": 2024, "2.4": 2027,
    "3.1": 2027, "3.2": 2027, "3.3": 2027, "3.4": 2025,
    "4.1": 2027, "4.2": 2027, "4.3": 2027,
    "5.1": 2027, "5.2": 2025, "5.3": 2027, "5.4": 2026, "5.5": 2027,
}  # fmt: skip


def _all(
    client: TestClient, url: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, params=query, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_plans_lists_the_national_plan_and_two_strategies(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    listed = seeded.get("/v1/plans", headers=reader).json()
    assert listed["count"] == len(listed["data"]) and listed["next_cursor"] is None
    plans = {p["code"]: p for p in listed["data"]}
    national = plans[PLAN]
    assert (national["priorities"], national["measures"], national["indicators"]) == (5, 23, 71)
    assert national["period"] == {"start": 2021, "end": 2027}
    strategies = [p for p in plans.values() if p["kind"] == "institution_strategy"]
    assert {
        (p["owner_institution"], p["period"]["start"], p["period"]["end"]) for p in strategies
    } == {
        ("VK", 2025, 2029),
        ("LM", 2024, 2027),
    }
    assert all(p["indicators"] > 0 for p in strategies)


def test_every_measure_has_the_deadline_of_annex_2(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    measures = _all(seeded, "/v1/measures", reader, plan=PLAN, limit=7)
    assert [m["code"] for m in measures] == list(DEADLINES)
    assert {m["code"]: m["deadline_year"] for m in measures} == DEADLINES


def test_five_priorities_with_their_funding(seeded: TestClient, reader: dict[str, str]) -> None:
    priorities = seeded.get("/v1/priorities", params={"plan": PLAN}, headers=reader).json()["data"]
    assert [p["code"] for p in priorities] == ["1", "2", "3", "4", "5"]
    assert priorities[0]["title"]["lv"] == "Godprātīgs darbs publiskajā pārvaldē"
    assert priorities[3]["title"]["lv"] == "Digitālā transformācija un datu pratība"
    amounts = [p["funding"]["indicative_amount_eur"] for p in priorities]
    assert amounts == [2_000_000, 4_000_000, 2_000_000, 8_200_000, 4_000_000]
    assert priorities[0]["measures"] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"]


def test_measure_1_1_as_written_with_its_institutions(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    body = seeded.get("/v1/measures/1.1", headers=reader).json()
    assert body["text"]["lv"].startswith(
        "Iedzīvināt valsts pārvaldes vērtības un ētikas pamatprincipus, veidojot kopīgu"
    )
    assert body["deadline_year"] == 2026
    roles = body["institutions"]
    assert [i["code"] for i in roles["responsible"]] == ["VK", "VAS"]
    assert roles["responsible"][0]["name"]["lv"] == "Valsts kanceleja"
    assert [i["code"] for i in roles["co_responsible"]][:2] == ["FM", "KNAB"]
    assert body["indicators"] == ["1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5", "1.1.6"]
    first = body["indicator_details"][0]
    assert first["text"]["lv"] == (
        "Ierēdņu skaits, kuri ir piedalījušies obligātajās mācībās ar zināšanu pārbaudēm par "
        "integritātes jautājumiem."
    )
    assert any("Nodrošināta zināšanu pārbaude." in r["lv"] for r in body["results"])


def test_exact_latvian_texts_of_a_sample_of_indicators(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    expected = {
        "1.5.2": "Katrā resorā ir apmācīts iepirkumu eksperts, kurš sniedz atbalstu citiem resora speciālistiem.",
        "1.5.1": "Zināšanas ir apguvuši vismaz 80 % no iepirkumu speciālistu kopējā skaita.",
        "4.1.2": "Izveidots un sagatavots digitālo aģentu, iekšējo treneru un mentoru tīkls.",
        "3.4.1": "Izveidota un apmācīta pārmaiņu vadības grupa.",
    }
    for code, text in expected.items():
        body = seeded.get(f"/v1/indicators/{code}", headers=reader).json()
        assert body["text"]["lv"].rstrip(".") == text.rstrip("."), code
        assert body["text"]["en"], code


def test_structured_targets_as_the_plan_states_them(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    def target(code: str) -> dict[str, Any]:
        body = seeded.get(f"/v1/indicators/{code}", headers=reader).json()
        assert body["target_kind"] == body["target"]["kind"]
        return dict(body["target"])

    procurement = target("1.5.1")
    assert (procurement["kind"], procurement["value"], procurement["unit"]) == (
        "min_share",
        80,
        "percent",
    )
    assert procurement["population"]["role"] == "procurement_specialist"
    trainers = target("2.1.2")
    assert (trainers["kind"], trainers["min"], trainers["max"]) == ("range", 20, 30)
    whistle = target("1.2.1")
    assert (
        whistle["kind"],
        whistle["value"],
        whistle["per_year_min"],
        whistle["per_year_max"],
    ) == (
        "frequency",
        150,
        1,
        2,
    )
    trust = target("1.1.4")
    assert (trust["kind"], trust["per_institution_min"], trust["total_min"]) == (
        "coverage_per_institution",
        1,
        200,
    )
    assert target("1.5.2")["kind"] == "coverage_per_resort"
    top = target("1.3.1")
    assert (top["kind"], top["value"]) == ("min_count", 300)
    assert target("3.1.1")["value"] == 80
    assert target("3.2.1")["value"] == 50
    assert target("1.7.2")["kind"] == "milestone"
    assert target("1.1.1")["kind"] == "count"


def test_annex_5_planned_trainees_and_truncation(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    annex = seeded.get(f"/v1/plans/{PLAN}", headers=reader).json()["annex5"]
    assert annex["source_truncated"] is True
    trainees = {t["priority"]: t["count"] for t in annex["planned_trainees"]}
    assert trainees == {1: 21_400, 2: 21_700, 3: 21_400}


def _series(
    seeded: TestClient, reader: dict[str, str], plan: str, code: str
) -> list[tuple[Any, ...]]:
    body = seeded.get(f"/v1/indicators/{code}", params={"plan": plan}, headers=reader).json()
    return [(y["year"], y["kind"], y["value"], y["direction"]) for y in body["yearly"]]


def test_state_chancellery_yearly_targets(seeded: TestClient, reader: dict[str, str]) -> None:
    plans = seeded.get("/v1/plans", params={"kind": "institution_strategy"}, headers=reader).json()[
        "data"
    ]
    vk = next(p["code"] for p in plans if p["owner_institution"] == "VK")
    growth = seeded.get(
        "/v1/indicators", params={"plan": vk, "q": "savā darbā aug un attīstās"}, headers=reader
    ).json()["data"]
    assert len(growth) == 1
    years = {y["year"]: y for y in growth[0]["yearly"]}
    assert (years[2024]["kind"], years[2024]["value"]) == ("baseline", 54)
    assert [years[y]["value"] for y in (2025, 2027, 2028)] == [60, 65, 70]
    assert years[2026]["kind"] == years[2029]["kind"] == "not_measured"
    maps = seeded.get(
        "/v1/indicators", params={"plan": vk, "q": "karjeras un izaugsmes kartes"}, headers=reader
    ).json()["data"]
    assert [y["value"] for y in maps[0]["yearly"] if y["kind"] == "target"] == [10, 20, 30, 55, 70]
    turnover = seeded.get(
        "/v1/indicators", params={"plan": vk, "q": "mainības rādītājs"}, headers=reader
    ).json()["data"]
    series = [(y["year"], y["value"], y["direction"]) for y in turnover[0]["yearly"]]
    assert series[:3] == [(2024, 15, None), (2025, 12, "<="), (2026, 10, "<=")]
    relative = seeded.get(
        "/v1/indicators",
        params={"plan": vk, "q": "noturības rādītājs pirmajā darba gadā"},
        headers=reader,
    ).json()["data"][0]
    assert relative["baseline"]["year"] == 2025
    assert next(
        (y["value"], y["relative_to_baseline"]) for y in relative["yearly"] if y["kind"] == "target"
    ) == (5, True)


def test_ministry_of_welfare_yearly_targets(seeded: TestClient, reader: dict[str, str]) -> None:
    plans = seeded.get("/v1/plans", params={"kind": "institution_strategy"}, headers=reader).json()[
        "data"
    ]
    lm = next(p["code"] for p in plans if p["owner_institution"] == "LM")
    found = seeded.get(
        "/v1/indicators", params={"plan": lm, "q": "nepārsniedz 11 %"}, headers=reader
    ).json()["data"]
    assert len(found) == 1
    avoidable = found[0]
    assert (avoidable["baseline"]["year"], avoidable["baseline"]["value"]) == (2023, 10)
    assert {(y["year"], y["value"], y["direction"]) for y in avoidable["yearly"]} == {
        (year, 11, "<=") for year in (2024, 2025, 2026, 2027)
    }
    first_year = seeded.get(
        "/v1/indicators", params={"plan": lm, "q": "pirmā gada mainības"}, headers=reader
    ).json()["data"][0]
    assert first_year["baseline"]["value"] == 28
    assert {y["value"] for y in first_year["yearly"]} == {25}


def test_filters_combine(seeded: TestClient, reader: dict[str, str]) -> None:
    def codes(url: str, **params: Any) -> list[str]:
        return [m["code"] for m in _all(seeded, url, reader, **params)]

    assert codes("/v1/measures", plan=PLAN, priority="3") == ["3.1", "3.2", "3.3", "3.4"]
    assert codes("/v1/measures", plan=PLAN, deadline_year=2023) == ["1.2", "1.4", "1.5"]
    assert "1.4" in codes("/v1/measures", plan=PLAN, responsible="TM")
    assert codes("/v1/measures", plan=PLAN, responsible="VARAM", priority="4")[0] == "4.1"
    assert codes("/v1/indicators", plan=PLAN, measure="1.1") == [f"1.1.{n}" for n in range(1, 7)]
    shares = codes("/v1/indicators", plan=PLAN, target_kind="min_share")
    assert {"1.2.2", "1.5.1", "3.1.1", "3.2.1"} <= set(shares)
    assert codes("/v1/indicators", plan=PLAN, target_kind="range") == ["2.1.2"]


def test_search_in_latvian_and_english_ignoring_case_and_diacritics(
    seeded: TestClient, reader: dict[str, str]
) -> None:
    def codes(q: str) -> set[str]:
        return {m["code"] for m in _all(seeded, "/v1/measures", reader, plan=PLAN, q=q)}

    assert "1.5" in codes("IEPIRKUMU")
    assert "1.5" in codes("procurement")
    assert "1.1" in codes("integritates")  # integritātes without diacritics
    assert codes("zzz-nothing-like-this") == set()


def test_pagination_is_stable_and_complete(seeded: TestClient, reader: dict[str, str]) -> None:
    everything = _all(seeded, "/v1/indicators", reader, limit=9)
    keys = [(i["plan"], i["code"]) for i in everything]
    assert len(keys) == len(set(keys))
    national = [c for p, c in keys if p == PLAN]
    assert len(national) == 71
    assert national[:7] == ["1.1.1", "1.1.2", "1.1.3", "1.1.4", "1.1.5", "1.1.6", "1.2.1"]
    assert national[-1] == "5.5.2"
    single = seeded.get("/v1/indicators", params={"limit": 500}, headers=reader).json()["data"]
    assert [(i["plan"], i["code"]) for i in single] == keys


def test_page_size_over_the_cap_is_refused(seeded: TestClient, reader: dict[str, str]) -> None:
    response = seeded.get("/v1/measures", params={"limit": MAX_LIMIT + 1}, headers=reader)
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "limit"


def test_unknown_codes_are_404_problems(seeded: TestClient, reader: dict[str, str]) -> None:
    for url in ("/v1/measures/9.9", "/v1/indicators/1.1.99", "/v1/plans/NOPE", "/v1/priorities/8"):
        response = seeded.get(url, headers=reader)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/problem+json"
    assert seeded.get("/v1/measures", params={"plan": "NOPE"}, headers=reader).status_code == 404


def test_accept_language_chooses_one_language(seeded: TestClient, tokens: TokenFactory) -> None:
    headers = tokens.headers("catalog:read")
    english = seeded.get(
        "/v1/measures/1.5", headers={**headers, "Accept-Language": "en-GB, lv;q=0.5"}
    )
    assert english.headers["content-language"] == "en"
    assert isinstance(english.json()["text"], str)
    assert "procurement" in english.json()["text"].lower()
    latvian = seeded.get("/v1/measures/1.5", headers={**headers, "Accept-Language": "lv"}).json()
    assert (
        latvian["text"]
        == "Uzlabot iepirkumu sagatavošanu un īstenošanu efektīvai Kohēzijas politikas īstenošanai"
    )
    both = seeded.get("/v1/measures/1.5", headers=headers).json()
    assert set(both["text"]) == {"lv", "en"}


def test_reading_needs_a_token_with_catalog_read(seeded: TestClient, tokens: TokenFactory) -> None:
    assert seeded.get("/v1/measures").status_code == 401
    forbidden = seeded.get("/v1/measures", headers=tokens.headers("records:read"))
    assert forbidden.status_code == 403
    assert forbidden.json()["missing_scopes"] == ["catalog:read"]
