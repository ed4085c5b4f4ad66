"""A twin run as a time series the operations dashboard can replay (``replay.json``).

``hospital-ops sim run`` writes ``results.json`` with the KPI means only; the hourly series it
plots stay in memory. This module runs the same replications and writes what the dashboard's
"Twin replay" panel plays back hour by hour::

    python -m sim.replay_export --scenario small --replications 2 --out var/replay.json

Format (``"format": "hospital-ops.replay/1"``): ``start_h`` (clock hour of the first point, may
exceed 24 for multi-day runs), ``step_s`` (3600), ``series`` {name: [hourly mean across
replications]} and ``kpis`` {name: {mean, ci95_low, ci95_high}} as in ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.model import RunResult
from sim.runner import summarise
from sim.scenario import Scenario

FORMAT = "hospital-ops.replay/1"


def _clean(x: float) -> float | None:
    return round(float(x), 3) if math.isfinite(float(x)) else None


def replay_json(scenario: Scenario, results: Sequence[RunResult]) -> dict[str, Any]:
    """The replay document of ``results`` (replications of ``scenario``): mean series per hour."""
    if not results:
        raise ValueError("results: need at least one replication to export")
    names: list[str] = []
    for r in results:
        names.extend(n for n in r.series if n not in names)
    series: dict[str, list[float | None]] = {}
    for name in names:
        arrs = [np.asarray(r.series.get(name, []), dtype=float) for r in results]
        arrs = [a for a in arrs if len(a)]
        if not arrs:
            continue
        n = min(len(a) for a in arrs)
        series[name] = [_clean(v) for v in np.mean([a[:n] for a in arrs], axis=0)]
    return {
        "format": FORMAT,
        "scenario": scenario.name,
        "replications": len(results),
        "policy": results[0].policy,
        "start_h": (scenario.start_offset_s + scenario.warmup_s) / 3600.0,
        "step_s": 3600,
        "series": series,
        "kpis": {k: e.as_json() for k, e in summarise(results).items()},
    }


def write_replay(path: Path, scenario: Scenario, results: Sequence[RunResult]) -> dict[str, Any]:
    data = replay_json(scenario, results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, allow_nan=False), encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    from sim.runner import run_replications
    from sim.scenario import ScenarioError, load_scenario, scenario_path

    p = argparse.ArgumentParser(prog="python -m sim.replay_export", description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="small", help="shipped scenario name or YAML file (default: small)")
    p.add_argument("-n", "--replications", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("replay.json"))
    args = p.parse_args(argv)
    try:
        sc = load_scenario(scenario_path(args.scenario))
        results = run_replications(sc, args.replications, workers=args.workers)
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = write_replay(args.out, sc, results)
    print(f"wrote {args.out}: {len(data['series'])} series × {max(map(len, data['series'].values()), default=0)} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
