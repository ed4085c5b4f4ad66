"""Benchmark of the digital twin: cost of a 24-hour replication vs campus size, and scaling with workers.

Usage: python benchmarks/bench_sim.py [--quick]
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


def scaled(beds: int, policy: str = "ortools", horizon_h: float = 24.0) -> Scenario:
    """The default scenario on a campus of ``beds`` beds (generated like the shipped one), with the
    absolute volumes (outpatients, ED, fleet, kiosks' staff) scaled by beds / 5,037."""
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
    return sc.replace(**changes)


def one(beds: int, policy: str, replication: int) -> dict[str, float]:
    """One replication in this process; its cost and headline KPIs."""
    from sim.model import Model
    from sim.site import Site

    sc = scaled(beds, policy)
    t0 = time.perf_counter()
    site = Site.build(sc)
    site.travel.matrix(site.travel.points[:2], sc.fleet.speed_mps)  # warm the travel matrix
    setup = time.perf_counter() - t0
    res = Model(sc, replication, site=site).run()
    return {
        "beds": beds,
        "policy": policy,
        "robots": sc.fleet.robots,
        "setup_s": setup,
        **res.perf,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "requests_per_day": res.kpis["requests_per_day"],
        "checkins_per_day": res.kpis["checkins_per_day"],
        "stat_on_time_pct": res.kpis["stat_on_time_pct"],
        "robot_utilisation": res.kpis["robot_utilisation"],
    }


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
    ap.add_argument("--one", nargs=3, metavar=("BEDS", "POLICY", "REP"), help=argparse.SUPPRESS)
    ap.add_argument("--scale", nargs=3, type=int, metavar=("BEDS", "REPS", "WORKERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(int(a.one[0]), a.one[1], int(a.one[2]))))
        return 0
    if a.scale:
        print(json.dumps(scaling(*a.scale)))
        return 0

    beds_list = () if a.scaling_only else (1000,) if a.quick else BEDS
    print(f"load average before: {os.getloadavg()} (other processes on this machine slow every figure)", flush=True)
    rows = []
    for beds in beds_list:
        for policy in ("ortools", "greedy") if not a.no_greedy else ("ortools",):
            r = _child(["--one", str(beds), policy, "0"])
            rows.append(r)
            print(
                f"{beds:>5} beds {policy:>7}: {r['wall_s']:6.1f} s wall ({r['cpu_s']:.1f} s CPU) per 24 h replication "
                f"(+{r['setup_s']:.1f} s setup), {r['events']:>8,.0f} events, {r['events_per_s']:>7,.0f} ev/s, "
                f"planner {r['planner_s']:5.1f} s, {r['replans_full']:.0f} full + {r['replans_quick']:.0f} quick re-plans, "
                f"peak {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    scale_beds = 1000 if a.quick else 2500
    scale = []
    loads = []
    for w in sorted({1, min(2, cores), cores}):
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
    base = scale[0]["wall_s"]
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
        "command": "python benchmarks/bench_sim.py" + (" --quick" if a.quick else ""),
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
    path.write_text(json.dumps(out, indent=2), encoding="utf-8")
    print(f"\nwrote {HERE / 'results' / 'sim.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
