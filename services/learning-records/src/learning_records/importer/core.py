"""The importer: batches of lines from a file, posted with stable Idempotency-Keys, checkpointed.

Each batch is sent with an Idempotency-Key derived from its own bytes, and the checkpoint (byte
offset of the next batch) is written only after the server answered. After an interruption the
importer resumes at the checkpoint; a batch the server stored but the importer never heard
about is sent again with the same key and answered from the server's stored response.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

CONTENT_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
RETRY_STATUSES = {429, 502, 503, 504}


class ImportFailed(RuntimeError):
    """The server refused a batch for a reason retrying cannot fix."""


@dataclass
class ImportStats:
    """Totals of an import run (including batches done before a resume)."""

    rows: int = 0
    batches: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"accepted": 0, "unchanged": 0, "rejected": 0, "conflict": 0}
    )
    resumed_from: int = 0


@dataclass(frozen=True)
class Batch:
    """Lines of the file (after the CSV header) from start to end byte offsets."""

    start: int
    end: int
    first_row: int
    lines: list[bytes]


def detect_format(path: Path, explicit: str | None) -> str:
    """csv or ndjson, from --format or the file's extension."""
    if explicit:
        return explicit
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    if suffix == ".csv":
        return "csv"
    raise ValueError("cannot tell the format from the extension; pass --format csv|ndjson")


def read_batches(
    path: Path, fmt: str, batch_size: int, start: int, first_row: int
) -> tuple[bytes, Iterator[Batch]]:
    """The CSV header (empty for NDJSON) and the batches from a byte offset on."""
    handle = path.open("rb")
    header = b""
    if fmt == "csv":
        header = _logical_line(handle)
    offset = max(start, handle.tell())
    handle.seek(offset)

    def batches() -> Iterator[Batch]:
        nonlocal offset
        row = first_row
        with handle:
            while True:
                begin, lines = offset, list[bytes]()
                while len(lines) < batch_size:
                    line = _logical_line(handle)
                    if not line:
                        break
                    if line.strip():
                        lines.append(line)
                offset = handle.tell()
                if not lines:
                    return
                yield Batch(begin, offset, row, lines)
                row += len(lines)

    return header, batches()


def _logical_line(handle: Any) -> bytes:
    # A CSV field in quotes may hold a line break: keep reading until the quotes balance.
    line: bytes = handle.readline()
    while line and line.count(b'"') % 2 == 1:
        more = handle.readline()
        if not more:
            break
        line += more
    return line


class Checkpoint:
    """Where to resume: the file's identity and the byte offset of the next batch."""

    def __init__(self, path: Path, source: Path, kind: str, url: str) -> None:
        self.path = path
        self.url = url
        stat = source.stat()
        self.identity = {"file": str(source.resolve()), "size": stat.st_size, "kind": kind}

    def load(self) -> dict[str, Any] | None:
        """The saved state if it belongs to this file and kind."""
        if not self.path.exists():
            return None
        state = json.loads(self.path.read_text())
        if {k: state.get(k) for k in self.identity} != self.identity:
            raise ImportFailed(
                f"{self.path} belongs to another file or kind; delete it to start over"
            )
        if state.get("url", self.url) != self.url:
            # Resuming against another server would skip the rows sent to the first one.
            raise ImportFailed(
                f"{self.path} records an import to {state['url']}; pass --url {state['url']} "
                "to resume it, or delete the checkpoint to start over"
            )
        return dict(state)

    def save(self, offset: int, stats: ImportStats, done: bool = False) -> None:
        """Write the state atomically (a crash mid-write leaves the previous one)."""
        state = {
            **self.identity,
            "url": self.url,
            "offset": offset,
            "rows": stats.rows,
            "batches": stats.batches,
            "counts": stats.counts,
            "done": done,
        }
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.path)


class Progress:
    """A one-line progress bar on a terminal stream (no extra dependency)."""

    def __init__(self, total_bytes: int, stream: TextIO | None, start_bytes: int = 0) -> None:
        self.total = max(total_bytes, 1)
        self.stream = stream
        self.started = time.monotonic()
        self.start_bytes = start_bytes

    def update(self, done_bytes: int, stats: ImportStats, rows_this_run: int) -> None:
        """Redraw the bar."""
        if self.stream is None:
            return
        share = min(done_bytes / self.total, 1.0)
        filled = int(share * 30)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = rows_this_run / elapsed
        c = stats.counts
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%} {stats.rows:>10,} rows "
            f"{rate:>9,.0f}/s  accepted {c['accepted']:,} unchanged {c['unchanged']:,} "
            f"rejected {c['rejected']:,} conflict {c['conflict']:,}"
        )
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def run_import(
    source: Path,
    *,
    kind: str,
    base_url: str,
    token_provider: Callable[[], str],
    client: httpx.Client,
    fmt: str | None = None,
    batch_size: int = 5000,
    rejects: Path | None = None,
    checkpoint: Path | None = None,
    mode: str = "per_item",
    progress: TextIO | None = sys.stderr,
    retries: int = 5,
) -> ImportStats:
    """Send a file's rows in batches; rejected rows go to the rejects file; resumable."""
    fmt = detect_format(source, fmt)
    rejects = rejects or source.with_name(source.name + ".rejects.ndjson")
    marker = Checkpoint(
        checkpoint or source.with_name(source.name + ".checkpoint.json"),
        source,
        kind,
        base_url.rstrip("/"),
    )
    state = marker.load()
    stats = ImportStats()
    offset, first_row = 0, 1
    if state is not None:
        if state.get("done"):
            stats.rows, stats.batches = state["rows"], state["batches"]
            stats.counts.update(state["counts"])
            return stats
        offset, first_row = int(state["offset"]), int(state["rows"]) + 1
        stats.rows, stats.batches, stats.resumed_from = state["rows"], state["batches"], offset
        stats.counts.update(state["counts"])
    else:
        rejects.unlink(missing_ok=True)
    header, batches = read_batches(source, fmt, batch_size, offset, first_row)
    bar = Progress(source.stat().st_size, progress, offset)
    url = f"{base_url.rstrip('/')}/v1/{kind}/bulk"
    rows_this_run = 0
    with rejects.open("ab") as rejected_out:
        for batch in batches:
            body = header + b"".join(
                line if line.endswith(b"\n") else line + b"\n" for line in batch.lines
            )
            report = _send(client, url, body, fmt, kind, mode, token_provider, retries)
            for outcome in report["items"]:
                line = batch.lines[outcome["index"]].decode("utf-8", "replace").rstrip("\r\n")
                entry = {
                    "row": batch.first_row + outcome["index"],
                    "status": outcome["status"],
                    "reason": outcome["reason"],
                    "line": line,
                }
                rejected_out.write((json.dumps(entry, ensure_ascii=False) + "\n").encode())
            rejected_out.flush()
            for name, value in report["counts"].items():
                stats.counts[name] = stats.counts.get(name, 0) + int(value)
            stats.rows += len(batch.lines)
            stats.batches += 1
            rows_this_run += len(batch.lines)
            marker.save(batch.end, stats)
            bar.update(batch.end, stats, rows_this_run)
    marker.save(source.stat().st_size, stats, done=True)
    bar.close()
    return stats


def _terminated(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


class RetryableAnswer(Exception):
    """The server answered a status worth retrying (429, 502, 503, 504)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"the server answered {response.status_code}: {response.text[:500]}")
        self.retry_after = retry_after_seconds(response)


#: How the importer waits between attempts (tests record the waits instead).
sleep: Callable[[float], None] = time.sleep
#: Longest wait the importer accepts from a Retry-After (a longer one is shortened to it).
MAX_RETRY_AFTER_S = 60.0


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After of an answer in seconds (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def honour_retry_after(backoff: Callable[[RetryCallState], float]) -> Callable[..., float]:
    """Wait the backoff, or the server's Retry-After when it asks for longer."""

    def wait(state: RetryCallState) -> float:
        delay = backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableAnswer) and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER_S))
        return delay

    return wait


def _send(
    client: httpx.Client,
    url: str,
    body: bytes,
    fmt: str,
    kind: str,
    mode: str,
    token_provider: Callable[[], str],
    retries: int,
) -> dict[str, Any]:
    key = "records-import-" + hashlib.sha256(kind.encode() + b"\n" + body).hexdigest()[:40]

    @retry(
        retry=retry_if_exception_type((httpx.TransportError, RetryableAnswer)),
        stop=stop_after_attempt(retries + 1),
        wait=honour_retry_after(wait_exponential_jitter(multiplier=0.5, max=10.0)),
        sleep=lambda seconds: sleep(seconds),
        reraise=True,
    )
    def attempt() -> dict[str, Any]:
        response = client.post(
            url,
            content=body,
            params={"report": "problems", "mode": mode},
            headers={
                "Content-Type": CONTENT_TYPES[fmt],
                "Authorization": f"Bearer {token_provider()}",
                "Idempotency-Key": key,
            },
        )
        if response.status_code == 200:
            return dict(response.json())
        if response.status_code in RETRY_STATUSES:
            raise RetryableAnswer(response)
        raise ImportFailed(f"the server answered {response.status_code}: {response.text[:500]}")

    try:
        return attempt()
    except RetryableAnswer as exc:
        raise ImportFailed(str(exc)) from exc
