"""Li & Lim PDPTW benchmark: all 56 instances of the 100-task set at 10 s each, ours vs plain OR-Tools.

Usage: python benchmarks/bench_lilim.py [--time-limit 10 --instances lc101,... --seed 1 --jobs 2]
(same options as ``hospital-ops bench lilim``). Writes benchmarks/results/lilim.json.
With the default two workers (ours and the baseline side by side, one core each) the run takes
about 56 × 10 s ≈ 10 minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from scheduler.lilim.cli import app  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--json" not in args:
        (HERE / "results").mkdir(exist_ok=True)
        args += ["--json", str(HERE / "results" / "lilim.json")]
    if "--time-limit" not in args:
        args += ["--time-limit", "10"]
    app(["lilim", *args])
