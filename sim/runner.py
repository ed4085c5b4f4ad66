"""Replications, in parallel, and their summary: means with 95 % t-intervals across replications.

Parallelism lives here only. Replication ``r`` of a scenario always draws from the same random
streams (see :mod:`sim.streams`), wherever it runs: in this process, in a local process pool
(``concurrent.futures.ProcessPoolExecutor``) or on a Dask cluster. Two policies run on the same
replication numbers therefore see the same demand (common random numbers) and
:func:`paired_differences` compares them pair by pair.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from sim.model import RunResult, run_replication
from sim.scenario import Scenario

Progress = Callable[[RunResult], None]


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean across replications and its 95 % confidence interval (Student t, n − 1 d.f.)."""

    mean: float
    ci95_low: float | None
    ci95_high: float | None
    n: int
    sd: float

    def as_json(self) -> dict[str, float | None]:
        return {"mean": _num(self.mean), "ci95_low": _num(self.ci95_low), "ci95_high": _num(self.ci95_high)}

    @property
    def half_width(self) -> float:
        if self.ci95_low is None or self.ci95_high is None:
            return float("nan")
        return (self.ci95_high - self.ci95_low) / 2


def _num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)


def estimate(values: Iterable[float]) -> Estimate:
    """Mean and t-interval of the finite values (an interval needs at least two)."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(arr)
    if n == 0:
        return Estimate(float("nan"), None, None, 0, float("nan"))
    mean = float(arr.mean())
    if n < 2:
        return Estimate(mean, None, None, 1, float("nan"))
    sd = float(arr.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, sd)


def summarise(results: Sequence[RunResult]) -> dict[str, Estimate]:
    """Every KPI's mean and 95 % CI across the replications."""
    names: list[str] = []
    for r in results:
        for k in r.kpis:
            if k not in names:
                names.append(k)
    return {k: estimate(r.kpis.get(k, float("nan")) for r in results) for k in names}


def paired_differences(a: Sequence[RunResult], b: Sequence[RunResult]) -> dict[str, Estimate]:
    """KPI differences ``a − b`` replication by replication (common random numbers), with t-CIs."""
    by_rep = {r.replication: r for r in b}
    pairs = [(x, by_rep[x.replication]) for x in a if x.replication in by_rep]
    names = [k for k in a[0].kpis if k in b[0].kpis] if a and b else []
    return {k: estimate(x.kpis[k] - y.kpis[k] for x, y in pairs) for k in names}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _job(scenario: Scenario, replication: int, policy: str | None) -> RunResult:
    return run_replication(scenario, replication, policy)


def run_jobs(
    jobs: Sequence[tuple[Scenario, int, str | None]],
    *,
    workers: int | None = None,
    dask: Any = None,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Run ``(scenario, replication, policy)`` jobs; results in job order.

    ``dask``: a scheduler address (``tcp://…``), a ``distributed.Client`` or a cluster; else a local
    process pool of ``workers`` processes (``workers=1``: in this process, no pool).
    """
    results: list[RunResult | None] = [None] * len(jobs)
    if dask is not None:
        from distributed import Client

        own = not isinstance(dask, Client)
        client = Client(dask) if own else dask
        try:
            futures = [client.submit(_job, *job, pure=False) for job in jobs]
            index = {f.key: i for i, f in enumerate(futures)}
            from distributed import as_completed as dask_completed

            for fut in dask_completed(futures):
                res = fut.result()
                results[index[fut.key]] = res
                if progress:
                    progress(res)
        finally:
            if own:
                client.close()
    elif (workers or default_workers()) <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            res = _job(*job)
            results[i] = res
            if progress:
                progress(res)
    else:
        with ProcessPoolExecutor(max_workers=min(workers or default_workers(), len(jobs))) as pool:
            futs = {pool.submit(_job, *job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futs):
                res = fut.result()
                results[futs[fut]] = res
                if progress:
                    progress(res)
    return [r for r in results if r is not None]


def run_replications(
    scenario: Scenario,
    replications: int,
    *,
    policy: str | None = None,
    workers: int | None = None,
    dask: Any = None,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Replications 0..n−1 of ``scenario`` (with ``policy`` instead of the scenario's, if given)."""
    if replications < 1:
        raise ValueError(f"replications: need at least 1, got {replications}")
    jobs = [(scenario, r, policy) for r in range(replications)]
    return run_jobs(jobs, workers=workers, dask=dask, progress=progress)


# ---- capacity sweep ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapacityCell:
    demand: float
    robots: int
    stat_on_time: Estimate
    utilisation: Estimate
    backlog_end: Estimate
    throughput_ratio: Estimate
    turnaround_p90_stat: Estimate
    #: The robots kept up (see :func:`cell_stable`).
    stable: bool


def cell_stable(results: Sequence[RunResult]) -> bool:
    """Stable if, on average over replications, the fleet ended the run with less than half an
    hour's requests still waiting for pickup (at least 5) and was busy less than 95 % of the time.
    An unstable queue grows without bound; in a finite run it shows as a growing pickup backlog."""
    backlog = estimate(r.kpis["backlog_tasks_end"] for r in results).mean
    per_hour = estimate(r.kpis["requests_per_day"] / 24.0 for r in results).mean
    busy = estimate(r.kpis["robot_utilisation"] for r in results).mean
    if not math.isfinite(busy):  # no robots at all
        return backlog < 5.0
    return backlog < max(5.0, 0.5 * per_hour) and busy < 0.95


def capacity_sweep(
    scenario: Scenario,
    demands: Sequence[float],
    fleets: Sequence[int],
    replications: int,
    *,
    workers: int | None = None,
    dask: Any = None,
    progress: Progress | None = None,
) -> list[CapacityCell]:
    """Every demand multiplier × fleet size, ``replications`` each (common random numbers)."""
    variants = {
        (d, n): scenario.replace(**{"demand.multiplier": float(d), "fleet.robots": int(n)})
        for d in demands
        for n in fleets
    }
    keys = list(variants)
    jobs = [(variants[key], rep, None) for key in keys for rep in range(replications)]
    results = run_jobs(jobs, workers=workers, dask=dask, progress=progress)
    cells: list[CapacityCell] = []
    for i, (d, n) in enumerate(keys):
        rs = results[i * replications : (i + 1) * replications]
        cells.append(
            CapacityCell(
                demand=float(d),
                robots=int(n),
                stat_on_time=estimate(r.kpis["stat_on_time_pct"] for r in rs),
                utilisation=estimate(r.kpis["robot_utilisation"] for r in rs),
                backlog_end=estimate(r.kpis["backlog_tasks_end"] for r in rs),
                throughput_ratio=estimate(
                    r.kpis["deliveries_per_day"] / r.kpis["requests_per_day"] if r.kpis["requests_per_day"] else 1.0
                    for r in rs
                ),
                turnaround_p90_stat=estimate(r.kpis["turnaround_p90_min_stat"] for r in rs),
                stable=cell_stable(rs),
            )
        )
    return cells


def parse_range(text: str, *, integer: bool, steps: int, name: str) -> list[float]:
    """'0.5:3.0' → ``steps`` evenly spaced values; '0.5:3.0:0.5' → that step; '1,2,3' → a list."""
    try:
        if "," in text:
            vals = [float(x) for x in text.split(",") if x.strip()]
        else:
            parts = [float(x) for x in text.split(":")]
            if len(parts) == 2:
                vals = list(np.linspace(parts[0], parts[1], steps))
            elif len(parts) == 3:
                lo, hi, step = parts
                if step <= 0:
                    raise ValueError
                vals = list(np.arange(lo, hi + step / 2, step))
            else:
                raise ValueError
    except ValueError:
        raise ValueError(f"--{name}: expected LOW:HIGH, LOW:HIGH:STEP or a comma list, got {text!r}") from None
    if not vals or any(v < 0 for v in vals):
        raise ValueError(f"--{name}: values must not be negative, got {text!r}")
    if integer:
        out = sorted({round(v) for v in vals})
        if any(v < 1 for v in out):
            raise ValueError(f"--{name}: a fleet needs at least one robot, got {text!r}")
        return [float(v) for v in out]
    return [round(float(v), 4) for v in vals]
