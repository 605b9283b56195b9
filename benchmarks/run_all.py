"""Run every benchmark in this folder (bench_*.py) and report which met their bounds.

Each benchmark is a standalone script: it prints its figures and exits non-zero when a bound
the issues set is missed. Run one alone with `python benchmarks/bench_<name>.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name}", flush=True)
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        if rc != 0:
            failed.append(script.name)
    print("\nall benchmarks met their bounds" if not failed else f"\nmissed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
