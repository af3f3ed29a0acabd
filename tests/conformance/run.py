"""`make conformance`: the ADL LRS conformance suite and a bounded schemathesis run, both
against the whole system started as `make run` starts it and reached through the gateway.

    python tests/conformance/run.py            # both
    python tests/conformance/run.py --only adl # or --only fuzz

Exit code 0 only when every ADL test passes in xAPI 1.0.3 and 2.0.0 and the fuzzer finds no
failure it is told to fail on. Each phase prints how long it took.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import adl
import fuzz
from stack import DEV_ADMIN, ROOT, Stack, StackFailed

#: The LRS client the ADL suite signs in as, registered like an LMS would be.
LMS_CLIENT_ID = "adl-conformance-lms"
#: Its own rate limit, set when it is registered as an operator sets an LMS's: the suite sends
#: bursts of hundreds of requests, over the default 20/s with bursts of 100.
LMS_RATE_LIMIT = {"per_s": 500, "burst": 5000}
#: The fuzzer signs in as the development admin, which gets a limit of its own too (PATCH
#: /admin/clients/{id}), or most of what it sends would be answered 429 and go untested.
FUZZER_RATE_LIMIT = {"per_s": 500, "burst": 5000}

timings: list[tuple[str, float]] = []


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Time a phase and print it."""
    print(f"[conformance] {name}…", flush=True)
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        timings.append((name, elapsed))
        print(f"[conformance] {name}: {elapsed:.1f} s", flush=True)


def in_ci() -> bool:
    """CI sets CI=true."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_adl(stack: Stack, suite: Path, version: str) -> list[str]:
    """One xAPI version through the gateway; the problems found (empty: all passed)."""
    with phase(f"register the LMS client ({version})"):
        client_id, secret = stack.create_client(
            {
                "client_id": LMS_CLIENT_ID,
                "name": "ADL conformance suite (an LMS)",
                "scopes": ["xapi:read", "xapi:write"],
                "rate_limit": LMS_RATE_LIMIT,
            }
        )
        # The suite's -p takes an optional value: a secret starting with "-" would be read as
        # an option (and the run would end at once with "authPass must be a string").
        while secret.startswith("-"):
            secret = stack.rotate_secret(client_id)
    with phase(f"ADL suite, xAPI {version}"):
        outcome = adl.run_version(suite, f"{stack.gateway}/xapi", client_id, secret, version)
    print(f"[adl {version}] summary: {outcome.summary}", flush=True)
    if outcome.passed:
        return []
    if outcome.summary is None or outcome.summary.get("total") is None:
        return [
            f"ADL {version}: the suite printed no summary; its last output:\n{outcome.output_tail}"
        ]
    listed = "\n".join(f"    - {f}" for f in outcome.failures) or "    (no log of failures)"
    return [
        f"ADL {version}: {outcome.summary.get('failed')} of {outcome.summary.get('total')} "
        f"tests failed:\n{listed}"
    ]


def run_fuzz(stack: Stack, work: Path) -> list[str]:
    """schemathesis against the merged OpenAPI document; the problems found."""
    with phase("raise the fuzzer's rate limit"):
        stack.set_rate_limit(DEV_ADMIN[0], FUZZER_RATE_LIMIT)
    with phase("schemathesis"):
        failing, known, summary = fuzz.run(stack.gateway, stack.admin_token(), work)
    if summary:
        print(f"[fuzz] {summary}", flush=True)
    if known:
        print(
            f"[fuzz] {len(known)} tolerated findings (PILNVEIDE_FUZZ_TOLERATE="
            f"{','.join(sorted(fuzz.tolerated()))}):",
            flush=True,
        )
        for finding in known:
            print("    - " + finding.describe(), flush=True)
    if not failing:
        return []
    listed = "\n".join("    - " + finding.describe() for finding in failing)
    return [f"schemathesis: {len(failing)} failures:\n{listed}"]


def stack_for(work: Path, version: str) -> Stack:
    """A system configured for one xAPI version's suite: the 1.0.3 suite expects the LRS to
    answer 1.0.3 to a request naming no version (a 1.0-only deployment), the 2.0.0 suite 2.0.0."""
    env: dict[str, str] = {}
    if version == "1.0.3":
        env["RECORDS_XAPI_DEFAULT_VERSION"] = "1.0.3"
    return Stack(work / f"var-{version}", extra_env=env)


def _terminated(*_: object) -> None:
    raise SystemExit("[conformance] terminated")


def main(argv: list[str] | None = None) -> int:
    """Run the chosen checks; 0 when all pass."""
    # Killed (CI timeout): unwind, so every system started is stopped.
    signal.signal(signal.SIGTERM, _terminated)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("adl", "fuzz"), help="run only one of the two")
    args = parser.parse_args(argv)
    started = time.monotonic()
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pilnveide-conformance-") as temp:
        work = Path(temp)
        suite: Path | None = None
        if args.only in (None, "adl"):
            source = adl.find_suite(ROOT)
            if source is None:
                message = (
                    "The ADL LRS conformance suite is not there: expected "
                    f"{ROOT.parent / 'shared' / 'vendor' / adl.SUITE_NAME} (or ADL_SUITE_DIR)"
                )
                if in_ci():
                    print(f"[conformance] FAILED: {message}", file=sys.stderr)
                    return 1
                print(f"[conformance] skipping the ADL suite: {message}", flush=True)
            else:
                with phase("prepare the ADL suite"):
                    try:
                        suite, how = adl.prepare(source, work)
                    except adl.SuiteUnavailable as exc:
                        print(f"[conformance] FAILED: {exc}", file=sys.stderr)
                        return 1
                print(f"[conformance] ADL suite from {source} ({how})", flush=True)
        versions: tuple[str, ...] = adl.VERSIONS if suite is not None else ()
        if args.only == "fuzz" or (suite is None and args.only is None):
            versions = ("2.0.0",)
        stacks = [stack_for(work, version) for version in versions]
        # The next system starts while the current one is tested: the suite mostly waits on
        # the network, and starting is the slowest step on a busy machine.
        try:
            with ThreadPoolExecutor(max_workers=1) as starter:
                starting = starter.submit(stacks[0].start) if stacks else None
                for index, (version, stack) in enumerate(zip(versions, stacks, strict=True)):
                    try:
                        with phase(f"start the system ({version})"):
                            assert starting is not None
                            try:
                                starting.result()
                            finally:
                                if index + 1 < len(stacks):
                                    starting = starter.submit(stacks[index + 1].start)
                        if suite is not None and args.only != "fuzz":
                            problems += run_adl(stack, suite, version)
                        if version == "2.0.0" and args.only in (None, "fuzz"):
                            problems += run_fuzz(stack, work)
                    except StackFailed as exc:
                        problems.append(str(exc))
                    finally:
                        with phase(f"stop the system ({version})"):
                            stack.stop()
        finally:  # whatever happened, nothing is left running
            for stack in stacks:
                stack.stop()
    print("[conformance] times: " + ", ".join(f"{n} {s:.0f} s" for n, s in timings), flush=True)
    print(f"[conformance] total: {time.monotonic() - started:.0f} s", flush=True)
    if problems:
        print("[conformance] FAILED:\n" + "\n".join(problems), file=sys.stderr, flush=True)
        return 1
    print("[conformance] passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
