"""Sessions, readiness, SQLite concurrency and pagination of the kit."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from pilnveide_kit.db import make_engine
from pilnveide_kit.pagination import MAX_LIMIT
from pilnveide_kit.settings import ServiceSettings
from pilnveide_kit.testing import temporary_database
from sample_service.app import create_app, migrations  # type: ignore[import-not-found]


def test_readyz_ok_when_migrated(client: TestClient) -> None:
    assert client.get("/readyz").json()["checks"] == {"database": "ok", "migrations": "at head"}


def test_readyz_503_when_database_is_gone(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path, "gone") as url:
        settings = ServiceSettings(service_name="sample", database_url=url)
        app = create_app(settings)
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/readyz").status_code == 200
            app.state.engine.dispose()
            if backend == "sqlite":
                # A database file that cannot be opened: its folder is a regular file.
                (tmp_path / "afile").write_text("")
                app.state.engine = create_engine(f"sqlite:///{tmp_path}/afile/x.db")
            else:
                app.state.engine = make_engine(url.rsplit("/", 1)[0] + "/no_such_database_xyz")
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["checks"]["database"].startswith("unreachable")
            assert client.get("/healthz").status_code == 200


def test_readyz_503_when_migrations_behind(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path, "behind") as url:
        settings = ServiceSettings(service_name="sample", database_url=url, migrate_on_start=False)
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["migrations"] == "behind head"
            migrations.upgrade(url)
            assert client.get("/readyz").status_code == 200


def test_concurrent_sqlite_writers_never_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/concurrent.db"
    migrations.upgrade(url)
    engine = make_engine(url, busy_timeout_ms=30_000)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with engine.begin() as connection:
                    count = connection.execute(text("SELECT count(*) FROM note")).scalar_one()
                    connection.execute(
                        text("INSERT INTO note (text) VALUES (:t)"), {"t": f"{n}-{i}-{count}"}
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM note")).scalar_one() == 200
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_cursor_pagination_walks_every_row_once(client: TestClient) -> None:
    for i in range(7):
        assert client.post("/notes", json={"text": f"n{i}"}).status_code == 201
    seen, cursor = [], None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/notes", params=params).json()
        assert page["count"] == 7, "every page counts the whole list"
        seen += [n["text"] for n in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"n{i}" for i in range(7)]


def test_page_size_over_the_cap_is_refused(client: TestClient) -> None:
    response = client.get("/notes", params={"limit": MAX_LIMIT + 1})
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "limit"


def test_garbage_cursor_is_400(client: TestClient) -> None:
    response = client.get("/notes", params={"cursor": "!!!not-a-cursor"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_concurrent_http_writers_all_succeed(backend: str, tmp_path: Path) -> None:
    """Many clients writing at once through a real server: no 'database is locked' 500s."""
    import asyncio

    import httpx

    from pilnveide_kit.testing import serve_in_thread

    with temporary_database(backend, tmp_path, "http") as url:
        app = create_app(ServiceSettings(service_name="sample", database_url=url))
        with serve_in_thread(app) as base_url:

            async def hammer() -> list[int]:
                async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
                    answers = await asyncio.gather(
                        *(http.post("/notes", json={"text": f"t{i}"}) for i in range(60))
                    )
                return [a.status_code for a in answers]

            statuses = asyncio.run(hammer())
            assert statuses == [201] * 60
            with httpx.Client(base_url=base_url) as http:
                texts = {
                    n["text"] for n in http.get("/notes", params={"limit": 100}).json()["data"]
                }
            assert texts == {f"t{i}" for i in range(60)}
