"""Benchmark runner: solve instances with our planner and the plain OR-Tools baseline, check
every plan with the independent checker, compare with the best-known solutions.

No printing here: progress goes through a callback and the CLI renders the report.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from scheduler.lilim.checker import check
from scheduler.lilim.read import BestKnown, read_instance
from scheduler.lilim.solver import SolverParams, solve, solve_baseline

Kind = Literal["ours", "baseline"]


@dataclass(frozen=True)
class Row:
    """One solved instance; ``feasible`` is the independent checker's verdict."""

    name: str
    vehicles: int
    distance: float | None
    bks_vehicles: int
    bks_distance: float
    gap_pct: float | None
    seconds: float
    feasible: bool
    violations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        del out["violations"]
        if self.violations:
            out["violations"] = list(self.violations[:10])
        return out


@dataclass(frozen=True)
class Report:
    instances: list[Row]
    baseline: list[Row]
    summary: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": [r.to_json() for r in self.instances],
            "baseline": [r.to_json() for r in self.baseline],
            "summary": self.summary,
        }


def run_one(kind: Kind, path: Path, bks: BestKnown, time_limit: float, seed: int) -> Row:
    """Solve one instance with one planner and check the plan (runs in a worker process)."""
    inst = read_instance(path)
    if kind == "ours":
        result = solve(inst, SolverParams(time_limit=time_limit, seed=seed))
    else:
        result = solve_baseline(inst, time_limit)
    if not result.routes:
        return Row(inst.name, 0, None, bks.vehicles, bks.distance, None, result.seconds, False, ("no solution",))
    verdict = check(path.read_text(encoding="ascii"), result.routes)
    gap = 100.0 * (verdict.distance - bks.distance) / bks.distance
    return Row(
        name=inst.name,
        vehicles=verdict.vehicles,
        distance=round(verdict.distance, 4),
        bks_vehicles=bks.vehicles,
        bks_distance=bks.distance,
        gap_pct=round(gap, 3),
        seconds=round(result.seconds, 2),
        feasible=verdict.feasible,
        violations=tuple(verdict.violations),
    )


def summarize(rows: list[Row]) -> dict[str, Any]:
    """Counts at the best-known vehicle number, total vehicles, gaps (feasible plans only)."""
    ok = [r for r in rows if r.feasible and r.gap_pct is not None]
    gaps = [r.gap_pct for r in ok if r.gap_pct is not None]
    at_bks = [r for r in ok if r.vehicles == r.bks_vehicles]
    gaps_at_bks = [r.gap_pct for r in at_bks if r.gap_pct is not None]
    return {
        "instances": len(rows),
        "at_bks_vehicles": len(at_bks),
        "total_vehicles": sum(r.vehicles for r in ok),
        "bks_total_vehicles": sum(r.bks_vehicles for r in rows),
        "mean_gap_pct": round(statistics.mean(gaps), 3) if gaps else None,
        "median_gap_pct": round(statistics.median(gaps), 3) if gaps else None,
        "mean_gap_at_bks_vehicles_pct": round(statistics.mean(gaps_at_bks), 3) if gaps_at_bks else None,
        "infeasible": len(rows) - len(ok),
        "mean_seconds": round(statistics.mean(r.seconds for r in rows), 2) if rows else None,
    }


def default_jobs() -> int:
    """Worker processes: one per core, at most two (ours and the baseline side by side)."""
    return max(1, min(2, os.cpu_count() or 1))


def run_benchmark(
    paths: list[Path],
    bks: dict[str, BestKnown],
    *,
    time_limit: float,
    seed: int = 1,
    baseline: bool = True,
    jobs: int = 1,
    on_done: Callable[[Kind, Row], None] | None = None,
) -> Report:
    """Solve every instance (and the baseline, if asked) with ``jobs`` single-threaded workers."""
    tasks: list[tuple[Kind, Path]] = []
    for path in paths:
        tasks.append(("ours", path))
        if baseline:
            tasks.append(("baseline", path))
    results: dict[tuple[Kind, str], Row] = {}
    if jobs <= 1:
        for kind, path in tasks:
            row = run_one(kind, path, bks[path.stem], time_limit, seed)
            results[(kind, path.stem)] = row
            if on_done:
                on_done(kind, row)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(run_one, kind, path, bks[path.stem], time_limit, seed): (kind, path) for kind, path in tasks
            }
            for fut in as_completed(futures):
                kind, path = futures[fut]
                row = fut.result()
                results[(kind, path.stem)] = row
                if on_done:
                    on_done(kind, row)
    ours = [results[("ours", p.stem)] for p in paths]
    base = [results[("baseline", p.stem)] for p in paths] if baseline else []
    summary: dict[str, Any] = {"time_limit_s": time_limit, "seed": seed, "jobs": jobs, **summarize(ours)}
    if baseline:
        summary["baseline"] = summarize(base)
    return Report(ours, base, summary)
