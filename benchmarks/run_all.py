"""Run every benchmark in this folder (``make bench``): each prints its table and writes its JSON.

Usage: python benchmarks/run_all.py [NAME ...]   (NAME = lilim, dispatch, identity, sim, ros, live, ...)
Benchmarks are never part of the test suite; results go to benchmarks/results/*.json and are
summarised by hand in docs/benchmarks.md with the command, the machine and the date.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem.removeprefix("bench_") in wanted)
    if not scripts:
        print(
            f"no benchmark matches {sorted(wanted)}; available: "
            f"{sorted(p.stem.removeprefix('bench_') for p in HERE.glob('bench_*.py'))}"
        )
        return 2
    failed: list[str] = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"--- {script.stem}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
