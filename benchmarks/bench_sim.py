"""Benchmark of the digital twin: cost of a 24-hour replication vs campus size, and scaling with workers.

Usage: python benchmarks/bench_sim.py [--quick] [--no-greedy] [--beds 1000,5037] [--candidates K]
Prints a table and writes benchmarks/results/sim.json. Each measurement runs in a fresh Python
process so its peak memory (ru_maxrss) is its own. The real scheduler (OR-Tools policy through the
product's rolling dispatcher) and the real triage engine are in the loop throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

BEDS = (1000, 2500, 5037)

if TYPE_CHECKING:
    from sim.scenario import Scenario


def scaled(beds: int, policy: str = "ortools", horizon_h: float = 24.0, candidates: int | None = None) -> Scenario:
    """The default scenario on a campus of ``beds`` beds (generated like the shipped one), with the
    absolute volumes (outpatients, ED, fleet, kiosks' staff) scaled by beds / 5,037; ``candidates``
    sets the planner's ``insertion_candidates`` (None: the scenario's own setting)."""
    from sim.scenario import load_scenario, scenario_path

    sc = load_scenario(scenario_path("default"))
    f = beds / 5037
    op = sc.demand.outpatients.per_weekday.model_dump()
    changes = {
        "name": f"default@{beds}",
        "horizon_h": horizon_h,
        "demand.outpatients.per_weekday": {k: v * f for k, v in op.items()},
        "demand.ed.arrivals_per_day": sc.demand.ed.arrivals_per_day * f,
        "fleet.robots": max(4, round(sc.fleet.robots * f)),
        "triage.nurses": max(1, round(sc.triage.nurses * f)),
        "emergency.bays": max(4, round(sc.emergency.bays * f)),
        "clinics.doctors_per_clinic": max(1, round(sc.clinics.doctors_per_clinic * f)),
        "planner.policy": policy,
    }
    if beds != 5037:
        changes["campus_beds"] = beds
    if candidates is not None:
        changes["planner.params"] = {**sc.planner.params, "insertion_candidates": candidates or None}
    return sc.replace(**changes)


def one(beds: int, policy: str, replication: int, candidates: int | None = None) -> dict[str, float]:
    """One replication in this process; its cost and headline KPIs."""
    from sim.model import Model
    from sim.site import Site

    sc = scaled(beds, policy, candidates=candidates)
    t0 = time.perf_counter()
    site = Site.build(sc)
    site.travel.matrix(site.travel.points[:2], sc.fleet.speed_mps)  # warm the travel matrix
    setup = time.perf_counter() - t0
    res = Model(sc, replication, site=site).run()
    return {
        "beds": beds,
        "policy": policy,
        "robots": sc.fleet.robots,
        "insertion_candidates": sc.planner.params.get("insertion_candidates"),
        "setup_s": setup,
        **res.perf,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "requests_per_day": res.kpis["requests_per_day"],
        "checkins_per_day": res.kpis["checkins_per_day"],
        "stat_on_time_pct": res.kpis["stat_on_time_pct"],
        "robot_utilisation": res.kpis["robot_utilisation"],
    }


def dispatch_cost(fleets=(12, 30, 60, 120), trials: int = 20, limit: int = 12) -> list[dict]:
    """CPU ms of one STAT insertion on the fast path (``quick_plan``) vs fleet size, with and without
    candidate pruning; the search (``insert_all``) timed apart from compiling and decoding."""
    import random
    import time

    from hospital_ops.campus import default_campus
    from hospital_ops.domain import Priority
    from scheduler import PlannerParams, _model, quick_plan
    from scheduler.problem import Problem
    from scheduler.scenarios import campus_sites, make_task, snapshot

    campus = default_campus()
    sites = campus_sites(campus)
    rows = []
    search = [0.0]
    original = _model.Instance.insert_all

    def timed(self, order, routes):  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        try:
            return original(self, order, routes)
        finally:
            search[0] += time.process_time() - t0

    _model.Instance.insert_all = timed  # type: ignore[method-assign]
    try:
        for n in fleets:
            base = snapshot(campus, sites, n_tasks=2 * n, n_robots=n, seed=n)
            for k in (None, limit):
                params = PlannerParams(insertion_candidates=k)
                previous = quick_plan(base, None, params, 0)
                rng = random.Random(7)
                total = 0.0
                search[0] = 0.0
                on_time = 0
                for j in range(trials):
                    task = make_task(rng, sites, base.now_s, f"STAT-{j}", priority=Priority.STAT)
                    problem = Problem((*base.tasks, task), base.robots, base.now_s, base.travel, base.docks)
                    t0 = time.process_time()
                    plan = quick_plan(problem, previous, params, 0)
                    total += time.process_time() - t0
                    eta = plan.eta_of(task.id)
                    on_time += eta is not None and eta <= task.deadline_s
                rows.append(
                    {
                        "robots": n,
                        "tasks": 2 * n,
                        "insertion_candidates": k,
                        "quick_plan_ms": 1000 * total / trials,
                        "search_ms": 1000 * search[0] / trials,
                        "stat_on_time": on_time,
                        "trials": trials,
                    }
                )
    finally:
        _model.Instance.insert_all = original  # type: ignore[method-assign]
    return rows


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(beds: int, reps: int, workers: int) -> dict[str, float]:
    """Wall time of ``reps`` replications on ``workers`` local processes."""
    from sim.runner import run_replications

    sc = scaled(beds)
    t0 = time.perf_counter()
    c0 = time.process_time()
    run_replications(sc, reps, workers=workers)
    wall = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + children.ru_utime + children.ru_stime
    return {
        "beds": beds,
        "replications": reps,
        "workers": workers,
        "wall_s": wall,
        "cpu_s": cpu,
        "cores_used": cpu / wall,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the 1,000-bed campus")
    ap.add_argument("--no-greedy", action="store_true", help="skip the greedy baseline (slow on large campuses)")
    ap.add_argument("--scaling-only", action="store_true", help="only the workers scaling measurement")
    ap.add_argument("--beds", help="comma-separated campus sizes (default 1000,2500,5037)")
    ap.add_argument(
        "--candidates",
        type=int,
        help="planner insertion_candidates for the per-replication runs (0 = off, every robot); "
        "default: the scenario's setting",
    )
    ap.add_argument(
        "--dispatch",
        action="store_true",
        help="only the fast path's cost per STAT insertion vs fleet size (12/30/60/120 robots), "
        "with and without --candidates (default 12)",
    )
    ap.add_argument("--one", nargs=3, metavar=("BEDS", "POLICY", "REP"), help=argparse.SUPPRESS)
    ap.add_argument("--scale", nargs=3, type=int, metavar=("BEDS", "REPS", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(int(a.one[0]), a.one[1], int(a.one[2]), a.candidates)))
        return 0
    if a.scale:
        print(json.dumps(scaling(*a.scale)))
        return 0
    if a.dispatch:
        rows = dispatch_cost(limit=a.candidates or 12, trials=40)
        print(
            "| robots | open tasks | insertion_candidates | fast path ms / STAT | of which search ms | STAT on time |"
        )
        print("|---:|---:|---|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['robots']} | {r['tasks']} | {r['insertion_candidates'] or 'off'} | {r['quick_plan_ms']:.2f} "
                f"| {r['search_ms']:.2f} | {r['stat_on_time']}/{r['trials']} |"
            )
        path = HERE / "results" / "sim.json"
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            data["dispatch_cost"] = rows
            data["dispatch_cost_date"] = datetime.now(UTC).isoformat(timespec="seconds")
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return 0

    beds_list = (
        () if a.scaling_only else (1000,) if a.quick else tuple(int(b) for b in a.beds.split(",")) if a.beds else BEDS
    )
    extra = ["--candidates", str(a.candidates)] if a.candidates is not None else []
    print(f"load average before: {os.getloadavg()} (other processes on this machine slow every figure)", flush=True)
    rows = []
    for beds in beds_list:
        for policy in ("ortools", "greedy") if not a.no_greedy else ("ortools",):
            r = _child(["--one", str(beds), policy, "0", *extra])
            rows.append(r)
            print(
                f"{beds:>5} beds {policy:>7}: {r['wall_s']:6.1f} s wall ({r['cpu_s']:.1f} s CPU) per 24 h replication "
                f"(+{r['setup_s']:.1f} s setup), {r['events']:>8,.0f} events, {r['events_per_s']:>7,.0f} ev/s, "
                f"planner {r['planner_s']:5.1f} s, {r['replans_full']:.0f} full + {r['replans_quick']:.0f} quick re-plans, "
                f"peak {r['peak_rss_mb']:.0f} MB, STAT on time {r['stat_on_time_pct']:.1f} %, "
                f"insertion_candidates {r['insertion_candidates']}",
                flush=True,
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    scale_beds = 1000 if a.quick else 2500
    scale = []
    loads = []
    for w in sorted({1, min(2, cores), cores}) if not a.beds else ():
        loads.append(os.getloadavg()[0])
        s = _child(["--scale", str(scale_beds), str(2 * cores), str(w)])
        scale.append(s)
        s["load_average_before"] = loads[-1]
        print(
            f"{s['replications']} replications of {scale_beds} beds on {w} worker(s): {s['wall_s']:.1f} s wall, "
            f"{s['cpu_s']:.1f} CPU s = {s['cores_used']:.2f} cores busy (load average before: {loads[-1]:.1f})",
            flush=True,
        )

    print()
    print(
        "| beds | policy | robots | wall s / 24 h replication | CPU s | events | events/CPU s | planner s "
        "| full re-plans | quick re-plans | peak MB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['beds']:,} | {r['policy']} | {r['robots']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['events']:,.0f} "
            f"| {r['events'] / r['cpu_s']:,.0f} "
            f"| {r['planner_s']:.1f} | {r['replans_full']:.0f} | {r['replans_quick']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    base = scale[0]["wall_s"] if scale else 1.0
    print()
    print("| workers | replications | wall s | speed-up | CPU s | cores actually used | load average before |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s in scale:
        print(
            f"| {s['workers']} | {s['replications']} | {s['wall_s']:.1f} | {base / s['wall_s']:.2f} | {s['cpu_s']:.1f} "
            f"| {s['cores_used']:.2f} | {s['load_average_before']:.1f} |"
        )

    out = {
        "benchmark": "sim",
        "load_average_at_end": os.getloadavg(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cores": cores},
        "command": "python " + " ".join(["benchmarks/bench_sim.py", *sys.argv[1:]]),
        "replication": "default scenario scaled to the campus; 2 h warm-up + 24 h measured (26 simulated hours)",
        "per_replication": rows,
        "scaling": scale,
    }
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / "sim.json"
    if a.scaling_only and path.exists():  # keep the per-replication figures of the last full run
        previous = json.loads(path.read_text(encoding="utf-8"))
        previous["scaling"] = scale
        previous["scaling_date"] = out["date"]
        out = previous
    elif a.beds and path.exists():  # keep the workers scaling of the last full run
        previous = json.loads(path.read_text(encoding="utf-8"))
        out["scaling"] = previous.get("scaling", [])
        out["scaling_date"] = previous.get("scaling_date", previous.get("date"))
    path.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"\nwrote {HERE / 'results' / 'sim.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
