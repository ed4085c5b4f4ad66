"""`hospital-ops fleet demo`: bring a fleet up, submit realistic tasks, wait, report.

The plain parts (task generation, the report) are here and unit-tested; :func:`run_demo` drives
the processes (robots/launcher.py), an in-process "staff" node that opens drawers with each
task's PIN, and the store (tasks go in as the REST API writes them).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hospital_ops.campus import Campus
from hospital_ops.clock import CampusClock
from hospital_ops.domain import CustodyKind, DeliveryTask, Priority, TaskStatus
from hospital_ops.store import Store
from robots.launcher import DEFAULT_LAUNCH, Supervisor, child_env, expand, load_launch
from scheduler.scenarios import campus_sites, make_task


@dataclass(frozen=True, slots=True)
class DemoTask:
    task: DeliveryTask
    pin: str


def demo_tasks(campus: Campus, n: int, now_s: int, seed: int = 0) -> list[DemoTask]:
    """``n`` realistic requests (scheduler.scenarios mix), all due now, each with its own PIN."""
    if n < 0:
        raise ValueError(f"tasks: must be >= 0, got {n}")
    rng = random.Random(seed)
    sites = campus_sites(campus)
    out = []
    for i in range(n):
        t = make_task(rng, sites, now_s, f"D{i + 1:04d}")
        span = t.deadline_s - t.earliest_s
        t = dataclasses.replace(t, earliest_s=now_s, deadline_s=now_s + span)
        out.append(DemoTask(t, f"{rng.randrange(10**5, 10**6)}"))
    return out


def turnaround(tasks: list[DeliveryTask], delivered_at: dict[str, int]) -> dict[str, dict[str, float | int]]:
    """Per priority: delivered count, mean and P95 of (delivery − request) in campus seconds."""
    out: dict[str, dict[str, float | int]] = {}
    for prio in Priority:
        xs = [delivered_at[t.id] - t.earliest_s for t in tasks if t.priority is prio and t.id in delivered_at]
        out[prio.value] = {
            "delivered": len(xs),
            "mean_s": round(float(np.mean(xs)), 1) if xs else math.nan,
            "p95_s": round(float(np.percentile(xs, 95)), 1) if xs else math.nan,
        }
    return out


def report(store: Store, tasks: list[DeliveryTask], robots: int, processes: int) -> dict[str, Any]:
    """The JSON of the demo: {"robots", "tasks", "delivered", "failed", "turnaround_s", "custody_events", "processes"}."""
    ids = {t.id for t in tasks}
    recs = {r.id: r for r in store.list_tasks() if r.id in ids}
    events = [e for e in store.custody_events() if e.task_id in ids]
    delivered_at = {e.task_id: e.at_s for e in events if e.kind is CustodyKind.DELIVERED}
    return {
        "robots": robots,
        "tasks": len(tasks),
        "delivered": sum(r.status is TaskStatus.DELIVERED for r in recs.values()),
        "failed": sum(r.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) for r in recs.values()),
        "turnaround_s": turnaround(tasks, delivered_at),
        "custody_events": len(events),
        "processes": processes,
    }


@dataclass
class DemoConfig:
    robots: int = 5
    tasks: int = 20
    time_scale: float = 20.0
    seed: int = 0
    timeout_s: float = 900.0
    log_dir: Path | None = None
    launch: Path = DEFAULT_LAUNCH
    policy: str = "ortools"

    def __post_init__(self) -> None:
        if self.robots < 1:
            raise ValueError(f"robots: must be at least 1, got {self.robots}")
        if self.tasks < 1:
            raise ValueError(f"tasks: must be at least 1, got {self.tasks}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale: must be positive, got {self.time_scale}")


def run_demo(
    config: DemoConfig,
    campus: Campus,
    progress: Callable[[str, int, int], None] = lambda phase, done, total: None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Bring the fleet up, submit the tasks, wait until all are delivered or failed, stop, report."""
    from robots.nodes.staff import InProcessNode, StaffNode

    log_dir = config.log_dir or Path(tempfile.mkdtemp(prefix="fleet-demo-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{log_dir / 'demo.db'}"
    store = Store.open(db_url)
    domain = int(os.environ.get("ROS_DOMAIN_ID") or random.SystemRandom().randrange(1, 101))
    clock = CampusClock.starting_now(config.time_scale)
    specs = expand(
        load_launch(config.launch),
        clock,
        robots=config.robots,
        only_ros=True,
        extra_args={"scheduler": ["--policy", config.policy]},
    )
    env = child_env(clock, HOSPITAL_OPS_DATABASE_URL=db_url, ROS_DOMAIN_ID=str(domain))
    pins: dict[str, str] = {}  # filled when the tasks are made (the staff node reads it live)
    say(f"logs and database: {log_dir}  (ROS_DOMAIN_ID={domain})")
    try:
        with Supervisor(specs, log_dir, env, say=say) as sup:
            with InProcessNode(lambda ctx: StaffNode(pins, context=ctx), domain_id=domain) as staff:
                assert isinstance(staff, StaffNode)
                deadline = time.monotonic() + 120
                while len(staff.states) < config.robots and time.monotonic() < deadline:
                    if not sup.check():
                        raise RuntimeError(f"node(s) {', '.join(sup.failed)} exited; see {log_dir}")
                    progress("starting robots", len(staff.states), config.robots)
                    time.sleep(0.2)
                progress("starting robots", len(staff.states), config.robots)
                # requested now: the turnaround does not count the stack's start-up
                items = demo_tasks(campus, config.tasks, clock.now_s(), config.seed)
                for d in items:
                    pins[d.task.id] = d.pin
                    store.add_task(d.task, actor="demo", pin=d.pin)
                ids = [d.task.id for d in items]
                deadline = time.monotonic() + config.timeout_s
                while time.monotonic() < deadline:
                    if not sup.check():
                        raise RuntimeError(f"node(s) {', '.join(sup.failed)} exited; see {log_dir}")
                    done = sum(r.status.terminal for r in store.list_tasks() if r.id in set(ids))
                    progress("delivering", done, len(ids))
                    if done == len(ids):
                        break
                    time.sleep(0.5)
                else:
                    say(f"timed out after {config.timeout_s:g} s; reporting what was done")
            processes = len(sup.running) + 1
        return report(store, [d.task for d in items], config.robots, processes)
    finally:
        store.close()
