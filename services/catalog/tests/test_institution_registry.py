"""The institution registry covers the plan's population: every ministry, VK heading its own
resort with KNAB and PKC in it, and the 43 municipalities; loading it again changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from catalog.loader.run import SEED_DIR, load_all

REGISTRY = "institutions_registry.json"


def _seeded_institutions(seed_dir: Path = SEED_DIR) -> dict[str, dict[str, Any]]:
    """Every institution the seed files name, by code (the plan's and the registry's)."""
    plan = json.loads((seed_dir / "plan_2021_2027.json").read_text())
    registry = json.loads((seed_dir / REGISTRY).read_text())
    found = {i["code"]: i for i in plan["institutions"]}
    overlap = found.keys() & {i["code"] for i in registry["institutions"]}
    assert not overlap, f"both seed files name {sorted(overlap)}"
    found.update({i["code"]: i for i in registry["institutions"]})
    return found


def _served(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    body = client.get("/v1/institutions", params={**params, "limit": "500"}, headers=headers)
    assert body.status_code == 200, body.text
    return {i["code"]: i for i in body.json()["data"]}


def test_the_seed_names_its_sources_and_the_plans_population() -> None:
    registry = json.loads((SEED_DIR / REGISTRY).read_text())
    assert registry["source"]["lv"] and registry["source"]["en"]
    seeded = _seeded_institutions()
    ministries = {c for c, i in seeded.items() if i["kind"] == "ministry"}
    # the 14 ministries of Latvia (since KEM was established on 1 January 2023)
    assert ministries == {
        "AM", "ĀM", "EM", "FM", "IEM", "IZM", "KEM", "KM", "LM", "SM", "TM", "VARAM", "VM", "ZM"
    }  # fmt: skip
    municipalities = [i for i in seeded.values() if i["kind"] == "municipality"]
    assert len(municipalities) == 43
    assert all(i["sector"] == "municipal" and i["parent"] is None for i in municipalities)
    cities = [i for i in municipalities if "valstspilsētas" in i["name"]["lv"]]
    assert len(cities) == 7
    # VK heads the Prime Minister's resort; KNAB and PKC are placed in it with their sources
    assert seeded["VK"]["parent"] is None
    for code in ("VAS", "KNAB", "PKC"):
        assert seeded[code]["parent"] == "VK", code
    assert seeded["KNAB"]["source"]["lv"] and seeded["PKC"]["source"]["lv"]


def test_the_loaded_registry_serves_every_seeded_institution(
    client: TestClient, app: FastAPI, reader: dict[str, str]
) -> None:
    load_all(app.state.engine)
    seeded = _seeded_institutions()
    served = _served(client, reader)
    assert served.keys() == seeded.keys()
    for code, entry in seeded.items():
        got = served[code]
        assert (got["kind"], got["sector"], got["parent"]) == (
            entry["kind"],
            entry["sector"],
            entry["parent"],
        ), code
    assert _served(client, reader, kind="municipality").keys() == {
        c for c, i in seeded.items() if i["kind"] == "municipality"
    }
    assert _served(client, reader, parent="VK").keys() == {"VAS", "KNAB", "PKC"}


def test_a_second_load_changes_nothing_and_a_changed_entry_updates(
    client: TestClient, app: FastAPI, tmp_path: Path, reader: dict[str, str]
) -> None:
    seeds = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seeds)
    load_all(app.state.engine, seeds)
    before = _served(client, reader)
    again = {r.name: r.status for r in load_all(app.state.engine, seeds)}
    assert set(again.values()) == {"unchanged"}
    assert _served(client, reader) == before

    path = seeds / REGISTRY
    data = json.loads(path.read_text())
    entry = next(i for i in data["institutions"] if i["code"] == "PS-RIGA")
    entry["name"]["en"] = "Riga City Council"
    path.write_text(json.dumps(data, ensure_ascii=False))
    results = {r.name: r.status for r in load_all(app.state.engine, seeds)}
    assert results[REGISTRY] == "updated"
    assert results["plan_2021_2027.json"] == "unchanged"
    after = _served(client, reader)
    assert after["PS-RIGA"]["name"]["en"] == "Riga City Council"
    assert after["PS-RIGA"]["version"] == before["PS-RIGA"]["version"] + 1
    unchanged = {c: i for c, i in after.items() if c != "PS-RIGA"}
    assert unchanged == {c: i for c, i in before.items() if c != "PS-RIGA"}
