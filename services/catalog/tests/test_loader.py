"""The loader: a second run changes nothing; a changed file becomes a new plan version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from catalog.changes.models import ChangeRecord
from catalog.loader.run import SEED_DIR, load_all
from catalog.models import metadata
from catalog.plans.models import Indicator, Plan

PLAN = "LAP-2021-2027"


def _row_counts(app: FastAPI) -> dict[str, int]:
    with Session(app.state.engine) as session:
        return {
            table.name: int(session.exec(select(func.count()).select_from(table)).one())  # type: ignore[call-overload]
            for table in metadata.sorted_tables
        }


def _plan_state(app: FastAPI) -> tuple[int, str]:
    with Session(app.state.engine) as session:
        plan = session.exec(select(Plan).where(Plan.code == PLAN)).one()
        return plan.version, plan.sha256


def test_a_second_load_changes_nothing(client: TestClient, app: FastAPI) -> None:
    first = load_all(app.state.engine)
    assert {r.status for r in first} == {"created"}
    counts, state = _row_counts(app), _plan_state(app)
    assert counts["indicator"] >= 71 and counts["measure"] == 23
    second = load_all(app.state.engine)
    assert {r.status for r in second} == {"unchanged"}
    assert _row_counts(app) == counts
    assert _plan_state(app) == state


def test_a_changed_file_becomes_a_new_version(
    client: TestClient, app: FastAPI, tmp_path: Path
) -> None:
    seeds = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seeds)
    load_all(app.state.engine, seeds)
    before = _row_counts(app)
    plan_file = seeds / "plan_2021_2027.json"
    data = json.loads(plan_file.read_text())
    indicator = data["priorities"][0]["measures"][0]["indicators"][0]
    indicator["text"]["en"] = "Civil servants in mandatory integrity training (revised wording)"
    data["priorities"][4]["measures"][-1]["indicators"].pop()  # 5.5.2 dropped by the review
    plan_file.write_text(json.dumps(data, ensure_ascii=False))

    results = {r.name: r.status for r in load_all(app.state.engine, seeds)}
    assert results["plan_2021_2027.json"] == "updated"
    assert results["learning_offer.json"] == "unchanged"
    version, _sha = _plan_state(app)
    assert version == 2
    after = _row_counts(app)
    assert after["indicator"] == before["indicator"] - 1
    assert after["measure"] == before["measure"]
    assert after["plan_version"] == before["plan_version"] + 1
    with Session(app.state.engine) as session:
        changed = session.exec(
            select(Indicator).where(Indicator.plan_code == PLAN, Indicator.code == "1.1.1")
        ).one()
        assert changed.text_en == "Civil servants in mandatory integrity training (revised wording)"
        assert changed.text_lv.startswith("Ierēdņu skaits")
        assert (
            session.exec(
                select(Indicator).where(Indicator.plan_code == PLAN, Indicator.code == "5.5.2")
            ).first()
            is None
        )
        # the plan's institutions did not change, so no institution change was recorded again
        creates = session.exec(
            select(func.count())
            .select_from(ChangeRecord)
            .where(ChangeRecord.entity == "institution")  # type: ignore[arg-type]
        ).one()
        assert creates == before["institution"]


def test_plan_versions_are_served(
    client: TestClient, app: FastAPI, tmp_path: Path, reader: dict[str, str]
) -> None:
    seeds = tmp_path / "seed"
    shutil.copytree(SEED_DIR, seeds)
    load_all(app.state.engine, seeds)
    plan_file = seeds / "plan_2021_2027.json"
    data = json.loads(plan_file.read_text())
    data["title"]["en"] += " (reviewed)"
    plan_file.write_text(json.dumps(data, ensure_ascii=False))
    load_all(app.state.engine, seeds)
    page = client.get(f"/v1/plans/{PLAN}/versions", headers=reader).json()
    assert (page["count"], page["next_cursor"]) == (2, None)
    versions = page["data"]
    assert [v["version"] for v in versions] == [1, 2]
    first = client.get(f"/v1/plans/{PLAN}/versions", params={"limit": 1}, headers=reader).json()
    assert [v["version"] for v in first["data"]] == [1] and first["count"] == 2
    rest = client.get(
        f"/v1/plans/{PLAN}/versions", params={"cursor": first["next_cursor"]}, headers=reader
    ).json()
    assert [v["version"] for v in rest["data"]] == [2] and rest["next_cursor"] is None
    assert versions[0]["sha256"] != versions[1]["sha256"]
    assert versions[1]["source_file"] == "plan_2021_2027.json"
    plan = client.get(f"/v1/plans/{PLAN}", headers=reader).json()
    assert (plan["version"], plan["sha256"]) == (2, versions[1]["sha256"])
    assert plan["title"]["en"].endswith("(reviewed)")


def test_load_command_is_idempotent(
    app: FastAPI, client: TestClient, database_url: str, capsys: object, monkeypatch: object
) -> None:
    """`catalog load` through the CLI, twice, against the test database."""
    from catalog.cli import main

    monkeypatch.setenv("CATALOG_DATABASE_URL", database_url)  # type: ignore[attr-defined]
    main(["load"])
    main(["load"])
    lines = capsys.readouterr().out.splitlines()  # type: ignore[attr-defined]
    files = len(lines) // 2
    assert all("created" in line for line in lines[:files])
    assert all("unchanged" in line for line in lines[files:])
