"""The records-import command against the app: batches, rejects file, resume without duplicates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from learning_records.importer import core as importer_core
from learning_records.importer.cli import main
from learning_records.importer.core import run_import


class Interrupting:
    """Wraps the test client: the chosen call raises, before or after the server has answered."""

    def __init__(self, client: TestClient, fail_on_call: int, after_send: bool) -> None:
        self.client, self.fail_on_call, self.after_send, self.calls = (
            client,
            fail_on_call,
            after_send,
            0,
        )

    def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        self.calls += 1
        if self.calls == self.fail_on_call and not self.after_send:
            raise KeyboardInterrupt
        response = self.client.post(*args, **kwargs)
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        return response

    def __enter__(self) -> Interrupting:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


def _csv(path: Path, make_code: Callable[[int], str], rows: int) -> Path:
    lines = ["source_system,external_id,personal_code,course_code,status,completed_on,hours"]
    for n in range(rows):
        code = make_code(n) if n % 10 != 3 else "123"
        lines.append(f'mps,r{n},{code},"INTEG-E",completed,2024-03-01,{n % 7}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(client: TestClient, headers: dict[str, str]) -> int:
    total, cursor = 0, None
    while True:
        page = client.get(
            "/v1/enrolments",
            params={"limit": 500, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        ).json()
        total += len(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return total


@pytest.mark.parametrize("after_send", [False, True], ids=["before-send", "after-send"])
def test_interrupted_import_resumes_without_duplicates(
    client: TestClient,
    writer: dict[str, str],
    make_code: Callable[[int], str],
    tmp_path: Path,
    after_send: bool,
) -> None:
    source = _csv(tmp_path / "lms.csv", make_code, 50)
    token = writer["Authorization"].removeprefix("Bearer ")
    options: dict[str, Any] = {
        "kind": "enrolments",
        "base_url": "http://testserver",
        "token_provider": lambda: token,
        "batch_size": 7,
        "progress": None,
    }
    with pytest.raises(KeyboardInterrupt):
        run_import(source, client=Interrupting(client, 4, after_send), **options)  # type: ignore[arg-type]
    checkpoint = json.loads((tmp_path / "lms.csv.checkpoint.json").read_text())
    assert checkpoint["rows"] == 21 and not checkpoint["done"]
    stats = run_import(source, client=client, **options)
    assert stats.rows == 50 and stats.resumed_from > 0
    assert stats.counts["rejected"] == 5
    assert stats.counts["accepted"] + stats.counts["unchanged"] == 45
    assert stats.counts["unchanged"] == 0  # a re-sent batch is answered from the stored response
    assert _count(client, writer) == 45
    rejects = [
        json.loads(line) for line in (tmp_path / "lms.csv.rejects.ndjson").read_text().splitlines()
    ]
    assert [r["row"] for r in rejects] == [4, 14, 24, 34, 44]
    assert all(r["reason"].startswith("personal_code:") for r in rejects)
    again = run_import(source, client=client, **options)  # done: nothing sent
    assert again.rows == 50


def test_ndjson_import_through_the_command_line(
    client: TestClient,
    writer: dict[str, str],
    make_code: Callable[[int], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "roster.ndjson"
    source.write_text(
        "".join(
            json.dumps(
                {
                    "source_system": "hr",
                    "external_id": f"e{n}",
                    "personal_code": make_code(n),
                    "institution": "VK",
                    "sector": "state",
                    "valid_from": "2022-01-01",
                }
            )
            + "\n"
            for n in range(12)
        )
    )
    monkeypatch.setattr(httpx, "Client", lambda **_kwargs: client)
    monkeypatch.setenv("RECORDS_IMPORT_TOKEN", writer["Authorization"].removeprefix("Bearer "))
    code = main(
        [
            str(source),
            "--kind",
            "employment",
            "--url",
            "http://testserver",
            "--batch-size",
            "5",
            "--quiet",
        ]
    )
    assert code == 0
    assert "12 rows in 3 batches: 12 accepted" in capsys.readouterr().out


def test_ctrl_c_says_how_to_resume_and_the_checkpoint_names_the_target(
    client: TestClient,
    writer: dict[str, str],
    make_code: Callable[[int], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _csv(tmp_path / "lms.csv", make_code, 30)
    monkeypatch.setenv("RECORDS_IMPORT_TOKEN", writer["Authorization"].removeprefix("Bearer "))
    argv = [str(source), "--kind", "enrolments", "--batch-size", "10", "--quiet"]
    argv += ["--url", "http://testserver/"]
    monkeypatch.setattr(httpx, "Client", lambda **_kwargs: Interrupting(client, 2, False))
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "records-import: interrupted; run again to resume" in err
    assert "KeyboardInterrupt" not in err  # no traceback of the interruption
    checkpoint = json.loads((tmp_path / "lms.csv.checkpoint.json").read_text())
    assert checkpoint["url"] == "http://testserver" and checkpoint["rows"] == 10

    # Resuming against another server would skip the first batch there: refused, nothing sent.
    elsewhere = [*argv[:-1], "http://127.0.0.1:9/records"]
    assert main(elsewhere) == 2
    assert "--url http://testserver" in capsys.readouterr().err

    monkeypatch.setattr(httpx, "Client", lambda **_kwargs: client)
    assert main(argv) == 1  # every tenth row has an invalid personal code
    assert "30 rows in 3 batches: 27 accepted, 0 unchanged, 3 rejected" in capsys.readouterr().out
    assert _count(client, writer) == 27


def test_default_url_is_the_local_gateway_on_gateway_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECORDS_IMPORT_URL", raising=False)
    monkeypatch.setenv("GATEWAY_PORT", "9180")
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "http://127.0.0.1:9180/records" in " ".join(capsys.readouterr().out.split())


def test_a_database_blip_answered_503_is_retried_to_completion(
    client: TestClient,
    writer: dict[str, str],
    make_code: Callable[[int], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's database drops two writes (as a lost connection does): the service answers
    503 with Retry-After, the importer waits at least that long and the import completes."""
    source = _csv(tmp_path / "lms.csv", make_code, 20)
    token = writer["Authorization"].removeprefix("Bearer ")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    driver_error = engine.dialect.loaded_dbapi.OperationalError
    blips = {"left": 2}
    answers: list[int] = []

    def lose_the_connection(*args: Any) -> None:
        statement = str(args[2])
        if blips["left"] and statement.lstrip().upper().startswith("INSERT"):
            blips["left"] -= 1
            raise driver_error("server closed the connection unexpectedly")

    class Recording:
        def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
            response = client.post(*args, **kwargs)
            answers.append(response.status_code)
            if response.status_code == 503:
                assert response.headers["content-type"] == "application/problem+json"
                assert float(response.headers["retry-after"]) >= 1
            return response

    waits: list[float] = []
    monkeypatch.setattr(importer_core, "sleep", waits.append)
    event.listen(engine, "before_cursor_execute", lose_the_connection)
    try:
        stats = run_import(
            source,
            client=Recording(),  # type: ignore[arg-type]
            kind="enrolments",
            base_url="http://testserver",
            token_provider=lambda: token,
            batch_size=5,
            progress=None,
        )
    finally:
        event.remove(engine, "before_cursor_execute", lose_the_connection)
    assert answers.count(503) == 2 and answers[-1] == 200
    assert len(waits) == 2 and all(w >= 1 for w in waits)  # Retry-After honoured
    assert stats.rows == 20
    assert stats.counts["accepted"] == 18 and stats.counts["rejected"] == 2
    assert _count(client, writer) == 18
