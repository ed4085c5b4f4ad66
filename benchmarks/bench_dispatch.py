"""Dispatch benchmark: STAT insertion latency, full re-plan time and plan quality vs greedy.

Usage: python benchmarks/bench_dispatch.py [--tasks 200 --robots 50 ...]   (same options as
``hospital-ops bench dispatch``). Writes benchmarks/results/dispatch.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scheduler.cli import app  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--json" not in args:
        args += ["--json", str(HERE / "results" / "dispatch.json")]
    app(["dispatch", *args])
