"""The ADL xAPI LRS conformance test suite, run against the gateway's /xapi.

The suite's source is vendored next to the repository (`../shared/vendor/lrs-conformance-test-suite`,
MIT licence) and may be read-only: it is copied to a temporary folder and its npm dependencies
installed there (`npm install --ignore-scripts`), with node_modules cached across runs under
the user's cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITE_NAME = "lrs-conformance-test-suite"
VERSIONS = ("1.0.3", "2.0.0")
#: How long one version's run may take before it is stopped.
RUN_TIMEOUT_S = 900
#: How often the suite's running summary is echoed.
PROGRESS_EVERY_S = 60.0


class SuiteUnavailable(RuntimeError):
    """The vendored suite, node or npm is missing."""


def find_suite(root: Path) -> Path | None:
    """The vendored suite: ADL_SUITE_DIR, else `shared/vendor/` beside the repository (or beside
    one of its parent folders, for a git worktree kept below the main checkout)."""
    configured = os.environ.get("ADL_SUITE_DIR")
    if configured:
        return Path(configured) if (Path(configured) / "package.json").is_file() else None
    for folder in root.parents:
        candidate = folder / "shared" / "vendor" / SUITE_NAME
        if (candidate / "package.json").is_file():
            return candidate
    return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pilnveide" / "adl-suite"


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SuiteUnavailable("node is not installed (the ADL suite runs on Node.js)") from exc


def prepare(source: Path, work: Path) -> tuple[Path, str]:
    """A writable copy of the suite with its dependencies installed; how they were obtained."""
    copy = work / SUITE_NAME
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("node_modules", "logs"))
    key = hashlib.sha256(
        (source / "package.json").read_bytes() + _node_version().encode()
    ).hexdigest()[:16]
    cached = _cache_dir() / key / "node_modules"
    if cached.is_dir():
        shutil.copytree(cached, copy / "node_modules", symlinks=True)
        return copy, f"node_modules from the cache {cached}"
    if shutil.which("npm") is None:
        raise SuiteUnavailable("npm is not installed (the ADL suite needs its npm dependencies)")
    install = subprocess.run(
        ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        raise SuiteUnavailable(f"npm install failed:\n{install.stdout}\n{install.stderr}")
    # Keep a copy for the next run (renamed into place, so a concurrent run never sees half of
    # one); failing to cache costs only speed.
    staging = cached.parent.parent / f"node_modules.{os.getpid()}"
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(copy / "node_modules", staging, symlinks=True)
        staging.rename(cached)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return copy, "npm install --ignore-scripts"


@dataclass
class Outcome:
    """One version's run: its last summary line and the failed tests."""

    version: str
    summary: dict[str, Any] | None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output_tail: str = ""

    @property
    def passed(self) -> bool:
        """Every test passed (and the suite ran some)."""
        return (
            self.summary is not None
            and self.summary.get("failed") == 0
            and self.summary.get("total", 0) > 0
            and self.summary.get("passed") == self.summary.get("total")
        )


def _summary(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not (line.startswith("{") and '"total"' in line):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _failed_tests(log: dict[str, Any], trail: tuple[str, ...] = ()) -> list[str]:
    title = str(log.get("title") or "").strip()
    here = (*trail, title) if title else trail
    children = [t for t in log.get("tests") or [] if isinstance(t, dict)]
    if log.get("status") != "failed":
        return []
    nested = [f for child in children for f in _failed_tests(child, here)]
    if nested:
        return nested
    error = str(log.get("error") or "").strip().splitlines()
    return [" > ".join(here[-2:]) + (f"\n      {error[0][:300]}" if error else "")]


def run_version(suite: Path, endpoint: str, user: str, secret: str, version: str) -> Outcome:
    """Run the suite for one xAPI version against endpoint with HTTP Basic credentials."""
    logs = suite / "logs"
    before = set(logs.glob("*.log")) if logs.is_dir() else set()
    started = time.monotonic()
    process = subprocess.Popen(
        [
            "node",
            "bin/console_runner.js",
            "-e",
            endpoint,
            "-a",
            "-u",
            user,
            "-p",
            secret,
            "-x",
            version,
            "-z",
        ],
        cwd=suite,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    summary: dict[str, Any] | None = None
    tail: list[str] = []
    echoed = started
    for line in process.stdout:
        tail = [*tail[-40:], line]
        parsed = _summary(line)
        if parsed is not None:
            summary = parsed
            if time.monotonic() - echoed >= PROGRESS_EVERY_S:
                echoed = time.monotonic()
                print(f"[adl {version}] {line.strip()}", flush=True)
        if time.monotonic() - started > RUN_TIMEOUT_S:
            process.kill()
            break
    process.wait()
    outcome = Outcome(version, summary, seconds=time.monotonic() - started)
    outcome.output_tail = "".join(tail)
    for path in sorted(set(logs.glob("*.log")) - before) if logs.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record.get("log"), dict):
            outcome.failures += _failed_tests(record["log"])
    return outcome
