"""A bounded schemathesis run against the gateway's merged /openapi.json with an admin token.

Every failure of the chosen checks (default: a 5xx answer or an answer that violates its
documented schema) fails the run, except those in a tolerated category. The categories name the
hostile inputs of issue 13 that are being made 4xx on another branch (NUL bytes, lone
surrogates, deep JSON, huge integers, tampered cursors, invalid proxied paths): they are
reported one by one, so nothing hides, and fail the run once removed from the tolerated list
(PILNVEIDE_FUZZ_TOLERATE, comma-separated; empty tolerates nothing).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

CHECKS = os.environ.get("PILNVEIDE_FUZZ_CHECKS", "not_a_server_error,response_schema_conformance")
#: Categories reported without failing the run (see the module's docstring).
DEFAULT_TOLERATED = "network-error"
#: Operations never fuzzed: they would lock the fuzzer's own admin client out.
EXCLUDED_OPERATIONS = ("deactivate_client", "rotate_client_secret", "change_client")
MAX_TIME_S = int(os.environ.get("PILNVEIDE_FUZZ_MAX_TIME_S", "150"))

_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf][\x80-\xbf]")
_NUMBER = re.compile(rb"(?<![\w.])-?\d{19,}(?![\w.])")
_BIGINT_MAX = 2**63 - 1
_CURSOR_PARAMS = ("cursor", "after", "more")


def tolerated() -> set[str]:
    """The categories that are reported but do not fail the run."""
    raw = os.environ.get("PILNVEIDE_FUZZ_TOLERATE", DEFAULT_TOLERATED)
    return {c.strip() for c in raw.split(",") if c.strip()}


@dataclass
class Finding:
    """One failed check on one generated request."""

    operation: str
    check: str
    status: int | None
    request: str
    category: str
    detail: str

    def describe(self) -> str:
        """One readable paragraph."""
        status = self.status if self.status is not None else "no answer"
        return (
            f"[{self.category}] {self.operation}: {self.check} ({status})\n"
            f"      {self.request[:400]}\n      {self.detail[:400]}"
        )


def _depth(body: bytes) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        char = chr(byte)
        if in_string:
            escaped = not escaped and char == "\\"
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _huge_int(data: bytes) -> bool:
    return any(abs(int(m.group())) > _BIGINT_MAX for m in _NUMBER.finditer(data))


def categorise(check: str, uri: str, body: bytes) -> str:
    """Which known hostile input a request that got a 5xx carries ("other" when none, and for
    every other check: the known inputs are about server errors)."""
    if check != "not_a_server_error":
        return "other"
    parts = urlsplit(uri)
    path, query = unquote_to_bytes(parts.path), unquote_to_bytes(parts.query)
    everything = path + b"?" + query + b" " + body
    if b"\x00" in everything or b"\\u0000" in body:
        return "nul"
    if _SURROGATE.search(everything):
        return "surrogate"
    if _depth(body) > 64:
        return "deep-json"
    if any(b < 0x20 or b == 0x7F for b in path) or "//" in parts.path.lstrip("/"):
        return "proxy-path"
    if _huge_int(query) or _huge_int(body):
        return "huge-int"
    if any(re.search(rf"(^|&){name}=[^&]", parts.query) for name in _CURSOR_PARAMS):
        return "cursor"
    return "other"


def _body(request: dict[str, Any]) -> bytes:
    body = request.get("body")
    if isinstance(body, dict) and "$base64" in body:
        return base64.b64decode(body["$base64"])
    if isinstance(body, dict) and "string" in body:
        return str(body["string"]).encode("utf-8", "surrogatepass")
    if isinstance(body, str):
        return body.encode("utf-8", "surrogatepass")
    return b""


def _content(response: dict[str, Any]) -> str:
    content = response.get("content")
    if isinstance(content, dict) and "$base64" in content:
        return base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    return str(content or "")


def findings(ndjson: Path) -> Iterator[Finding]:
    """The failed checks of a schemathesis NDJSON event stream, and its non-fatal errors."""
    for line in ndjson.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if "NonFatalError" in event:
            error = event["NonFatalError"]
            yield Finding(
                operation=str(error.get("label", "?")),
                check="network error",
                status=None,
                request="",
                category="network-error",
                detail=json.dumps(error.get("value", error))[:400],
            )
            continue
        finished = event.get("ScenarioFinished")
        if not finished or finished.get("status") != "failure":
            continue
        recorder = finished["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            interaction = recorder.get("interactions", {}).get(case_id, {})
            request = interaction.get("request", {})
            response = interaction.get("response") or {}
            body = _body(request)
            method, uri = str(request.get("method", "")), str(request.get("uri", ""))
            for check in checks:
                if check.get("status") != "failure":
                    continue
                failure = (check.get("failure_info") or {}).get("failure", {})
                detail = f"{failure.get('title', '')}: {failure.get('message', '')}".strip(": ")
                detail = " ".join(detail.split())
                yield Finding(
                    operation=str(recorder.get("label", "?")),
                    check=str(check.get("name")),
                    status=response.get("status_code"),
                    request=f"{method} {uri} {body[:200]!r}" if body else f"{method} {uri}",
                    category=categorise(str(check.get("name")), uri, body),
                    detail=(detail + " → " + _content(response)[:300]).strip(),
                )


def run(gateway: str, token: str, work: Path) -> tuple[list[Finding], list[Finding], str]:
    """Fuzz the gateway; (failing findings, tolerated findings, how it went)."""
    schemathesis = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    reports = work / "schemathesis"
    command = [
        schemathesis,
        "run",
        f"{gateway}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-time",
        str(MAX_TIME_S),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--report",
        "ndjson",
        "--report-dir",
        str(reports),
        "--no-color",
    ]
    for operation in EXCLUDED_OPERATIONS:
        command += ["--exclude-operation-id", operation]
    if os.environ.get("PILNVEIDE_FUZZ_SEED"):
        command += ["--seed", os.environ["PILNVEIDE_FUZZ_SEED"]]
    # In the work folder: schemathesis keeps a .schemathesis/ cache in its working directory.
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work)
    summary = "\n".join(
        line
        for line in done.stdout.splitlines()
        if re.match(r"\s*(Seed|Test cases|\d+ generated|=+ .* in )", line)
    )
    streams = sorted(reports.glob("*.ndjson"))
    if not streams:
        failure = Finding(
            "schemathesis",
            "did not run",
            None,
            "",
            "other",
            done.stdout[-2000:] + done.stderr[-2000:],
        )
        return [failure], [], summary
    allowed = tolerated()
    failing: list[Finding] = []
    known: list[Finding] = []
    seen: set[tuple[str, str, int | None, str]] = set()
    for finding in findings(streams[-1]):
        # The same failure found again in a later phase is listed once.
        key = (finding.operation, finding.check, finding.status, finding.category)
        if key in seen:
            continue
        seen.add(key)
        (known if finding.category in allowed else failing).append(finding)
    return failing, known, summary
