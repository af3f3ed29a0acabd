"""Run every benchmark under bench/ in turn (`make bench`); extra arguments go to each script.

Benchmarks print their own figures beside a baseline measured in the same run; they are never
part of the test suite (the machines are noisy, so no timing is asserted anywhere). Today:
gateway_bench.py (the gateway hop: direct vs through the gateway), indicators_bench.py,
ingest_bench.py, token_bench.py (the gateway's memory under 50 concurrent wrong secrets) and
xapi_bench.py — every bench/*_bench.py is picked up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    """Run bench/*_bench.py; exit non-zero if any of them failed."""
    failed = []
    for script in sorted(BENCH_DIR.glob("*_bench.py")):
        print(f"\n=== {script.name}", flush=True)
        result = subprocess.run([sys.executable, str(script), *sys.argv[1:]], check=False)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
