"""The strategies' people, learning, HR and engagement indicators, verbatim from seeds 002, 004.

Every Latvian text of the strategy files (goal titles, indicator texts, the "Rezultāts" column,
footnotes) occurs in its seed document (line breaks and hyphenation undone); the API serves the
"Rezultāts" texts and footnotes the loader used to drop.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

SEED_DIR = Path(__file__).resolve().parents[1] / "src" / "catalog" / "seed"
DOCUMENTS = Path(__file__).resolve().parents[3].parent / "shared" / "seeds"
FILES = {
    "strategy_vk_2025_2029.json": "002_d1c01627a5716afa.txt",
    "strategy_lm_2024_2027.json": "004_b709c0abc84ebe87.txt",
}


def _normal(text: str) -> str:
    text = re.sub(r"(?<=\w)-[ \t]*\n\s*", "", text)  # a word hyphenated at a line's end
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s*/\s*", "/", text)


def _latvian_texts(strategy: dict[str, Any]) -> list[str]:
    found = [f["lv"] for f in strategy.get("footnotes", [])]
    for goal in strategy["goals"]:
        found.append(goal["title"]["lv"])
        for indicator in goal["indicators"]:
            found.append(indicator["text"]["lv"])
            if indicator.get("result"):
                found.append(indicator["result"]["lv"])
    return found


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_latvian_text_occurs_in_the_seed_with_a_translation(name: str) -> None:
    document = DOCUMENTS / FILES[name]
    if not document.exists():
        pytest.skip(f"{document} is not on this machine")
    seed = _normal(document.read_text(encoding="utf-8"))
    strategy = json.loads((SEED_DIR / name).read_text(encoding="utf-8"))
    missing = [t for t in _latvian_texts(strategy) if _normal(t) not in seed]
    assert missing == []
    for goal in strategy["goals"]:
        for indicator in goal["indicators"]:
            assert indicator["text"]["en"], indicator["code"]
            assert not indicator.get("result") or indicator["result"]["en"], indicator["code"]


def test_people_hr_and_engagement_indicators_are_held() -> None:
    codes = {
        name: {
            i["code"]
            for g in json.loads((SEED_DIR / name).read_text(encoding="utf-8"))["goals"]
            for i in g["indicators"]
        }
        for name in FILES
    }
    # 002: the engagement-survey questions on processes (M2.9) and the innovation posts (M2.2)
    assert {"M2.2.1", "M2.9.4", "M2.9.5", "M2.9.6", "M2.3.8", "M2.1.4"} <= codes[
        "strategy_vk_2025_2029.json"
    ]
    assert len(codes["strategy_vk_2025_2029.json"]) == 28
    # 004: new forms of cooperation (goal 4) and the survey question of goal 5
    assert {"1.1", "1.2", "2.2", "4.1", "5.3", "10.2"} <= codes["strategy_lm_2024_2027.json"]
    assert len(codes["strategy_lm_2024_2027.json"]) == 12


def test_results_and_footnotes_are_served(seeded: TestClient, reader: dict[str, str]) -> None:
    first_year = seeded.get("/v1/indicators/2.2", params={"plan": "LM-2024-2027"}, headers=reader)
    assert first_year.status_code == 200, first_year.text
    assert first_year.json()["result"]["lv"] == "Samazinās jaunpieņemto darbinieku mainība"
    cooperation = seeded.get(
        "/v1/indicators/4.1", params={"plan": "LM-2024-2027"}, headers=reader
    ).json()
    assert cooperation["result"]["lv"] == "Ieviestas jaunas sadarbības formas"
    vk = seeded.get("/v1/plans/VK-2025-2029", headers=reader).json()
    assert [f["marker"] for f in vk["footnotes"]] == ["3", "4"]
    assert vk["footnotes"][0]["lv"].startswith("Valsts pārvaldes darbinieku iesaistīšanās aptauja")
    national = seeded.get("/v1/plans/LAP-2021-2027", headers=reader).json()
    assert [f["marker"] for f in national["footnotes"]][:2] == ["*", "**"]
    decisions = seeded.get(
        "/v1/indicators/M2.9.4", params={"plan": "VK-2025-2029"}, headers=reader
    ).json()
    assert [(y["year"], y["kind"], y["value"]) for y in decisions["yearly"]] == [
        (2024, "baseline", 61),
        (2025, "target", 61),
        (2026, "not_measured", None),
        (2027, "target", 65),
        (2028, "target", 70),
        (2029, "not_measured", None),
    ]
