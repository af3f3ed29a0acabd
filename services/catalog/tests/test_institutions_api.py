"""Institutions over HTTP: filters, versioned writes guarded by If-Match, bulk upsert."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pilnveide_kit.testing import TokenFactory

NEW = {
    "code": "VDI",
    "name": {"lv": "Valsts darba inspekcija", "en": "State Labour Inspectorate"},
    "kind": "subordinate",
    "sector": "state",
    "parent": "LM",
}


def test_filters_by_kind_sector_and_resort(seeded: TestClient, reader: dict[str, str]) -> None:
    def codes(**params: str) -> set[str]:
        body = seeded.get("/v1/institutions", params={**params, "limit": "500"}, headers=reader)
        assert body.status_code == 200, body.text
        return {i["code"] for i in body.json()["data"]}

    assert {"FM", "TM", "IEM", "VARAM", "ĀM", "EM", "IZM", "KM"} <= codes(kind="ministry")
    assert codes(parent="FM") >= {"IUB", "CFLA"}
    assert codes(kind="university") == {"RTU", "LU"}
    assert all(c not in codes(sector="state") for c in ("RTU", "LU"))
    assert "VK" in codes(q="kanceleja")


def test_create_change_and_archive_with_etags(seeded: TestClient, writer: dict[str, str]) -> None:
    created = seeded.post("/v1/institutions", json=NEW, headers=writer)
    assert created.status_code == 201, created.text
    first_etag = created.headers["etag"]
    assert created.json()["version"] == 1

    missing = seeded.patch("/v1/institutions/VDI", json={"sector": "other"}, headers=writer)
    assert missing.status_code == 428
    changed = seeded.patch(
        "/v1/institutions/VDI",
        json={
            "name": {"lv": "Valsts darba inspekcija", "en": "State Labour Inspectorate of Latvia"}
        },
        headers={**writer, "If-Match": first_etag},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] != first_etag
    stale = seeded.patch(
        "/v1/institutions/VDI", json={"sector": "other"}, headers={**writer, "If-Match": first_etag}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == changed.headers["etag"]
    now = seeded.get("/v1/institutions/VDI", headers=writer).json()
    assert now["sector"] == "state" and now["name"]["en"] == "State Labour Inspectorate of Latvia"

    archived = seeded.post(
        "/v1/institutions/VDI/archive", headers={**writer, "If-Match": changed.headers["etag"]}
    )
    assert archived.status_code == 200 and archived.json()["archived"] is True
    listed = seeded.get("/v1/institutions", params={"parent": "LM"}, headers=writer).json()["data"]
    assert "VDI" not in {i["code"] for i in listed}
    history = seeded.get(
        "/v1/changes", params={"entity": "institution", "code": "VDI"}, headers=writer
    ).json()["data"]
    assert [(c["version"], c["operation"], c["client_id"]) for c in history] == [
        (1, "create", "editor-app"),
        (2, "update", "editor-app"),
        (3, "archive", "editor-app"),
    ]


def test_bulk_upsert_is_idempotent_by_code(seeded: TestClient, writer: dict[str, str]) -> None:
    registry = [
        NEW,
        {
            "code": "RIGA",
            "name": {"lv": "Rīgas valstspilsētas pašvaldība", "en": "Riga City Municipality"},
            "kind": "municipality",
            "sector": "municipal",
        },
        {
            "code": "VK",
            "name": {"lv": "Valsts kanceleja", "en": "State Chancellery"},
            "kind": "other",
            "sector": "state",
        },
    ]
    first = seeded.post("/v1/institutions/bulk", json={"institutions": registry}, headers=writer)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0, "unchanged": 1}
    changes = len(seeded.get("/v1/changes", params={"limit": 500}, headers=writer).json()["data"])
    again = seeded.post("/v1/institutions/bulk", json={"institutions": registry}, headers=writer)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 3}
    assert (
        len(seeded.get("/v1/changes", params={"limit": 500}, headers=writer).json()["data"])
        == changes
    )
    renamed = [{**registry[1], "name": {"lv": "Rīgas pašvaldība", "en": "Riga Municipality"}}]
    third = seeded.post("/v1/institutions/bulk", json={"institutions": renamed}, headers=writer)
    assert third.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert seeded.get("/v1/institutions/RIGA", headers=writer).json()["version"] == 2


def test_bad_input_is_refused_naming_the_field(seeded: TestClient, writer: dict[str, str]) -> None:
    wrong_kind = seeded.post("/v1/institutions", json={**NEW, "kind": "agency"}, headers=writer)
    assert wrong_kind.status_code == 422
    assert [e["name"] for e in wrong_kind.json()["errors"]] == ["kind"]
    orphan = seeded.post(
        "/v1/institutions/bulk",
        json={"institutions": [NEW, {**NEW, "code": "X1", "parent": "NOPE"}]},
        headers=writer,
    )
    assert orphan.status_code == 422
    assert orphan.json()["field"] == "institutions.1.parent"
    assert seeded.get("/v1/institutions/VDI", headers=writer).status_code == 404  # nothing kept
    duplicate = seeded.post(
        "/v1/institutions", json={**NEW, "code": "VK", "parent": None}, headers=writer
    )
    assert duplicate.status_code == 409


def test_writes_need_catalog_write(
    seeded: TestClient, reader: dict[str, str], tokens: TokenFactory
) -> None:
    assert seeded.post("/v1/institutions", json=NEW, headers=reader).status_code == 403
    assert seeded.post("/v1/institutions", json=NEW).status_code == 401
