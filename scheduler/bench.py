"""The dispatch benchmark (computation only; ``scheduler/cli.py`` prints and writes it).

For each snapshot (``instances`` seeds of :func:`scheduler.scenarios.snapshot`):

* **re-plan everything**: a cold :func:`scheduler.plan` (no previous plan) and a warm one (from the
  cold plan), wall time including model building and decoding;
* **STAT insertion**: a dispatcher holding the snapshot gets one new STAT task
  (``stat_trials`` times, each on a fork of the same state); wall time of ``handle(TaskAdded)``
  on the fast path (cheapest insertion + commit), whether it was placed, and its promised ETA;
* **quality**: the OR-Tools plan and the greedy (Open-RMF-style) plan of the same snapshot:
  STAT on time, total lateness, robot-km, unserved; both checked by :func:`check_plan`.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hospital_ops.domain import Priority
from scheduler.checker import check_plan
from scheduler.dispatcher import Dispatcher, TaskAdded
from scheduler.greedy import plan_greedy
from scheduler.metrics import ServiceMetrics, plan_metrics
from scheduler.params import PlannerParams
from scheduler.planner import plan
from scheduler.policy import OrToolsPolicy
from scheduler.scenarios import Sites, make_task, snapshot
from scheduler.travel import TravelTimes


@dataclass(frozen=True, slots=True)
class BenchConfig:
    tasks: int = 200
    robots: int = 50
    instances: int = 3
    stat_trials: int = 40
    time_limit_s: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("tasks", "robots", "instances", "stat_trials"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s: must be positive, got {self.time_limit_s}")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _summary(values: list[float], scale: float = 1.0, digits: int = 1) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(_pct(values, 50) * scale, digits),
        "p95": round(_pct(values, 95) * scale, digits),
        "max": round(max(values) * scale, digits) if values else 0.0,
        "mean": round(statistics.fmean(values) * scale, digits) if values else 0.0,
    }


def _quality(ms: list[ServiceMetrics]) -> dict[str, Any]:
    stat = sum(m.stat_tasks for m in ms)
    stat_ok = sum(m.stat_on_time for m in ms)
    return {
        "stat_on_time": stat_ok,
        "stat_tasks": stat,
        "stat_on_time_pct": round(100.0 * stat_ok / stat, 2) if stat else 100.0,
        "on_time_pct": round(statistics.fmean(m.on_time_pct for m in ms), 2),
        "total_lateness_s": sum(m.total_lateness_s for m in ms),
        "max_lateness_s": max(m.max_lateness_s for m in ms),
        "robot_km": round(sum(m.robot_km for m in ms), 2),
        "not_delivered": sum(m.not_delivered for m in ms),
        "mean_turnaround_s": round(statistics.fmean(m.mean_turnaround_s for m in ms), 1),
    }


def run(travel: TravelTimes, sites: Sites, config: BenchConfig, campus_name: str = "") -> dict[str, Any]:
    """Run the benchmark; returns a JSON-ready dict (see the module doc)."""
    params = PlannerParams(time_limit_s=config.time_limit_s)
    cold_s: list[float] = []
    warm_s: list[float] = []
    greedy_s: list[float] = []
    insert_s: list[float] = []
    stat_placed = stat_on_time = 0
    q_or: list[ServiceMetrics] = []
    q_warm: list[ServiceMetrics] = []
    q_gr: list[ServiceMetrics] = []
    violations: list[str] = []
    per_instance: list[dict[str, Any]] = []
    for i in range(config.instances):
        seed = config.seed + i
        problem = snapshot(travel, sites, n_tasks=config.tasks, n_robots=config.robots, seed=seed)

        t0 = time.perf_counter()
        cold = plan(problem, params, seed=seed)
        cold_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        warm = plan(problem, params.replace(previous=cold), seed=seed)
        warm_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        greedy = plan_greedy(problem)
        greedy_s.append(time.perf_counter() - t0)
        for name, p in (("ortools", cold), ("ortools-warm", warm), ("greedy", greedy)):
            report = check_plan(problem, p)
            violations.extend(f"instance {seed} {name}: {v.message}" for v in report.violations)
        m_or, m_warm, m_gr = plan_metrics(problem, cold), plan_metrics(problem, warm), plan_metrics(problem, greedy)
        q_or.append(m_or)
        q_warm.append(m_warm)
        q_gr.append(m_gr)

        # STAT insertion on the dispatcher's fast path, from the warm plan's state
        dispatcher = Dispatcher(
            travel, problem.robots, policy=OrToolsPolicy(params), now_s=problem.now_s, docks=problem.docks, seed=seed
        )
        dispatcher.load(problem.tasks)
        rng = random.Random(10_000 + seed)
        for j in range(config.stat_trials):
            fork = dispatcher.fork()
            task = make_task(rng, sites, problem.now_s, f"STAT-{seed}-{j}", priority=Priority.STAT)
            t0 = time.perf_counter()
            decision = fork.handle(TaskAdded(task, problem.now_s))
            insert_s.append(time.perf_counter() - t0)
            eta = decision.plan.eta_of(task.id)
            if eta is not None:
                stat_placed += 1
                stat_on_time += eta <= task.deadline_s
        per_instance.append(
            {
                "seed": seed,
                "cold_s": round(cold_s[-1], 3),
                "warm_s": round(warm_s[-1], 3),
                "greedy_s": round(greedy_s[-1], 3),
                "ortools": m_or.as_dict(),
                "ortools_warm": m_warm.as_dict(),
                "greedy": m_gr.as_dict(),
                "objective": {"cold": cold.objective, "warm": warm.objective, "greedy": greedy.objective},
            }
        )
    trials = config.instances * config.stat_trials
    return {
        "benchmark": "dispatch",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        },
        "campus": campus_name,
        "config": {
            "tasks": config.tasks,
            "robots": config.robots,
            "instances": config.instances,
            "stat_trials": config.stat_trials,
            "time_limit_s": config.time_limit_s,
            "seed": config.seed,
        },
        "insert_stat_ms": _summary(insert_s, 1000.0),
        "insert_stat": {
            "placed": stat_placed,
            "on_time": stat_on_time,
            "trials": trials,
            "on_time_pct": round(100.0 * stat_on_time / trials, 2),
        },
        "replan_s": {
            "cold": _summary(cold_s, 1.0, 3),
            "warm": _summary(warm_s, 1.0, 3),
            "greedy": _summary(greedy_s, 1.0, 3),
        },
        "quality": {"ortools": _quality(q_or), "ortools_warm": _quality(q_warm), "greedy": _quality(q_gr)},
        "checker": {"plans": 3 * config.instances, "violations": violations},
        "targets": {"insert_stat_p95_ms": 200, "replan_s": 2.0},
        "instances": per_instance,
    }
